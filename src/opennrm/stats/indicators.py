"""The standard indicators of the mechanism (DESIGN §6), computed from the database for one user's scope.

Every indicator is one function `f(access, filters) -> Table`: it counts in the database (GROUP BY, one or two
queries per table) and returns the figures with their labels in the active language. The dashboard, its CSV and
Excel downloads and the annual report all call these functions, so they always show the same figures.

Scope (`stats_scope`): analysts and users whose statistics membership is national count every case of the
instance; any other user with `stats.view` (a coordinator with agency or own scope) counts the cases
`cases.selectors.visible_cases` gives them, the anonymous notifications their agency filed (own scope: they filed)
and the shelters their agency runs. Nothing here returns a row of a case: only counts, sums and percentiles.

Definitions:
- presumed victims referred: every case (each case is a person referred to the mechanism), by the date of first
  contact; anonymous notifications (adults who did not consent to a referral) are presumed victims too, counted
  in a column of their own and never added to the cases;
- identified victims: cases whose trafficking status is "actual victim of trafficking" (status granted);
- periods: calendar years, or the quarters of the year chosen; each table says which date places a row in a
  period;
- filters (region, sex, age group, form of exploitation) select cases, and notifications with the same facts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Case as DbCase
from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from opennrm.accounts.access import Access
from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import Perm, Role, Scope
from opennrm.cases.choices import AgeGroup, DecisionOutcome, TraffickingStatus, htcds_snake_choices
from opennrm.cases.models import Case, CaseExploitation, Compensation, Decision, Notification
from opennrm.cases.selectors import visible_cases
from opennrm.core.profiles import active_profile
from opennrm.core.reference import UnknownCodeError, country_name
from opennrm.referrals.models import Referral, ReferralStatus, ServiceDelivery, ServiceType
from opennrm.shelters.models import Category, Placement, Shelter

Number = int | float | Decimal | None

ACTUAL = TraffickingStatus.ACTUAL
CENTS = Decimal("0.01")


# --- what the functions take and give -----------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters; an empty value means "all"."""

    year: int | None = None
    region: str = ""
    sex: str = ""
    age_group: str = ""
    form: str = ""

    def as_query(self) -> dict[str, str]:
        """The filters that are set, as query-string parameters (for links and downloads)."""
        values = {
            "year": str(self.year) if self.year else "",
            "region": self.region,
            "sex": self.sex,
            "age_group": self.age_group,
            "form": self.form,
        }
        return {key: value for key, value in values.items() if value}

    def describe(self) -> list[tuple[str, str]]:
        """(filter, value) in words, in the active language, for the filters that are set."""
        described = []
        if self.year:
            described.append((_("Year"), str(self.year)))
        if self.region:
            described.append((_("Region"), region_label(self.region)))
        if self.sex:
            described.append((_("Sex"), _label(htcds_snake_choices("prs_Gender"), self.sex)))
        if self.age_group:
            described.append((_("Age group"), _label(AgeGroup.choices, self.age_group)))
        if self.form:
            described.append(
                (_("Form of exploitation"), _label(htcds_snake_choices("vic_TypeOfExploitation"), self.form))
            )
        return described

    @property
    def person_filters(self) -> bool:
        return bool(self.sex or self.age_group or self.form)


@dataclass(frozen=True)
class Row:
    label: str
    values: tuple[Number, ...]


@dataclass(frozen=True)
class Table:
    """One indicator table: what the dashboard shows under a chart, downloads as CSV or Excel, prints."""

    key: str
    title: str
    row_header: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    totals: Row | None
    notes: tuple[str, ...] = ()

    def column(self, index: int) -> list[Number]:
        return [row.values[index] for row in self.rows]


# --- scope -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsScope:
    national: bool
    cases: QuerySet[Case]
    notifications: Q | None  # condition on Notification; None: none
    shelter_agencies: frozenset[int] | None  # None: every shelter

    @property
    def describe(self) -> str:
        if self.national:
            return _("All cases of the country.")
        return _("Only the cases your agency owns or referred, and what your agency filed.")


def stats_scope(access: Access) -> StatsScope:
    """What the statistics of this user count (see the module docstring)."""
    memberships = access.memberships_with(Perm.STATS_VIEW)
    if not memberships:
        return StatsScope(False, Case.objects.none(), None, frozenset())
    if any(m.scope == Scope.NATIONAL or m.role == Role.ANALYST for m in memberships):
        return StatsScope(True, Case.objects.all(), Q(), None)
    notifications: Q | None = None
    for m in memberships:
        part = (
            Q(referring_agency_id=m.agency_id) if m.scope == Scope.AGENCY else Q(created_by_id=access.user_id)
        )
        notifications = part if notifications is None else notifications | part
    agencies = frozenset(m.agency_id for m in memberships if m.scope == Scope.AGENCY)
    return StatsScope(False, visible_cases(access), notifications, agencies)


