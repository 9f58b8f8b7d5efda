"""Reads of the inspections app. Every inspection query starts from `visible_inspections(access)`: an inspection
outside the user's scope does not exist for them (404), exactly like one that does not exist.

Who sees what:

- Labour inspectors (a role with `Perm.INSPECTION_RECORD` in an agency of kind labour inspection) see and act on
  the inspections of their agency (agency scope), or those they recorded or took part in (own scope), or all
  (national scope). They read the employer's identity and the findings, and each read is audited.
- National oversight (a national-scope membership whose role has both `Perm.STATS_VIEW` and `Perm.CASE_VIEW`:
  the coordinator) sees every inspection read-only, without the employer's identity and without the findings.
- Statistics (`Perm.STATS_VIEW`: coordinators and analysts) are aggregates only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import ExtractYear
from django.utils import timezone

from opennrm.accounts.access import Access
from opennrm.accounts.models import Agency, AgencyKind, Membership, User
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Scope
from opennrm.cases.choices import CaseStatus, htcds_snake_choices
from opennrm.cases.screening import Conclusion, Population
from opennrm.core.profiles import active_profile
from opennrm.inspections.models import Inspection, ScreeningStatus, WorkerScreening


def _inspector_memberships(access: Access) -> list[Membership]:
    return [
        m
        for m in access.memberships_with(Perm.INSPECTION_RECORD)
        if m.agency.kind == AgencyKind.LABOUR_INSPECTION
    ]


def oversees(access: Access) -> bool:
    """National, read-only oversight of inspections (the coordinator)."""
    return any(
        m.scope == Scope.NATIONAL and {Perm.STATS_VIEW, Perm.CASE_VIEW} <= m.permissions
        for m in access.memberships
    )


def _took_part(user_id: int | None) -> Q:
    through = Inspection.inspectors.through
    return Q(created_by_id=user_id) | Q(
        Exists(through.objects.filter(inspection_id=OuterRef("pk"), user_id=user_id))
    )


def _inspector_filter(access: Access) -> Q | None:
    condition: Q | None = None
    for membership in _inspector_memberships(access):
        if membership.scope == Scope.NATIONAL:
            return Q()
        part = (
            Q(agency_id=membership.agency_id)
            if membership.scope == Scope.AGENCY
            else _took_part(access.user_id)
        )
        condition = part if condition is None else condition | part
    return condition


def writable_inspections(access: Access) -> QuerySet[Inspection]:
    """Inspections the user may act on (and whose employer and findings they may read)."""
    condition = _inspector_filter(access)
    return Inspection.objects.none() if condition is None else Inspection.objects.filter(condition)


def visible_inspections(access: Access) -> QuerySet[Inspection]:
    if oversees(access):
        return Inspection.objects.all()
    return writable_inspections(access)


def may_list(access: Access) -> bool:
    return oversees(access) or bool(_inspector_memberships(access))


def can_act(access: Access, inspection: Inspection) -> bool:
    return writable_inspections(access).filter(pk=inspection.pk).exists()


def recording_agencies(access: Access) -> list[Agency]:
    """The labour inspection agencies the user records inspections for."""
    agencies: dict[int, Agency] = {}
    for membership in _inspector_memberships(access):
        agencies.setdefault(membership.agency_id, membership.agency)
    return sorted(agencies.values(), key=lambda a: a.name.casefold())


def inspectors_of(agencies: Iterable[Agency]) -> QuerySet[User]:
    """Active users of these agencies whose role records inspections."""
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if Perm.INSPECTION_RECORD in perms]
    members = Membership.objects.active().filter(agency__in=list(agencies), role__in=roles).values("user_id")
    return User.objects.filter(pk__in=members, is_active=True).order_by("first_name", "last_name", "username")


def visible_screenings(access: Access) -> QuerySet[WorkerScreening]:
    return WorkerScreening.objects.filter(inspection__in=visible_inspections(access))


def writable_screenings(access: Access) -> QuerySet[WorkerScreening]:
    return WorkerScreening.objects.filter(inspection__in=writable_inspections(access))


def with_counts(inspections: QuerySet[Inspection]) -> QuerySet[Inspection]:
    """Inspections with the number of workers screened and of presumed victims found (no encrypted column)."""
    done = ~Q(screenings__status=ScreeningStatus.DRAFT)
    return inspections.defer("employer_name", "employer_identifiers", "findings").annotate(
        screened=Count("screenings", filter=done),
        presumed=Count("screenings", filter=done & Q(screenings__conclusion=Conclusion.PRESUMED_VICTIM)),
        drafts=Count("screenings", filter=Q(screenings__status=ScreeningStatus.DRAFT)),
    )


# --- statistics ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    values: dict[str, int]


@dataclass(frozen=True)
class Table:
    rows: list[Row]
    total: dict[str, int]
    largest: int  # for the bars: the largest value of the first column

    @property
    def empty(self) -> bool:
        return not self.rows


@dataclass(frozen=True)
class Statistics:
    year: int
    years: list[int]
    inspections: int
    joint: int
    workers_present: int
    workers_interviewed: int
    screened: int
    drafts: int
    presumed: int
    presumed_children: int
    referred: int
    notified: int
    identified: int
    by_sector: Table
    by_region: Table
    conclusions: Table
    outcomes: Table


def years_with_inspections() -> list[int]:
    years = Inspection.objects.annotate(year=ExtractYear("date")).values_list("year", flat=True).distinct()
    return sorted({int(y) for y in years}, reverse=True)


def _table(rows: list[Row], columns: list[str]) -> Table:
    total = {column: sum(row.values.get(column, 0) for row in rows) for column in columns}
    largest = max((row.values.get(columns[0], 0) for row in rows), default=0)
    return Table(rows=rows, total=total, largest=largest)


def _per(
    inspections: QuerySet[Inspection], screenings: QuerySet[WorkerScreening], key: str, labels: dict[str, str]
) -> Table:
    """Inspections, joint inspections and workers by `key` (sector or region), and the screenings of each."""
    by_key: dict[str, dict[str, int]] = {}
    for row in (
        inspections.values(key)
        .annotate(
            inspections=Count("id"),
            joint=Count("id", filter=Q(joint_with_police=True)),
            interviewed=Sum("workers_interviewed"),
        )
        .order_by()
    ):
        by_key[row[key]] = {
            "inspections": row["inspections"],
            "joint": row["joint"],
            "interviewed": row["interviewed"] or 0,
        }
    for row in (
        screenings.values(f"inspection__{key}")
        .annotate(
            screened=Count("id"),
            presumed=Count("id", filter=Q(conclusion=Conclusion.PRESUMED_VICTIM)),
            referred=Count("id", filter=Q(status__in=[ScreeningStatus.REFERRED, ScreeningStatus.NOTIFIED])),
        )
        .order_by()
    ):
        by_key.setdefault(row[f"inspection__{key}"], {}).update(
            screened=row["screened"], presumed=row["presumed"], referred=row["referred"]
        )
    rows = [Row(k, labels.get(k, k), v) for k, v in by_key.items()]
    rows.sort(key=lambda r: (-r.values.get("inspections", 0), r.label.casefold()))
    return _table(rows, ["inspections", "joint", "interviewed", "screened", "presumed", "referred"])


def inspection_statistics(*, year: int | None = None) -> Statistics:
    """Aggregates for one year of inspections (by the date of the inspection): counts only, from ORM aggregates."""
    years = years_with_inspections()
    year = year or (years[0] if years else timezone.localdate().year)
    inspections = Inspection.objects.filter(date__year=year)
    screenings = WorkerScreening.objects.filter(inspection__date__year=year).exclude(
        status=ScreeningStatus.DRAFT
    )
    totals = inspections.aggregate(
        inspections=Count("id"),
        joint=Count("id", filter=Q(joint_with_police=True)),
        present=Sum("workers_present"),
        interviewed=Sum("workers_interviewed"),
    )
    presumed = Q(conclusion=Conclusion.PRESUMED_VICTIM)
    counts = screenings.aggregate(
        screened=Count("id"),
        presumed=Count("id", filter=presumed),
        presumed_children=Count("id", filter=presumed & Q(population=Population.CHILD)),
        referred=Count("id", filter=Q(status=ScreeningStatus.REFERRED)),
        notified=Count("id", filter=Q(status=ScreeningStatus.NOTIFIED)),
        identified=Count("id", filter=Q(status=ScreeningStatus.REFERRED, case__identified_at__isnull=False)),
    )
    drafts = WorkerScreening.objects.filter(inspection__date__year=year, status=ScreeningStatus.DRAFT).count()
    sectors = {k: str(v) for k, v in htcds_snake_choices("vic_ForcedLabourIndustry")}
    regions = dict(active_profile().region_choices())
    sent = Q(status__in=[ScreeningStatus.REFERRED, ScreeningStatus.NOTIFIED])
    by_conclusion = {
        row["conclusion"]: {"screenings": row["screenings"], "referred": row["referred"]}
        for row in screenings.values("conclusion")
        .annotate(screenings=Count("id"), referred=Count("id", filter=sent))
        .order_by()
    }
    conclusion_rows = [
        Row(value, str(label), by_conclusion.get(value, {"screenings": 0, "referred": 0}))
        for value, label in Conclusion.choices
    ]
    outcome_counts: dict[str, Any] = {
        row["case__status"]: row["n"]
        for row in screenings.filter(status=ScreeningStatus.REFERRED)
        .values("case__status")
        .annotate(n=Count("id"))
        .order_by()
    }
    outcome_rows = [
        Row(value, str(label), {"cases": outcome_counts.get(value, 0)}) for value, label in CaseStatus.choices
    ]
    return Statistics(
        year=year,
        years=years if year in years else sorted({*years, year}, reverse=True),
        inspections=totals["inspections"],
        joint=totals["joint"],
        workers_present=totals["present"] or 0,
        workers_interviewed=totals["interviewed"] or 0,
        screened=counts["screened"],
        drafts=drafts,
        presumed=counts["presumed"],
        presumed_children=counts["presumed_children"],
        referred=counts["referred"],
        notified=counts["notified"],
        identified=counts["identified"],
        by_sector=_per(inspections, screenings, "sector", sectors),
        by_region=_per(inspections, screenings, "region", regions),
        conclusions=_table(conclusion_rows, ["screenings", "referred"]),
        outcomes=_table(outcome_rows, ["cases"]),
    )
