from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CooperationConfig(AppConfig):
    name = "opennrm.cooperation"
    label = "cooperation"
    verbose_name = _("Cross-border cooperation")

    def ready(self) -> None:
        from opennrm.cooperation.tasks import deliver_outbox
        from opennrm.core import scheduler

        scheduler.every(minutes=1, task=deliver_outbox)
