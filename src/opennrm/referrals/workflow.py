"""Referral statuses change only through this table.

pending → accepted / declined / withdrawn; accepted → completed / withdrawn. Declined, completed and withdrawn
are final: a new need is a new referral.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from opennrm.core.errors import DomainError
from opennrm.referrals.models import ReferralStatus as S

TRANSITIONS: dict[S, set[S]] = {
    S.PENDING: {S.ACCEPTED, S.DECLINED, S.WITHDRAWN},
    S.ACCEPTED: {S.COMPLETED, S.WITHDRAWN},
    S.DECLINED: set(),
    S.COMPLETED: set(),
    S.WITHDRAWN: set(),
}


def can_transition(current: str, target: str) -> bool:
    return S(target) in TRANSITIONS[S(current)]


def check_transition(current: str, target: str) -> None:
    if not can_transition(current, target):
        raise DomainError(
            _("A referral that is “%(current)s” cannot become “%(target)s”.")
            % {"current": S(current).label, "target": S(target).label},
            code="invalid_transition",
        )
