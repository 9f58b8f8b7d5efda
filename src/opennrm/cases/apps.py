from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "opennrm.cases"
    label = "cases"
    verbose_name = _("Cases")

    def ready(self) -> None:
        from opennrm.cases.tasks import notify_overdue_decisions
        from opennrm.core import scheduler

        scheduler.every(minutes=5, task=notify_overdue_decisions)

        from opennrm.cases.views.listing import home_panel
        from opennrm.core import panels

        panels.register("home", home_panel)

        from opennrm.cases.demo import build_demo_cases
        from opennrm.core import demo

        demo.register("cases", build_demo_cases, order=10)