def _case_conditions(filters: Filters, prefix: str = "") -> Q:
    condition = Q()
    if filters.region:
        condition &= Q(**{f"{prefix}region": filters.region})
    if filters.sex:
        condition &= Q(**{f"{prefix}person__sex": filters.sex})
    if filters.age_group:
        condition &= Q(**{f"{prefix}age_group": filters.age_group})
    if filters.form:
        # (case, form) is unique: the join gives each case at most once.
        condition &= Q(**{f"{prefix}exploitation_forms__form": filters.form})
    return condition


def _year_range(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)


def _moment(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def filtered_cases(scope: StatsScope, filters: Filters, *, by_year: bool = True) -> QuerySet[Case]:
    """The cases in scope that the filters select (with the year: first contact in that year)."""
    cases = scope.cases.filter(_case_conditions(filters))
    if by_year and filters.year:
        start, end = _year_range(filters.year)
        cases = cases.filter(first_contact_date__gte=start, first_contact_date__lt=end)
    return cases


def _related_conditions(scope: StatsScope, filters: Filters, prefix: str = "case__") -> Q:
    """The same selection for a model that points to a case (decisions, referrals, compensation)."""
    condition = _case_conditions(filters, prefix)
    if not scope.national:
        condition &= Q(**{f"{prefix}in": scope.cases.values("pk")})
    return condition


def _json_list_has(field: str, value: str) -> Q:
    if connection.features.supports_json_field_contains:
        return Q(**{f"{field}__contains": [value]})
    # SQLite: the stored JSON text of the list holds the value in double quotes ("forced_labour").
    return Q(**{f"{field}__icontains": f'"{value}"'})


def filtered_notifications(
    scope: StatsScope, filters: Filters, *, by_year: bool = True
) -> QuerySet[Notification]:
    if scope.notifications is None:
        return Notification.objects.none()
    notifications = Notification.objects.filter(scope.notifications)
    if filters.region:
        notifications = notifications.filter(region=filters.region)
    if filters.sex:
        notifications = notifications.filter(sex=filters.sex)
    if filters.age_group:
        notifications = notifications.filter(age_group=filters.age_group)
    if filters.form:
        notifications = notifications.filter(_json_list_has("exploitation_forms", filters.form))
    if by_year and filters.year:
        start, end = _year_range(filters.year)
        notifications = notifications.filter(first_contact_date__gte=start, first_contact_date__lt=end)
    return notifications


def available_years(access: Access) -> list[int]:
    """From the first year with a case or notification in scope to this year (newest first)."""
    scope = stats_scope(access)
    this_year = timezone.localdate().year
    firsts = [
        scope.cases.aggregate(first=Min("first_contact_date"))["first"],
        filtered_notifications(scope, Filters()).aggregate(first=Min("first_contact_date"))["first"],
    ]
    known = [d.year for d in firsts if d is not None]
    first = min([*known, this_year])
    return list(range(this_year, first - 1, -1))


# --- labels -----------------------------------------------------------------------------------------------


def _label(choices: Iterable[tuple[Any, Any]], value: str) -> str:
    for key, label in choices:
        if key == value:
            return str(label)
    return value


def region_label(code: str) -> str:
    if not code:
        return _("Not recorded")
    try:
        return active_profile().region_name(code)
    except UnknownCodeError:
        return code


def _country_label(code: str) -> str:
    if not code:
        return _("Not recorded")
    try:
        return country_name(code)
    except (UnknownCodeError, LookupError):
        return code


def _route_label(key: str) -> str:
    if not key:
        return _("Not recorded")
    try:
        return str(active_profile().authority(key).name)
    except LookupError:
        return key


# --- periods ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Period:
    year: int
    quarter: int | None = None

    @property
    def label(self) -> str:
        if self.quarter is None:
            return str(self.year)
        return _("%(year)s, quarter %(quarter)s") % {"year": self.year, "quarter": self.quarter}

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 1 if self.quarter is None else 3 * self.quarter - 2, 1)

    @property
    def end(self) -> dt.date:
        """The last day of the period."""
        if self.quarter is None or self.quarter == 4:
            return dt.date(self.year, 12, 31)
        return dt.date(self.year, 3 * self.quarter + 1, 1) - dt.timedelta(days=1)


def _periods(filters: Filters, years: Iterable[int]) -> list[Period]:
    """The quarters of the year chosen; without one, every year from the first with data to the last."""
    if filters.year:
        return [Period(filters.year, quarter) for quarter in (1, 2, 3, 4)]
    present = sorted(set(years))
    if not present:
        return []
    return [Period(year) for year in range(present[0], present[-1] + 1)]


