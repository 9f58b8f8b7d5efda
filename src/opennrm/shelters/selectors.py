"""Reads of the shelters app. Every shelter query starts from `visible_shelters(access)` and every placement query
from `visible_placements(access)`: what the user may not see answers 404, exactly like what does not exist.

Who sees what:
- shelter staff (`shelter.operate` in the shelter's agency): their shelters, the confidential address, the
  placements, and — while a person lives there — the minimum the shelter needs of them (given name, sex, age
  group, child, languages; read through `cases.services.read_identity`, audited). Nothing else of the case.
- coordinators (`shelter.oversee`; national scope: every shelter, otherwise the shelters of their agency): the
  shelters, the address, the placements (case reference, dates, limits), occupancy; no identity.
- analysts (`stats.view`): the shelters' public facts (name, agency, region, places, accessibility) and occupancy
  now and over time. No address, no placement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from opennrm.accounts.access import Access, access_for
from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases.services import read_identity
from opennrm.core import audit
from opennrm.referrals.models import Referral, ReferralStatus, ServiceCategory
from opennrm.shelters.models import Category, Placement, Shelter

# What shelter staff are shown of a resident: person fields (read through `read_identity`, audited) and case
# fields. Nothing else of the person or the case (no family name, date of birth, documents, narrative ...).
RESIDENT_PERSON_FIELDS = ("given_name", "sex", "languages")
RESIDENT_CASE_FIELDS = ("age_group", "is_child")

# --- who may do what ----------------------------------------------------------------------------------------


def operates(access: Access, shelter: Shelter) -> bool:
    """Staff of the shelter's agency who admit, transfer and discharge."""
    return shelter.agency_id in access.agency_ids_with(Perm.SHELTER_OPERATE)


def oversees(access: Access, shelter: Shelter) -> bool:
    """A coordinator whose scope reaches the shelter (national: every shelter; else their agency's)."""
    return access.is_national(Perm.SHELTER_OVERSEE) or shelter.agency_id in access.agency_ids_with(
        Perm.SHELTER_OVERSEE
    )


def oversees_nationally(access: Access) -> bool:
    return access.is_national(Perm.SHELTER_OVERSEE)


def sees_national_occupancy(access: Access) -> bool:
    return access.is_national(Perm.SHELTER_OVERSEE) or access.has(Perm.STATS_VIEW)


def can_read_address(access: Access, shelter: Shelter) -> bool:
    return operates(access, shelter) or oversees(access, shelter)


def can_see_placements(access: Access, shelter: Shelter) -> bool:
    return operates(access, shelter) or oversees(access, shelter)


def can_admit(access: Access, shelter: Shelter) -> bool:
    return shelter.is_active and (operates(access, shelter) or oversees(access, shelter))


def uses_shelters(access: Access) -> bool:
    """Whether the shelters section means anything to this user (for the navigation)."""
    return any(access.has(p) for p in (Perm.SHELTER_OPERATE, Perm.SHELTER_OVERSEE, Perm.STATS_VIEW))


# --- shelters --------------------------------------------------------------------------------------------------


def visible_shelters(access: Access) -> QuerySet[Shelter]:
    shelters = Shelter.objects.select_related("agency").defer("address")
    if access.has(Perm.STATS_VIEW) or access.is_national(Perm.SHELTER_OVERSEE):
        return shelters
    agencies = access.agency_ids_with(Perm.SHELTER_OPERATE) | access.agency_ids_with(Perm.SHELTER_OVERSEE)
    if not agencies:
        return Shelter.objects.none()
    return shelters.filter(agency_id__in=agencies)


def manageable_shelters(access: Access) -> QuerySet[Shelter]:
    """Shelters whose facts (name, places, address ...) the user may change: coordinators only."""
    if access.is_national(Perm.SHELTER_OVERSEE):
        return Shelter.objects.select_related("agency")
    agencies = access.agency_ids_with(Perm.SHELTER_OVERSEE)
    return Shelter.objects.select_related("agency").filter(agency_id__in=agencies)


def read_address(*, actor: User, shelter: Shelter, via: str = "page") -> str:
    """The confidential address, for the shelter's staff and coordinators; the read is audited."""
    if not can_read_address(access_for(actor), shelter):
        raise PermissionDenied
    fresh = Shelter.objects.only("address").get(pk=shelter.pk)
    audit.record_read(
        actor=actor, target=shelter, fields=["address"], action="shelter.address_read", details={"via": via}
    )
    return fresh.address


# --- placements ----------------------------------------------------------------------------------------------

_PLACEMENT_RELATED = ("shelter", "shelter__agency", "case", "referral", "referral__service")
_SKIPPED = ("shelter__address", "case__narrative", "case__guardian")


def visible_placements(access: Access) -> QuerySet[Placement]:
    """Placements of shelters the user operates or oversees."""
    placements = Placement.objects.select_related(*_PLACEMENT_RELATED).defer(*_SKIPPED)
    if access.is_national(Perm.SHELTER_OVERSEE):
        return placements
    agencies = access.agency_ids_with(Perm.SHELTER_OPERATE) | access.agency_ids_with(Perm.SHELTER_OVERSEE)
    if not agencies:
        return Placement.objects.none()
    return placements.filter(shelter__agency_id__in=agencies)


