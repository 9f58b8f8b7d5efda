from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "opennrm.inspections"
    label = "inspections"
    verbose_name = _("Labour inspections")

    def ready(self) -> None:
        from opennrm.core.panels import register
        from opennrm.inspections.panels import case_panel

        register("case_detail", case_panel)

        from opennrm.core import demo
        from opennrm.inspections.demo import build_demo_inspections

        demo.register("inspections", build_demo_inspections, order=20)
