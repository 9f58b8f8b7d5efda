"""The referrals section of the case page (`core.panels` slot "case_detail")."""

from __future__ import annotations

from django.http import HttpRequest

from opennrm.accounts.access import request_access
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import CaseStatus
from opennrm.cases.models import Case
from opennrm.cases.selectors import can_do
from opennrm.core.panels import Panel


def case_panel(request: HttpRequest, case: Case) -> Panel | None:
    """The case's referrals this user may see (a provider: only those to their agency) and, for who may refer
    the case, a link to the referral form. None when there is nothing to show."""
    from opennrm.referrals.selectors import referrals_visible_to

    access = request_access(request)
    referrals = list(referrals_visible_to(access).filter(case=case).order_by("-created_at"))
    can_refer = case.status != CaseStatus.CLOSED and can_do(access, Perm.REFERRAL_SEND, case)
    if not referrals and not can_refer:
        return None
    return Panel(
        template="referrals/_case_panel.html",
        context={"case": case, "referrals": referrals, "can_refer": can_refer},
        order=50,
    )
