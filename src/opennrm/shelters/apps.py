from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SheltersConfig(AppConfig):
    name = "opennrm.shelters"
    label = "shelters"
    verbose_name = _("Shelters")

    def ready(self) -> None:
        from opennrm.core import scheduler
        from opennrm.core.panels import register
        from opennrm.shelters.panels import case_panel
        from opennrm.shelters.tasks import CHECK_EVERY_MINUTES, notify_stays_ending

        register("case_detail", case_panel)
        scheduler.every(minutes=CHECK_EVERY_MINUTES, task=notify_stays_ending)
