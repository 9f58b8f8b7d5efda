"""The "from a labour inspection" section of the case page (`core.panels` slot "case_detail").

The case page is shown only to users who may see the case; this section adds where the case came from: the date,
region and sector of the inspection and the worker's pseudonym, never the employer. The inspection is linked only
for a user who may see it."""

from __future__ import annotations

from django.http import HttpRequest

from opennrm.accounts.access import request_access
from opennrm.cases.choices import htcds_snake_choices
from opennrm.cases.models import Case
from opennrm.core.panels import Panel
from opennrm.core.profiles import active_profile
from opennrm.inspections import selectors
from opennrm.inspections.models import WorkerScreening


def case_panel(request: HttpRequest, case: Case) -> Panel | None:
    screening = (
        WorkerScreening.objects.filter(case=case)
        .select_related("inspection", "inspection__agency")
        .defer("inspection__employer_name", "inspection__employer_identifiers", "inspection__findings")
        .first()
    )
    if screening is None:
        return None
    inspection = screening.inspection
    try:
        region = active_profile().region_name(inspection.region)
    except LookupError:
        region = inspection.region
    linked = selectors.visible_inspections(request_access(request)).filter(pk=inspection.pk).exists()
    return Panel(
        template="inspections/_case_panel.html",
        context={
            "screening": screening,
            "inspection": inspection,
            "region": region,
            "sector": dict(htcds_snake_choices("vic_ForcedLabourIndustry")).get(
                inspection.sector, inspection.sector
            ),
            "linked": linked,
        },
        order=40,
    )
