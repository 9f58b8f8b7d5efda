from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "opennrm.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        # Country profiles are data: a malformed or inconsistent file stops the start-up with a clear message,
        # and the instance's own country must exist.
        from opennrm.core.profiles import active_profile, validate_all

        validate_all()
        active_profile()
