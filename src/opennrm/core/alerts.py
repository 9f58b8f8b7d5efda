"""Alert texts per kind, translated when shown. Apps add their kinds here (core is imported by all)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

TEMPLATES = {
    "decision_overdue": _(
        "%(reference)s: the identification decision was due on %(deadline)s and is overdue."
    ),
    "stay_ending": _("%(reference)s: the shelter stay reaches its limit on %(date)s."),
    "referral_received": _("%(reference)s: a new referral for %(service)s."),
    "inspection_referral": _(
        "%(reference)s: a labour inspection in %(region)s referred a presumed victim of forced labour."
    ),
    "inspection_notification": _(
        "A labour inspection in %(region)s found a presumed victim of forced labour who did not consent to a "
        "referral: anonymous notification %(reference)s."
    ),
}


def render(kind: str, params: dict[str, Any]) -> str:
    template = TEMPLATES.get(kind)
    if template is None:
        return kind
    try:
        return str(template) % params
    except (KeyError, TypeError, ValueError):
        return kind
