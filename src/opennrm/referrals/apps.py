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

        from opennrm.cases import services as case_services
        from opennrm.referrals.services import end_referrals_on_withdrawn_consent

        if end_referrals_on_withdrawn_consent not in case_services.consent_withdrawn_hooks:
            case_services.consent_withdrawn_hooks.append(end_referrals_on_withdrawn_consent)
