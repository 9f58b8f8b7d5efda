"""Case statuses change only through this table."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from opennrm.cases.choices import CaseStatus as S
from opennrm.core.errors import DomainError

TRANSITIONS: dict[S, set[S]] = {
    S.REFERRED: {S.SCREENED, S.DECISION_PENDING, S.CLOSED},
    S.SCREENED: {S.SCREENED, S.DECISION_PENDING, S.CLOSED},
    # A pending decision is decided; a case is not closed under the decision maker's feet.
    S.DECISION_PENDING: {S.IDENTIFIED, S.NOT_IDENTIFIED},
    S.IDENTIFIED: {S.DECISION_PENDING, S.CLOSED},  # renewal of a time-limited status
    S.NOT_IDENTIFIED: {S.DECISION_PENDING, S.CLOSED},  # appeal
    S.CLOSED: {S.REFERRED, S.SCREENED, S.IDENTIFIED, S.NOT_IDENTIFIED},  # reopening
}


def check_transition(current: str, target: str) -> None:
    if S(target) not in TRANSITIONS[S(current)]:
        raise DomainError(
            _("A case that is “%(current)s” cannot become “%(target)s”.")
            % {"current": S(current).label, "target": S(target).label},
            code="invalid_transition",
        )