def current_placements(shelter: Shelter) -> QuerySet[Placement]:
    return (
        Placement.objects.filter(shelter=shelter, discharged_at__isnull=True)
        .select_related("case", "shelter")
        .defer(*_SKIPPED)
        .order_by("admitted_at")
    )


def current_placement_of(case_id: int) -> Placement | None:
    return (
        Placement.objects.filter(case_id=case_id, discharged_at__isnull=True)
        .select_related("shelter", "shelter__agency")
        .defer("shelter__address")
        .first()
    )


def placements_of_case(case_id: int) -> QuerySet[Placement]:
    return (
        Placement.objects.filter(case_id=case_id)
        .select_related("shelter", "shelter__agency")
        .defer("shelter__address", "discharge_note", "over_capacity_reason")
        .order_by("-admitted_at")
    )


def admissible_referrals(shelter: Shelter) -> QuerySet[Referral]:
    """Accepted shelter referrals to the shelter's agency whose person is not in a shelter now."""
    return (
        Referral.objects.filter(
            to_agency_id=shelter.agency_id,
            status=ReferralStatus.ACCEPTED,
            service__category=ServiceCategory.SHELTER,
        )
        .exclude(Exists(Placement.objects.filter(case_id=OuterRef("case_id"), discharged_at__isnull=True)))
        .select_related("case", "service")
        .defer("reason", "decline_reason", "override_justification", "case__narrative", "case__guardian")
        .order_by("responded_at")
    )


def transfer_targets(access: Access, placement: Placement) -> QuerySet[Shelter]:
    """Active shelters the user may move the person to: their own agency's (staff), any they oversee."""
    others = Shelter.objects.filter(is_active=True).exclude(pk=placement.shelter_id).select_related("agency")
    agencies = access.agency_ids_with(Perm.SHELTER_OPERATE) | access.agency_ids_with(Perm.SHELTER_OVERSEE)
    if access.is_national(Perm.SHELTER_OVERSEE):
        return others.defer("address")
    return others.filter(agency_id__in=agencies).defer("address")


def stays_ending(*, by: dt.date) -> QuerySet[Placement]:
    """For the background task: current placements whose limit is on or before `by`, not yet alerted."""
    return (
        Placement.objects.filter(discharged_at__isnull=True, stay_alert_sent_at__isnull=True)
        .annotate(limit=Coalesce("extended_until", "stay_limit"))
        .filter(limit__lte=by)
        .select_related("shelter", "case")
        .defer(*_SKIPPED)
    )


@dataclass(frozen=True)
class Resident:
    placement: Placement
    # Only for the shelter's staff while the person lives there (an audited read); None otherwise.
    given_name: str | None
    sex: str | None
    languages: list[str] = field(default_factory=list)


def resident(*, actor: User, placement: Placement, via: str = "page") -> Resident:
    """What the viewer may know of the person placed: for the shelter's staff while the stay lasts, the minimum
    the shelter needs (read through `read_identity`, audited, and the case fields it shows audited too); for
    others nothing of the person (the placement only)."""
    if not (placement.is_current and operates(access_for(actor), placement.shelter)):
        return Resident(placement=placement, given_name=None, sex=None)
    values = read_identity(actor=actor, case=placement.case, fields=RESIDENT_PERSON_FIELDS)
    audit.record_read(
        actor=actor,
        target=placement.case,
        fields=RESIDENT_CASE_FIELDS,
        action="case.read",
        details={"placement": placement.public_id, "via": via},
    )
    return Resident(
        placement=placement,
        given_name=values["given_name"],
        sex=values["sex"],
        languages=list(values["languages"] or []),
    )


def residents(*, actor: User, shelter: Shelter, via: str = "page") -> list[Resident]:
    return [resident(actor=actor, placement=p, via=via) for p in current_placements(shelter)]


def read_placement_notes(*, actor: User, placement: Placement) -> dict[str, Any]:
    """The free text of a placement (over-capacity reason, note on leaving, reasons of extension decisions):
    it may name the person, so showing it is an audited read."""
    decisions = list(placement.extension_decisions.select_related("decided_by").order_by("created_at", "id"))
    shown = [name for name in ("over_capacity_reason", "discharge_note") if getattr(placement, name)]
    if decisions:
        shown.append("extension_decisions.reason")
    if shown:
        audit.record_read(actor=actor, target=placement, fields=shown, action="placement.read")
    return {"decisions": decisions}


# --- occupancy -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occupancy:
    capacity: dict[str, int]
    occupied: dict[str, int]

    @property
    def total_capacity(self) -> int:
        return sum(self.capacity.values())

    @property
    def total_occupied(self) -> int:
        return sum(self.occupied.values())

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "category": c.value,
                "label": c.label,
                "occupied": self.occupied.get(c.value, 0),
                "capacity": self.capacity.get(c.value, 0),
                "free": max(self.capacity.get(c.value, 0) - self.occupied.get(c.value, 0), 0),
                "over": self.occupied.get(c.value, 0) > self.capacity.get(c.value, 0),
            }
            for c in Category
        ]

    @property
    def over_capacity(self) -> bool:
        return any(row["over"] for row in self.rows)


