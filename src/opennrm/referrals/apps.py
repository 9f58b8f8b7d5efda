from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReferralsConfig(AppConfig):
    name = "opennrm.referrals"
    label = "referrals"
    verbose_name = _("Referrals and services")

    def ready(self) -> None:
        from opennrm.core.panels import register
        from opennrm.referrals.panels import case_panel

        register("case_detail", case_panel)
