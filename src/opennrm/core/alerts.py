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
    "transnational_referral_received": _(
        "A transnational referral from %(partner)s is waiting for a decision (accept or decline)."
    ),
    "transnational_referral_answered": _("%(reference)s: %(partner)s answered the transnational referral."),
    "inspection_notification": _(
        "A labour inspection in %(region)s found a presumed victim of forced labour who did not consent to a "
        "referral: anonymous notification %(reference)s."
    ),
    "linkage_answered": _(
        "%(reference)s: %(partner)s answered whether the person is known there: %(count)s candidate(s)."
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
