"""The shelter section of the case page (`core.panels` slot "case_detail"): where the person stays now and their
past stays — the shelter's name and dates, never its address."""

from __future__ import annotations

from django.http import HttpRequest

from opennrm.accounts.access import request_access
from opennrm.cases.models import Case
from opennrm.core.panels import Panel


def case_panel(request: HttpRequest, case: Case) -> Panel | None:
    """For whoever sees the case page (the case view checked it). None when the person was never placed."""
    from opennrm.shelters.selectors import can_see_placements, placements_of_case

    placements = list(placements_of_case(case.pk))
    if not placements:
        return None
    access = request_access(request)
    current = next((p for p in placements if p.is_current), None)
    rows = [{"placement": p, "link": can_see_placements(access, p.shelter)} for p in placements]
    return Panel(
        template="shelters/_case_panel.html",
        context={"case": case, "current": current, "rows": rows},
        order=55,
    )
