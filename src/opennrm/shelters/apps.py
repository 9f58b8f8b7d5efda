from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SheltersConfig(AppConfig):
    name = "opennrm.shelters"
    label = "shelters"
    verbose_name = _("Shelters")

    def ready(self) -> None:
        from opennrm.core import scheduler
        from opennrm.core.panels import register
        from opennrm.shelters.panels import case_panel, home_panel
        from opennrm.shelters.tasks import CHECK_EVERY_MINUTES, notify_stays_ending

        register("case_detail", case_panel)
        register("home", home_panel)
        scheduler.every(minutes=CHECK_EVERY_MINUTES, task=notify_stays_ending)

        from opennrm.core import demo
        from opennrm.shelters.demo import build_demo_shelters

        # After the demo cases (their shelter referrals become stays) and the inspections.
        demo.register("shelters", build_demo_shelters, order=30)
