"""The referral workflow table: pending → accepted / declined / withdrawn; accepted → completed / withdrawn."""

from __future__ import annotations

import itertools

import pytest

from opennrm.core.errors import DomainError
from opennrm.referrals.models import ReferralStatus as S
from opennrm.referrals.workflow import TRANSITIONS, can_transition, check_transition

ALLOWED = {
    (S.PENDING, S.ACCEPTED),
    (S.PENDING, S.DECLINED),
    (S.PENDING, S.WITHDRAWN),
    (S.ACCEPTED, S.COMPLETED),
    (S.ACCEPTED, S.WITHDRAWN),
}


def test_every_status_has_a_row():
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_only_the_documented_transitions_are_allowed(current, target):
    assert can_transition(current, target) == ((current, target) in ALLOWED)
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(DomainError) as info:
            check_transition(current, target)
        assert info.value.code == "invalid_transition"
        assert str(current.label) in info.value.messages[0]
