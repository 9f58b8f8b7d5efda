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


def home_panel(request: HttpRequest, obj: object = None) -> Panel | None:
    """On the home page of shelter staff, coordinators and analysts: people placed now, stays ending soon and
    accepted referrals waiting for a place (the last two for those who act on placements)."""
    import datetime as dt

    from django.db.models import Exists, OuterRef
    from django.db.models.functions import Coalesce
    from django.utils import timezone

    from opennrm.accounts.roles import Perm
    from opennrm.referrals.models import Referral, ReferralStatus, ServiceCategory
    from opennrm.shelters.models import Placement
    from opennrm.shelters.selectors import uses_shelters, visible_placements, visible_shelters
    from opennrm.shelters.tasks import STAY_ALERT_DAYS

    access = request_access(request)
    if not uses_shelters(access):
        return None
    shelters = visible_shelters(access)
    placed = Placement.objects.filter(shelter__in=shelters, discharged_at__isnull=True).count()
    acting = access.has(Perm.SHELTER_OPERATE) or access.has(Perm.SHELTER_OVERSEE)
    ending = waiting = None
    if acting:
        current = visible_placements(access).filter(discharged_at__isnull=True)
        by = timezone.localdate() + dt.timedelta(days=STAY_ALERT_DAYS)
        ending = (
            current.annotate(limit=Coalesce("extended_until", "stay_limit")).filter(limit__lte=by).count()
        )
        if access.is_national(Perm.SHELTER_OVERSEE):
            agencies = shelters.values("agency_id")
        else:
            agencies = shelters.filter(
                agency_id__in=access.agency_ids_with(Perm.SHELTER_OPERATE)
                | access.agency_ids_with(Perm.SHELTER_OVERSEE)
            ).values("agency_id")
        waiting = (
            Referral.objects.filter(
                to_agency_id__in=agencies,
                status=ReferralStatus.ACCEPTED,
                service__category=ServiceCategory.SHELTER,
            )
            .exclude(
                Exists(Placement.objects.filter(case_id=OuterRef("case_id"), discharged_at__isnull=True))
            )
            .count()
        )
    context = {"shelters": shelters.count(), "placed": placed, "ending": ending, "waiting": waiting}
    return Panel(template="shelters/_home_panel.html", context=context, order=40)