def occupied_places(shelter: Shelter, category: str) -> int:
    return Placement.objects.filter(shelter=shelter, category=category, discharged_at__isnull=True).count()


def current_occupancy(shelters: Iterable[Shelter]) -> dict[int, Occupancy]:
    """Occupancy now of each shelter, by category (one query)."""
    shelters = list(shelters)
    counts: dict[int, dict[str, int]] = {s.pk: {} for s in shelters}
    rows = (
        Placement.objects.filter(shelter_id__in=counts, discharged_at__isnull=True)
        .values("shelter_id", "category")
        .annotate(n=Count("id"))
    )
    for row in rows:
        counts[row["shelter_id"]][row["category"]] = row["n"]
    return {s.pk: Occupancy(capacity=s.capacities, occupied=counts[s.pk]) for s in shelters}


def total_occupancy(occupancies: Iterable[Occupancy], shelters: Iterable[Shelter]) -> Occupancy:
    """The sum of several shelters' occupancy; only active shelters' places count as capacity."""
    capacity = {c.value: 0 for c in Category}
    occupied = {c.value: 0 for c in Category}
    for shelter in shelters:
        if shelter.is_active:
            for key, value in shelter.capacities.items():
                capacity[key] += value
    for occupancy in occupancies:
        for key, value in occupancy.occupied.items():
            occupied[key] += value
    return Occupancy(capacity=capacity, occupied=occupied)


# Periods of the occupancy over time: how many buckets, of which length.
PERIODS = {"days": 30, "weeks": 26, "months": 12}
DEFAULT_PERIOD = "days"


@dataclass(frozen=True)
class Bucket:
    """One day, week or month: the peak number of people placed (per category and in all), and the average."""

    start: dt.date
    end: dt.date
    peak: dict[str, int]
    peak_total: int
    average_total: float
    nights: int  # person-nights in the bucket (bed-nights)

    @property
    def peak_rows(self) -> list[int]:
        return [self.peak.get(c.value, 0) for c in Category]


def _bucket_starts(period: str, today: dt.date) -> list[dt.date]:
    count = PERIODS[period]
    if period == "days":
        return [today - dt.timedelta(days=count - 1 - i) for i in range(count)]
    if period == "weeks":
        monday = today - dt.timedelta(days=today.weekday())
        return [monday - dt.timedelta(weeks=count - 1 - i) for i in range(count)]
    first = today.replace(day=1)
    starts = []
    for i in range(count - 1, -1, -1):
        month = first.month - 1 - i
        year = first.year + month // 12
        starts.append(dt.date(year, month % 12 + 1, 1))
    return starts


def occupancy_series(
    shelters: QuerySet[Shelter], *, period: str = DEFAULT_PERIOD, today: dt.date | None = None
) -> list[Bucket]:
    """Occupancy over time of these shelters together, from the placements' intervals (one query).

    A person counts on a day when they are placed at the end of it (a night in the shelter): admitted on or
    before that day and not discharged on or before it. Each bucket gives the peak of those daily counts (per
    category and in all) and their average.
    """
    if period not in PERIODS:
        raise ValueError(period)
    today = today or timezone.localdate()
    starts = _bucket_starts(period, today)
    first = starts[0]
    length = (today - first).days + 1
    zone = timezone.get_current_timezone()
    window_start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    window_end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    intervals = Placement.objects.filter(
        Q(discharged_at__isnull=True) | Q(discharged_at__gte=window_start),
        shelter__in=shelters,
        admitted_at__lt=window_end,
    ).values_list("category", "admitted_at", "discharged_at")
    # Difference arrays per category: +1 the first night in the window, -1 the day after the last.
    diff = {c.value: [0] * (length + 1) for c in Category}
    for category, admitted_at, discharged_at in intervals:
        first_night = max((timezone.localdate(admitted_at, zone) - first).days, 0)
        leaves = (
            length
            if discharged_at is None
            else min((timezone.localdate(discharged_at, zone) - first).days, length)
        )
        if first_night < leaves:
            diff[category][first_night] += 1
            diff[category][leaves] -= 1
    daily: dict[str, list[int]] = {}
    for category, steps in diff.items():
        running, values = 0, []
        for step in steps[:length]:
            running += step
            values.append(running)
        daily[category] = values
    totals = [sum(daily[c][i] for c in daily) for i in range(length)]
    buckets = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - dt.timedelta(days=1) if index + 1 < len(starts) else today
        lo, hi = (start - first).days, (end - first).days + 1
        buckets.append(
            Bucket(
                start=start,
                end=end,
                peak={c: max(daily[c][lo:hi]) for c in daily},
                peak_total=max(totals[lo:hi]),
                average_total=round(sum(totals[lo:hi]) / (hi - lo), 1),
                nights=sum(totals[lo:hi]),
            )
        )
    return buckets