def _years(queryset: QuerySet[Any], field: str, filters: Filters) -> list[int]:
    """The first and last year of `field` in the rows (the year chosen, if one is)."""
    if filters.year:
        return [filters.year]
    bounds = queryset.order_by().aggregate(first=Min(field), last=Max(field))
    days = [
        timezone.localdate(v) if isinstance(v, dt.datetime) else v for v in bounds.values() if v is not None
    ]
    return [d.year for d in days]


def _bound(day: dt.date, *, datetime: bool) -> dt.date | dt.datetime:
    return _moment(day) if datetime else day


def _by_period(
    queryset: QuerySet[Any],
    field: str,
    periods: list[Period],
    *,
    datetime: bool,
    keys: tuple[str, ...] = (),
    **aggregates: Any,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """GROUP BY the period of `field` (and `keys`), with the aggregates given; keyed by (period, *keys).

    The period is a CASE over the periods' boundaries (local midnights for datetimes): plain comparisons that
    every database runs natively, instead of extracting a year and a quarter from each row."""
    if not periods:
        return {}
    whens = [
        When(
            **{
                f"{field}__gte": _bound(period.start, datetime=datetime),
                f"{field}__lt": _bound(period.end + dt.timedelta(days=1), datetime=datetime),
            },
            then=Value(index),
        )
        for index, period in enumerate(periods)
    ]
    grouped = (
        queryset.filter(
            **{
                f"{field}__gte": _bound(periods[0].start, datetime=datetime),
                f"{field}__lt": _bound(periods[-1].end + dt.timedelta(days=1), datetime=datetime),
            }
        )
        .annotate(period_index=DbCase(*whens, output_field=IntegerField()))
        .order_by()
        .values("period_index", *keys)
        .annotate(**aggregates)
    )
    return {(periods[row["period_index"]], *(row[k] for k in keys)): row for row in grouped}


def _in_year(field: str, filters: Filters, *, datetime: bool) -> Q:
    if not filters.year:
        return Q()
    start, end = _year_range(filters.year)
    if datetime:
        return Q(**{f"{field}__gte": _moment(start), f"{field}__lt": _moment(end)})
    return Q(**{f"{field}__gte": start, f"{field}__lt": end})


# --- victims ----------------------------------------------------------------------------------------------


def _victim_columns(*, notifications: bool) -> tuple[str, ...]:
    columns = (_("Presumed victims referred"), _("Identified victims"), _("Anonymous notifications"))
    return columns if notifications else columns[:2]


def _victim_notes() -> tuple[str, ...]:
    return (
        _(
            "Presumed victims referred: people referred to the mechanism, by the date of first contact. Identified "
            "victims: those of them whose victim status was granted."
        ),
        _(
            "Anonymous notifications: presumed victims who did not consent to a referral, counted without "
            "identity. They are not included in the referred presumed victims."
        ),
    )


def victims_by_period(access: Access, filters: Filters) -> Table:
    scope = stats_scope(access)
    cases_in, notifications_in = filtered_cases(scope, filters), filtered_notifications(scope, filters)
    periods = _periods(
        filters,
        _years(cases_in, "first_contact_date", filters)
        + _years(notifications_in, "first_contact_date", filters),
    )
    cases = _by_period(
        cases_in,
        "first_contact_date",
        periods,
        datetime=False,
        referred=Count("id"),
        children=Count("id", filter=Q(is_child=True)),
        identified=Count("id", filter=Q(trafficking_status=ACTUAL)),
    )
    notifications = _by_period(
        notifications_in, "first_contact_date", periods, datetime=False, notified=Count("id")
    )
    rows = []
    totals = [0, 0, 0, 0]
    for period in periods:
        c = cases.get((period,), {})
        n = notifications.get((period,), {})
        values = (c.get("referred", 0), c.get("children", 0), c.get("identified", 0), n.get("notified", 0))
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        rows.append(Row(period.label, values))
    return Table(
        key="victims",
        title=_("Presumed and identified victims by period"),
        row_header=_("Period of first contact"),
        columns=(
            _("Presumed victims referred"),
            _("of whom children"),
            _("Identified victims"),
            _("Anonymous notifications"),
        ),
        rows=tuple(rows),
        totals=Row(_("Total"), tuple(totals)),
        notes=_victim_notes(),
    )


def _breakdown(
    access: Access,
    filters: Filters,
    *,
    key: str,
    title: str,
    row_header: str,
    case_field: str,
    notification_field: str | None,
    label: Callable[[str], str],
    order: list[str] | None = None,
    notes: tuple[str, ...] = (),
) -> Table:
    """Presumed victims referred, identified, and notifications, by one fact of the case (or of the person)."""
    scope = stats_scope(access)
    counted: dict[str, tuple[int, int]] = {}
    for row in (
        filtered_cases(scope, filters)
        .order_by()
        .values(case_field)
        .annotate(referred=Count("id"), identified=Count("id", filter=Q(trafficking_status=ACTUAL)))
    ):
        code = row[case_field] or ""
        referred, identified = counted.get(code, (0, 0))
        counted[code] = (referred + row["referred"], identified + row["identified"])
    notified: Counter[str] = Counter()
    if notification_field is not None:
        for row in (
            filtered_notifications(scope, filters)
            .order_by()
            .values(notification_field)
            .annotate(n=Count("id"))
        ):
            notified[row[notification_field] or ""] += row["n"]
    # Each case and notification is in exactly one row: the totals are the sums (no second pass over the cases).
    totals: tuple[int, ...] = (
        sum(referred for referred, _identified in counted.values()),
        sum(identified for _referred, identified in counted.values()),
    )
    if notification_field is not None:
        totals += (sum(notified.values()),)
    return _victim_table(
        key=key,
        title=title,
        row_header=row_header,
        counted=counted,
        notified=notified if notification_field is not None else None,
        label=label,
        order=order,
        totals=totals,
        notes=notes,
    )


def _victim_totals(scope: StatsScope, filters: Filters, *, with_notifications: bool) -> tuple[int, ...]:
    total = filtered_cases(scope, filters).aggregate(
        referred=Count("id"), identified=Count("id", filter=Q(trafficking_status=ACTUAL))
    )
    values: tuple[int, ...] = (total["referred"], total["identified"])
    if with_notifications:
        values += (filtered_notifications(scope, filters).count(),)
    return values


def _victim_table(
    *,
    key: str,
    title: str,
    row_header: str,
    counted: Mapping[str, tuple[int, int]],
    notified: Mapping[str, int] | None,
    label: Callable[[str], str],
    order: list[str] | None,
    totals: tuple[int, ...],
    notes: tuple[str, ...],
) -> Table:
    codes = set(counted) | set(notified or {})
    if order is not None:
        # A fixed order (an ordinal scale): every value, with zeros; values outside it at the end.
        ordered = [*order, *sorted(codes - set(order))]
    else:
        # Most frequent first; "not recorded" last.
        def weight(code: str) -> tuple[bool, int, str]:
            return (code == "", -(counted.get(code, (0, 0))[0] + (notified or {}).get(code, 0)), label(code))

        ordered = sorted(codes, key=weight)
    rows = []
    for code in ordered:
        referred, identified = counted.get(code, (0, 0))
        values: tuple[int, ...] = (referred, identified)
        if notified is not None:
            values += (notified.get(code, 0),)
        rows.append(Row(label(code), values))
    return Table(
        key=key,
        title=title,
        row_header=row_header,
        columns=_victim_columns(notifications=notified is not None),
        rows=tuple(rows),
        totals=Row(_("Total"), totals),
        notes=(*notes, *_victim_notes()[: 2 if notified is not None else 1]),
    )


def victims_by_sex(access: Access, filters: Filters) -> Table:
    choices = htcds_snake_choices("prs_Gender")
    return _breakdown(
        access,
        filters,
        key="sex",
        title=_("Presumed and identified victims by sex"),
        row_header=_("Sex"),
        case_field="person__sex",
        notification_field="sex",
        label=lambda code: _label(choices, code) if code else _("Not recorded"),
    )


def victims_by_age_group(access: Access, filters: Filters) -> Table:
    return _breakdown(
        access,
        filters,
        key="age",
        title=_("Presumed and identified victims by age group"),
        row_header=_("Age when exploited"),
        case_field="age_group",
        notification_field="age_group",
        label=lambda code: _label(AgeGroup.choices, code),
        order=list(AgeGroup.values),
    )


def victims_by_citizenship(access: Access, filters: Filters) -> Table:
    return _breakdown(
        access,
        filters,
        key="citizenship",
        title=_("Presumed and identified victims by citizenship"),
        row_header=_("Citizenship"),
        case_field="person__citizenship",
        notification_field="citizenship",
        label=_country_label,
    )


def victims_by_region(access: Access, filters: Filters) -> Table:
    return _breakdown(
        access,
        filters,
        key="region",
        title=_("Presumed and identified victims by region"),
        row_header=_("Region"),
        case_field="region",
        notification_field="region",
        label=region_label,
    )


def victims_by_referring_agency(access: Access, filters: Filters) -> Table:
    return _breakdown(
        access,
        filters,
        key="referrer",
        title=_("Presumed and identified victims by who referred them"),
        row_header=_("Kind of referring agency"),
        case_field="referring_agency__kind",
        notification_field="referring_agency__kind",
        label=lambda code: _label(AgencyKind.choices, code),
        notes=(_("The route into the mechanism: the kind of agency that referred or notified."),),
    )


def identified_by_route(access: Access, filters: Filters) -> Table:
    scope = stats_scope(access)
    identified = filtered_cases(scope, filters).filter(trafficking_status=ACTUAL)
    counted = {
        row["identification_route"] or "": row["n"]
        for row in identified.order_by().values("identification_route").annotate(n=Count("id"))
    }
    ordered = sorted(counted, key=lambda code: (code == "", -counted[code], _route_label(code)))
    return Table(
        key="route",
        title=_("Identified victims by route of identification"),
        row_header=_("Route of identification"),
        columns=(_("Identified victims"),),
        rows=tuple(Row(_route_label(code), (counted[code],)) for code in ordered),
        totals=Row(_("Total"), (sum(counted.values()),)),
        notes=(_("The authority that granted the victim status, for the identified victims of the period."),),
    )


def _exploitations(scope: StatsScope, filters: Filters) -> QuerySet[CaseExploitation]:
    """The forms of the cases in scope that the filters select, by joins (no list of case ids)."""
    rows = CaseExploitation.objects.filter(_related_conditions(scope, filters))
    if filters.year:
        start, end = _year_range(filters.year)
        rows = rows.filter(case__first_contact_date__gte=start, case__first_contact_date__lt=end)
    return rows


def victims_by_form(access: Access, filters: Filters) -> Table:
    """By form of exploitation. A case (or notification) with several forms counts once under each."""
    scope = stats_scope(access)
    cases = filtered_cases(scope, filters)
    counted: dict[str, tuple[int, int]] = {
        row["form"]: (row["referred"], row["identified"])
        for row in _exploitations(scope, filters)
        .order_by()
        .values("form")
        .annotate(
            referred=Count("case_id"),
            identified=Count("case_id", filter=Q(case__trafficking_status=ACTUAL)),
        )
    }
    without = (
        cases.exclude(Exists(CaseExploitation.objects.filter(case_id=OuterRef("pk"))))
        .order_by()
        .aggregate(referred=Count("id"), identified=Count("id", filter=Q(trafficking_status=ACTUAL)))
    )
    if without["referred"]:
        counted[""] = (without["referred"], without["identified"])
    notified: Counter[str] = Counter()
    # GROUP BY the stored list (few distinct combinations), then count each form of each combination.
    for row in (
        filtered_notifications(scope, filters).order_by().values("exploitation_forms").annotate(n=Count("id"))
    ):
        forms = row["exploitation_forms"] or [""]
        for form in set(forms):
            notified[form] += row["n"]
    choices = htcds_snake_choices("vic_TypeOfExploitation")
    return _victim_table(
        key="form",
        title=_("Presumed and identified victims by form of exploitation"),
        row_header=_("Form of exploitation"),
        counted=counted,
        notified=notified,
        label=lambda code: _label(choices, code) if code else _("Not recorded"),
        order=None,
        totals=_victim_totals(scope, filters, with_notifications=True),
        notes=(
            _(
                "A person exploited in several ways counts once under each form; the total counts each person once."
            ),
        ),
    )


# --- identification decisions -----------------------------------------------------------------------------


class MinutesBetween(Func):
    """Whole minutes from the second datetime to the first (rounded), computed in the database."""

    arity = 2
    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="CAST(ROUND((julianday(%(expressions)s)) * 1440) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="ROUND(EXTRACT(EPOCH FROM (%(expressions)s)) / 60)::integer",
            arg_joiner=" - ",
            **extra,
        )


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-th quantile (0..1) of the values a histogram (value -> count) describes, interpolated linearly
    between the closest ranks (as `statistics.quantiles(method="inclusive")` and numpy's default)."""
    values = sorted((value, count) for value, count in histogram.items() if count > 0)
    total = sum(count for _value, count in values)
    if total == 0:
        return None
    position = q * (total - 1)
    lower, upper = math.floor(position), math.ceil(position)

    def at(rank: int) -> int:
        seen = 0
        for value, count in values:
            seen += count
            if rank < seen:
                return value
        return values[-1][0]

    low = at(lower)
    return low + (at(upper) - low) * (position - lower)


def _hours(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 1)


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def decisions_by_period(access: Access, filters: Filters) -> Table:
    scope = stats_scope(access)
    decided = Decision.objects.filter(
        _related_conditions(scope, filters),
        _in_year("decided_at", filters, datetime=True),
        decided_at__isnull=False,
    )
    periods = _periods(filters, _years(decided, "decided_at", filters))
    counts = _by_period(
        decided,
        "decided_at",
        periods,
        datetime=True,
        decided=Count("id"),
        granted=Count("id", filter=Q(outcome=DecisionOutcome.GRANTED)),
        refused=Count("id", filter=Q(outcome=DecisionOutcome.REFUSED)),
        in_time=Count("id", filter=Q(decided_at__lte=F("deadline_at"))),
    )
    # The durations as a histogram of whole minutes per period: bounded by periods x distinct minutes, whatever
    # the number of decisions; the percentiles are exact to the minute.
    histograms: dict[Period, Counter[int]] = defaultdict(Counter)
    for (period, minutes), row in _by_period(
        decided.annotate(minutes=MinutesBetween("decided_at", "requested_at")),
        "decided_at",
        periods,
        datetime=True,
        keys=("minutes",),
        n=Count("id"),
    ).items():
        histograms[period][minutes] += row["n"]
    rows = []
    overall: Counter[int] = Counter()
    sums: Counter[str] = Counter()
    for period in periods:
        c = counts.get((period,), {})
        histogram = histograms.get(period, Counter())
        overall.update(histogram)
        for name in ("decided", "granted", "refused", "in_time"):
            sums[name] += c.get(name, 0)
        rows.append(Row(period.label, _decision_values(c, histogram)))
    return Table(
        key="decisions",
        title=_("Identification decisions and the statutory deadline"),
        row_header=_("Period of the decision"),
        columns=(
            _("Decisions"),
            _("Status granted"),
            _("Status refused"),
            _("Median hours to decision"),
            _("90th percentile, hours"),
            _("Decided within the deadline"),
            _("Share within the deadline (%)"),
        ),
        rows=tuple(rows),
        totals=Row(_("Total"), _decision_values(sums, overall)),
        notes=(
            _(
                "Time from the request for a decision (when the statutory clock starts) to the decision, for first "
                "decisions and appeals decided in the period. The deadline of each request is the one computed "
                "when it was made, from the country profile."
            ),
            _(
                "Median and 90th percentile are exact to the minute; half of the decisions took no longer than the "
                "median, nine in ten no longer than the 90th percentile."
            ),
        ),
    )


def _decision_values(counts: Mapping[str, int], histogram: Mapping[int, int]) -> tuple[Number, ...]:
    decided = counts.get("decided", 0)
    in_time = counts.get("in_time", 0)
    return (
        decided,
        counts.get("granted", 0),
        counts.get("refused", 0),
        _hours(percentile(histogram, 0.5)),
        _hours(percentile(histogram, 0.9)),
        in_time,
        _share(in_time, decided),
    )


def decisions_waiting(access: Access, filters: Filters) -> Table:
    scope = stats_scope(access)
    now = timezone.now()
    counts = Decision.objects.filter(_related_conditions(scope, filters), outcome="").aggregate(
        waiting=Count("id"), overdue=Count("id", filter=Q(deadline_at__lt=now))
    )
    rows = (
        Row(_("Within the deadline"), (counts["waiting"] - counts["overdue"],)),
        Row(_("Past the deadline"), (counts["overdue"],)),
    )
    return Table(
        key="waiting",
        title=_("Decision requests waiting now"),
        row_header=_("Deadline"),
        columns=(_("Requests waiting"),),
        rows=rows,
        totals=Row(_("Total"), (counts["waiting"],)),
        notes=(_("Requests not decided yet, today. The year filter does not apply."),),
    )


# --- referrals and services -------------------------------------------------------------------------------


def referrals_by_service(access: Access, filters: Filters) -> Table:
    scope = stats_scope(access)
    referrals = Referral.objects.filter(
        _related_conditions(scope, filters), _in_year("created_at", filters, datetime=True)
    )
    statuses = list(ReferralStatus)
    per_status = {f"status_{s.value}": Count("id", filter=Q(status=s.value)) for s in statuses}
    aggregates = {"total": Count("id"), "people": Count("case_id", distinct=True), **per_status}
    by_service: dict[int, dict[str, Any]] = {
        row["service_id"]: dict(row)
        for row in referrals.order_by().values("service_id").annotate(**aggregates)
    }
    deliveries = ServiceDelivery.objects.filter(
        _related_conditions(scope, filters, prefix="referral__case__"),
        _in_year("start_date", filters, datetime=False),
    )
    delivered = {
        row["referral__service_id"]: row["n"]
        for row in deliveries.order_by().values("referral__service_id").annotate(n=Count("id"))
    }
    services = ServiceType.objects.filter(pk__in=set(by_service) | set(delivered))
    rows = []
    for service in sorted(services, key=lambda s: (-by_service.get(s.pk, {}).get("total", 0), s.name)):
        row: dict[str, Any] = by_service.get(service.pk, {})
        values = tuple(row.get(f"status_{s.value}", 0) for s in statuses)
        rows.append(
            Row(
                service.name,
                (*values, row.get("total", 0), row.get("people", 0), delivered.get(service.pk, 0)),
            )
        )
    total = referrals.aggregate(**aggregates)
    totals = (
        *(total[f"status_{s.value}"] for s in statuses),
        total["total"],
        total["people"],
        sum(delivered.values()),
    )
    return Table(
        key="referrals",
        title=_("Referrals by service and outcome"),
        row_header=_("Service"),
        columns=(
            *(str(s.label) for s in statuses),
            _("All referrals"),
            _("People referred"),
            _("Services delivered"),
        ),
        rows=tuple(rows),
        totals=Row(_("Total"), totals),
        notes=(
            _(
                "Referrals made in the period, by their status today. Services delivered: the deliveries recorded "
                "by the providers that started in the period."
            ),
            _("People referred counts each person once per service; the total counts each person once."),
        ),
    )


# --- shelters ---------------------------------------------------------------------------------------------


def _shelters(scope: StatsScope, filters: Filters) -> QuerySet[Shelter]:
    shelters = Shelter.objects.all()
    if scope.shelter_agencies is not None:
        shelters = shelters.filter(agency_id__in=scope.shelter_agencies)
    if filters.region:
        shelters = shelters.filter(region=filters.region)
    return shelters


def _places(shelters: QuerySet[Shelter]) -> dict[str, int]:
    sums = shelters.filter(is_active=True).aggregate(
        women=Sum("capacity_women"),
        men=Sum("capacity_men"),
        children=Sum("capacity_children"),
        families=Sum("capacity_families"),
    )
    return {key: value or 0 for key, value in sums.items()}


def _shelter_notes() -> tuple[str, ...]:
    return (
        _("Places: the places of the shelters open today, by the category of person they are for."),
        _(
            "The region filter selects shelters by their region; the filters by sex, age group and form of "
            "exploitation do not apply to shelters."
        ),
    )


def shelter_occupancy(access: Access, filters: Filters) -> Table:
    """People placed per night, from the placements' intervals (a person counts on a night they stay)."""
    scope = stats_scope(access)
    shelters = _shelters(scope, filters)
    places = sum(_places(shelters).values())
    today = timezone.localdate()
    zone = timezone.get_current_timezone()
    placements = Placement.objects.filter(shelter__in=shelters).annotate(
        transfer=Exists(Placement.objects.filter(transferred_to=OuterRef("pk")))
    )
    first = placements.aggregate(first=Min("admitted_at"))["first"]
    years = [timezone.localdate(first, zone).year, today.year] if first is not None else []
    periods = _periods(filters, years)
    if not periods:
        return _occupancy_table((), Row(_("Total"), (places, 0, 0, None, None)))
    window_start, window_end = periods[0].start, min(periods[-1].end, today)
    intervals = [
        (
            timezone.localdate(admitted, zone),
            None if left is None else timezone.localdate(left, zone),
            transfer,
        )
        for admitted, left, transfer in placements.filter(
            Q(discharged_at__isnull=True) | Q(discharged_at__gte=_moment(window_start)),
            admitted_at__lt=_moment(window_end + dt.timedelta(days=1)),
        ).values_list("admitted_at", "discharged_at", "transfer")
    ]
    rows = []
    all_admissions = all_nights = all_days = 0
    for period in periods:
        end = min(period.end, today)
        days = max((end - period.start).days + 1, 0)
        nights = 0
        admissions = 0
        for admitted, left, transfer in intervals:
            if period.start <= admitted <= end and not transfer:
                admissions += 1
            # Nights from the later of admission and period start, to the earlier of leaving and period end + 1.
            stop = end + dt.timedelta(days=1) if left is None else min(left, end + dt.timedelta(days=1))
            nights += max((stop - max(admitted, period.start)).days, 0)
        all_admissions += admissions
        all_nights += nights
        all_days += days
        rows.append(Row(period.label, _occupancy_values(places, admissions, nights, days)))
    return _occupancy_table(
        tuple(rows), Row(_("Total"), _occupancy_values(places, all_admissions, all_nights, all_days))
    )


def _occupancy_values(places: int, admissions: int, nights: int, days: int) -> tuple[Number, ...]:
    average = round(nights / days, 1) if days else None
    rate = round(100 * nights / (days * places), 1) if days and places else None
    return (places, admissions, nights, average, rate)


def _occupancy_table(rows: tuple[Row, ...], totals: Row) -> Table:
    return Table(
        key="occupancy",
        title=_("Shelter occupancy by period"),
        row_header=_("Period"),
        columns=(
            _("Places"),
            _("Admissions"),
            _("Nights spent"),
            _("People per night (average)"),
            _("Occupancy (%)"),
        ),
        rows=rows,
        totals=totals,
        notes=(
            _(
                "A person counts on a night when they are placed at the end of that day. Admissions do not count "
                "transfers between shelters. Occupancy: nights spent out of the places of today times the days of "
                "the period (up to today)."
            ),
            *_shelter_notes(),
        ),
    )


def shelter_places_now(access: Access, filters: Filters) -> Table:
    scope = stats_scope(access)
    shelters = _shelters(scope, filters)
    places = _places(shelters)
    placed = {
        row["category"]: row["n"]
        for row in Placement.objects.filter(shelter__in=shelters, discharged_at__isnull=True)
        .order_by()
        .values("category")
        .annotate(n=Count("id"))
    }
    rows = []
    for category in Category:
        capacity, now = places.get(category.value, 0), placed.get(category.value, 0)
        rows.append(Row(str(category.label), (capacity, now, max(capacity - now, 0))))
    total_places, total_placed = sum(places.values()), sum(placed.values())
    return Table(
        key="places",
        title=_("Shelter places and people placed today"),
        row_header=_("Places for"),
        columns=(_("Places"), _("People placed"), _("Free places")),
        rows=tuple(rows),
        totals=Row(_("Total"), (total_places, total_placed, sum(row.values[2] or 0 for row in rows))),
        notes=(_("Today. The year filter does not apply."), *_shelter_notes()),
    )


# --- compensation -----------------------------------------------------------------------------------------


def compensation_by_period(access: Access, filters: Filters) -> Table:
    scope = stats_scope(access)
    compensations = Compensation.objects.filter(_related_conditions(scope, filters))
    approved_in = compensations.filter(_in_year("approved_at", filters, datetime=True))
    paid_in = compensations.filter(_in_year("paid_at", filters, datetime=True), paid_at__isnull=False)
    periods = _periods(
        filters, _years(approved_in, "approved_at", filters) + _years(paid_in, "paid_at", filters)
    )
    approved = _by_period(approved_in, "approved_at", periods, datetime=True, n=Count("id"))
    paid: dict[Period, dict[str, tuple[int, Decimal]]] = defaultdict(dict)
    for (period, currency), row in _by_period(
        paid_in, "paid_at", periods, datetime=True, keys=("currency",), n=Count("id"), amount=Sum("amount")
    ).items():
        paid[period][currency] = (row["n"], Decimal(row["amount"]).quantize(CENTS))
    currencies = sorted({currency for by_currency in paid.values() for currency in by_currency}) or [
        active_profile().currency
    ]
    rows = []
    totals: list[Number] = [0, 0, *(Decimal("0.00") for _c in currencies)]
    for period in periods:
        by_currency = paid.get(period, {})
        values: tuple[Number, ...] = (
            approved.get((period,), {}).get("n", 0),
            sum(n for n, _amount in by_currency.values()),
            *(by_currency.get(c, (0, Decimal("0.00")))[1] for c in currencies),
        )
        totals = [a + b for a, b in zip(totals, values, strict=True)]  # type: ignore[operator]
        rows.append(Row(period.label, values))
    return Table(
        key="compensation",
        title=_("State compensation by period"),
        row_header=_("Period"),
        columns=(
            _("Approved"),
            _("Paid"),
            *(_("Amount paid (%(currency)s)") % {"currency": c} for c in currencies),
        ),
        rows=tuple(rows),
        totals=Row(_("Total"), tuple(totals)),
        notes=(_("Approved: by the date of approval. Paid and amount: by the date of payment."),),
    )


# --- all of them ------------------------------------------------------------------------------------------

Indicator = Callable[[Access, Filters], Table]

# In the order the dashboard and the report show them.
INDICATORS: dict[str, Indicator] = {
    "victims": victims_by_period,
    "sex": victims_by_sex,
    "age": victims_by_age_group,
    "citizenship": victims_by_citizenship,
    "form": victims_by_form,
    "region": victims_by_region,
    "referrer": victims_by_referring_agency,
    "route": identified_by_route,
    "decisions": decisions_by_period,
    "waiting": decisions_waiting,
    "referrals": referrals_by_service,
    "occupancy": shelter_occupancy,
    "places": shelter_places_now,
    "compensation": compensation_by_period,
}


def all_tables(access: Access, filters: Filters) -> dict[str, Table]:
    return {key: indicator(access, filters) for key, indicator in INDICATORS.items()}
