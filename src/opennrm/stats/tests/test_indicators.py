"""Each indicator against a count made independently, in plain Python, from the facts the data was generated from.

The data (`dashboard_data.build_world`) is made once for the module: 36 cases referred through the services over
three years, decisions at chosen times, compensation, referrals, shelters with placements, anonymous notifications.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from opennrm.accounts.access import access_for
from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import member
from opennrm.cases.choices import AgeGroup, DecisionOutcome, htcds_snake_choices
from opennrm.core.profiles import active_profile
from opennrm.core.reference import country_name
from opennrm.referrals.models import ReferralStatus, ServiceType
from opennrm.shelters.models import Category
from opennrm.stats import indicators
from opennrm.stats.indicators import Filters, Table, percentile
from opennrm.stats.tests.dashboard_data import CaseFacts, Facts, NotificationFacts, World, build_world

pytestmark = pytest.mark.django_db

LAST_YEAR = timezone.localdate().year - 1


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """Built once for the module inside a transaction that is rolled back at the end."""
    with django_db_blocker.unblock(), transaction.atomic():
        built = build_world()
        yield built
        transaction.set_rollback(True)


@pytest.fixture
def analyst(world):
    return access_for(member(Role.ANALYST, agency=world.agencies["state_fund"]))


def rows(table: Table) -> dict[str, tuple]:
    return {row.label: row.values for row in table.rows}


def nonzero(counter: Counter) -> dict:
    return {key: value for key, value in counter.items() if value}


def period_label(year: int, quarter: int | None = None) -> str:
    return str(year) if quarter is None else f"{year}, quarter {quarter}"


def quarter(day: dt.date) -> int:
    return (day.month - 1) // 3 + 1


def local(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def case_matches(fc: CaseFacts, filters: Filters) -> bool:
    return (
        (not filters.year or fc.first_contact.year == filters.year)
        and (not filters.region or fc.region == filters.region)
        and (not filters.sex or fc.sex == filters.sex)
        and (not filters.age_group or fc.age_group == filters.age_group)
        and (not filters.form or filters.form in fc.forms)
    )


def notification_matches(n: NotificationFacts, filters: Filters) -> bool:
    return (
        (not filters.year or n.first_contact.year == filters.year)
        and (not filters.region or n.region == filters.region)
        and (not filters.sex or n.sex == filters.sex)
        and (not filters.age_group or n.age_group == filters.age_group)
        and (not filters.form or filters.form in n.forms)
    )


# --- victims ------------------------------------------------------------------------------------------------


def expected_by_period(facts: Facts, filters: Filters) -> dict[str, tuple[int, int, int, int]]:
    cases = [c for c in facts.cases if case_matches(c, filters)]
    notes = [n for n in facts.notifications if notification_matches(n, filters)]
    if filters.year:
        keys = [(filters.year, q) for q in (1, 2, 3, 4)]

        def key_of(day: dt.date) -> tuple[int, int | None]:
            return (day.year, quarter(day))
    else:
        years = [c.first_contact.year for c in cases] + [n.first_contact.year for n in notes]
        keys = [(y, None) for y in range(min(years), max(years) + 1)] if years else []

        def key_of(day: dt.date) -> tuple[int, int | None]:
            return (day.year, None)

    expected = {}
    for key in keys:
        in_period = [c for c in cases if key_of(c.first_contact) == key]
        expected[period_label(*key)] = (
            len(in_period),
            sum(c.child for c in in_period),
            sum(c.identified for c in in_period),
            sum(1 for n in notes if key_of(n.first_contact) == key),
        )
    return expected


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(year=LAST_YEAR),
        Filters(region="GE-TB"),
        Filters(sex="feminine", age_group="24-26"),
        Filters(form="forced_labour"),
        Filters(year=LAST_YEAR, form="sexual_exploitation", region="GE-TB"),
    ],
    ids=["all", "last-year-by-quarter", "region", "sex-and-age", "form", "year-form-region"],
)
def test_presumed_and_identified_victims_by_period(world, analyst, filters):
    table = indicators.victims_by_period(analyst, filters)
    expected = expected_by_period(world.facts, filters)
    assert rows(table) == expected
    assert list(rows(table)) == list(expected), "periods in order"
    assert table.totals is not None
    assert table.totals.values == tuple(sum(column) for column in zip(*expected.values(), strict=True))


def test_the_data_has_what_the_filters_and_breakdowns_need(world):
    """Guards the other tests against a generator that makes them trivially true."""
    facts = world.facts
    assert sum(c.identified for c in facts.cases) >= 5
    assert sum(c.child for c in facts.cases) >= 2
    assert any(len(c.forms) == 2 for c in facts.cases) and any(not c.forms for c in facts.cases)
    assert any(c.first_contact.year == LAST_YEAR and c.region == "GE-TB" for c in facts.cases)
    assert any("forced_labour" in n.forms for n in facts.notifications)
    assert any(not n.forms for n in facts.notifications)
    assert {c.owner for c in facts.cases} == {"state_fund", "ngo"}


GENDER = dict(htcds_snake_choices("prs_Gender"))
AGES = dict(AgeGroup.choices)


def region_name(code: str) -> str:
    return active_profile().region_name(code) if code else "Not recorded"


BREAKDOWNS: dict[str, tuple[Callable, str, Callable[[str], str]]] = {
    "sex": (indicators.victims_by_sex, "sex", lambda code: str(GENDER[code])),
    "age": (indicators.victims_by_age_group, "age_group", lambda code: str(AGES[code])),
    "citizenship": (
        indicators.victims_by_citizenship,
        "citizenship",
        lambda code: country_name(code) if code else "Not recorded",
    ),
    "region": (indicators.victims_by_region, "region", region_name),
    "referrer": (
        indicators.victims_by_referring_agency,
        "referrer_kind",
        lambda code: str(AgencyKind(code).label),
    ),
}


@pytest.mark.parametrize("key", list(BREAKDOWNS))
@pytest.mark.parametrize(
    "filters", [Filters(), Filters(year=LAST_YEAR, sex="feminine")], ids=["all", "filtered"]
)
def test_victims_by_each_fact(world, analyst, key, filters):
    function, attribute, label = BREAKDOWNS[key]
    cases = [c for c in world.facts.cases if case_matches(c, filters)]
    notes = [n for n in world.facts.notifications if notification_matches(n, filters)]
    referred = Counter(getattr(c, attribute) for c in cases)
    identified = Counter(getattr(c, attribute) for c in cases if c.identified)
    notified = Counter(getattr(n, attribute) for n in notes)
    expected = {
        label(code): (referred[code], identified[code], notified[code])
        for code in set(referred) | set(notified)
    }
    table = function(analyst, filters)
    got = rows(table)
    if key == "age":  # an ordinal scale: every age group, in order, zeros included
        assert list(got) == [str(label) for label in AGES.values()]
        got = {label: values for label, values in got.items() if any(values)}
    assert got == expected
    assert table.totals.values == (len(cases), sum(c.identified for c in cases), len(notes))


@pytest.mark.parametrize("filters", [Filters(), Filters(form="forced_labour"), Filters(region="GE-AJ")])
def test_victims_by_form_count_a_person_under_each_of_their_forms_and_once_in_the_total(
    world, analyst, filters
):
    cases = [c for c in world.facts.cases if case_matches(c, filters)]
    notes = [n for n in world.facts.notifications if notification_matches(n, filters)]
    forms = dict(htcds_snake_choices("vic_TypeOfExploitation"))
    expected = {}
    for code in [*forms, ""]:
        with_form = [c for c in cases if (code in c.forms if code else not c.forms)]
        notified = sum(1 for n in notes if (code in n.forms if code else not n.forms))
        if with_form or notified:
            expected[str(forms[code]) if code else "Not recorded"] = (
                len(with_form),
                sum(c.identified for c in with_form),
                notified,
            )
    table = indicators.victims_by_form(analyst, filters)
    assert rows(table) == expected
    assert table.totals.values == (len(cases), sum(c.identified for c in cases), len(notes))
    if "Not recorded" in expected:
        assert list(rows(table))[-1] == "Not recorded", "cases without a form come last"


def test_identified_victims_by_route(world, analyst):
    identified = [c for c in world.facts.cases if c.identified]
    expected = Counter(str(active_profile().authority(c.route).name) for c in identified)
    table = indicators.identified_by_route(analyst, Filters())
    assert rows(table) == {label: (n,) for label, n in expected.items()}
    assert table.totals.values == (len(identified),)
    assert [row.values[0] for row in table.rows] == sorted(expected.values(), reverse=True)


# --- decisions ----------------------------------------------------------------------------------------------


def timeliness(decisions) -> tuple:
    minutes = sorted(d.minutes for d in decisions)
    in_time = sum(1 for d in decisions if d.decided_at <= d.deadline_at)
    if not minutes:
        return (0, 0, 0, None, None, 0, None)
    median = statistics.median(minutes)
    p90 = statistics.quantiles(minutes, n=10, method="inclusive")[8] if len(minutes) > 1 else minutes[0]
    return (
        len(decisions),
        sum(1 for d in decisions if d.outcome == DecisionOutcome.GRANTED),
        sum(1 for d in decisions if d.outcome == DecisionOutcome.REFUSED),
        round(median / 60, 1),
        round(p90 / 60, 1),
        in_time,
        round(100 * in_time / len(decisions), 1),
    )


@pytest.mark.parametrize("filters", [Filters(), Filters(year=LAST_YEAR), Filters(sex="feminine")])
def test_decision_times_against_the_deadline(world, analyst, filters):
    decided = [
        d
        for d in world.facts.decisions
        if d.decided_at is not None
        and case_matches(d.case, Filters(region=filters.region, sex=filters.sex))
        and (not filters.year or local(d.decided_at).year == filters.year)
    ]
    if filters.year:
        expected = {
            period_label(filters.year, q): timeliness(
                [d for d in decided if quarter(local(d.decided_at)) == q]
            )
            for q in (1, 2, 3, 4)
        }
    else:
        years = sorted({local(d.decided_at).year for d in decided})
        expected = {
            str(y): timeliness([d for d in decided if local(d.decided_at).year == y])
            for y in range(years[0], years[-1] + 1)
        }
    table = indicators.decisions_by_period(analyst, filters)
    assert rows(table) == expected
    assert table.totals.values == timeliness(decided)
    late = [d for d in decided if d.decided_at > d.deadline_at]
    assert late and len(late) < len(decided), "the data has decisions in time and late"


def test_decision_requests_waiting_now(world, analyst):
    waiting = [d for d in world.facts.decisions if d.decided_at is None]
    overdue = [d for d in waiting if d.deadline_at < timezone.now()]
    table = indicators.decisions_waiting(analyst, Filters())
    assert rows(table) == {
        "Within the deadline": (len(waiting) - len(overdue),),
        "Past the deadline": (len(overdue),),
    }
    assert overdue and len(overdue) < len(waiting)


@pytest.mark.parametrize(
    ("histogram", "values"),
    [
        ({5: 1}, [5]),
        ({1: 1, 2: 1}, [1, 2]),
        ({10: 3, 20: 1, 90: 2, 400: 1}, [10, 10, 10, 20, 90, 90, 400]),
        ({7: 2, 3: 5, 100: 1, 8: 4}, [3] * 5 + [7] * 2 + [8] * 4 + [100]),
    ],
)
def test_percentiles_from_a_histogram_match_the_statistics_module(histogram, values):
    assert percentile(histogram, 0.5) == statistics.median(values)
    expected_p90 = statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]
    assert percentile(histogram, 0.9) == pytest.approx(expected_p90)
    assert percentile({}, 0.5) is None


# --- referrals ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filters", [Filters(), Filters(year=LAST_YEAR), Filters(region="GE-TB")])
def test_referrals_by_service_and_outcome(world, analyst, filters):
    referrals = [
        r
        for r in world.facts.referrals
        if case_matches(r.case, Filters(region=filters.region))
        and (not filters.year or local(r.created_at).year == filters.year)
    ]
    all_referrals = [r for r in world.facts.referrals if case_matches(r.case, Filters(region=filters.region))]
    expected = {}
    for code in ("shelter", "legal_aid"):
        mine = [r for r in referrals if r.service == code]
        delivered = sum(
            1
            for r in all_referrals
            if r.service == code
            for day in r.deliveries
            if not filters.year or day.year == filters.year
        )
        if mine or delivered:
            expected[ServiceType.objects.get(country="GE", code=code).name] = (
                *(sum(1 for r in mine if r.status == s) for s in ReferralStatus),
                len(mine),
                len({r.case.pk for r in mine}),
                delivered,
            )
    table = indicators.referrals_by_service(analyst, filters)
    assert rows(table) == expected
    assert table.totals.values == tuple(sum(column) for column in zip(*expected.values(), strict=True))


# --- shelters -----------------------------------------------------------------------------------------------


def nights_and_admissions(facts: Facts, start: dt.date, end: dt.date, shelters: set[str]) -> tuple[int, int]:
    nights = admissions = 0
    day = start
    while day <= end:
        nights += sum(
            1
            for p in facts.placements
            if p.shelter in shelters and p.admitted <= day and (p.left is None or p.left > day)
        )
        day += dt.timedelta(days=1)
    admissions = sum(
        1 for p in facts.placements if p.shelter in shelters and start <= p.admitted <= end and not p.transfer
    )
    return nights, admissions


@pytest.mark.parametrize("region", ["", "GE-AJ"])
def test_shelter_occupancy_by_quarter_counts_nights_from_the_placements(world, analyst, region):
    facts = world.facts
    shelters = {key for key, r in facts.shelter_region.items() if not region or r == region}
    places = sum(sum(facts.places[key].values()) for key in shelters)
    today = timezone.localdate()
    expected = {}
    for q in (1, 2, 3, 4):
        start = dt.date(LAST_YEAR, 3 * q - 2, 1)
        end = (
            dt.date(LAST_YEAR, 12, 31) if q == 4 else dt.date(LAST_YEAR, 3 * q + 1, 1) - dt.timedelta(days=1)
        )
        end = min(end, today)
        days = (end - start).days + 1
        nights, admissions = nights_and_admissions(facts, start, end, shelters)
        expected[period_label(LAST_YEAR, q)] = (
            places,
            admissions,
            nights,
            round(nights / days, 1),
            round(100 * nights / (days * places), 1),
        )
    table = indicators.shelter_occupancy(analyst, Filters(year=LAST_YEAR, region=region))
    assert rows(table) == expected
    assert sum(values[2] for values in expected.values()) > 0, "the data has nights in the year"


def test_shelter_occupancy_this_year_stops_today(world, analyst):
    today = timezone.localdate()
    shelters = set(world.facts.shelter_region)
    table = indicators.shelter_occupancy(analyst, Filters(year=today.year))
    current = (today.month - 1) // 3 + 1
    start = dt.date(today.year, 3 * current - 2, 1)
    nights, _admissions = nights_and_admissions(world.facts, start, today, shelters)
    values = rows(table)[period_label(today.year, current)]
    assert values[2] == nights
    assert values[3] == round(nights / ((today - start).days + 1), 1)
    if current < 4:
        assert rows(table)[period_label(today.year, 4)][1:] == (0, 0, None, None), "no figures for the future"


def test_shelter_places_and_people_placed_today(world, analyst):
    facts = world.facts
    placed = Counter(p.category for p in facts.placements if p.left is None)
    expected = {}
    for category in Category:
        places = sum(facts.places[key][category.value] for key in facts.places)
        expected[str(category.label)] = (
            places,
            placed[category.value],
            max(places - placed[category.value], 0),
        )
    table = indicators.shelter_places_now(analyst, Filters())
    assert rows(table) == expected
    assert table.totals.values[:2] == (
        sum(sum(p.values()) for p in facts.places.values()),
        sum(placed.values()),
    ), "the closed shelter's places do not count"


# --- compensation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filters", [Filters(), Filters(year=LAST_YEAR)])
def test_compensation_approved_and_paid_by_period(world, analyst, filters):
    compensations = world.facts.compensations

    def key(moment: dt.datetime) -> tuple[int, int | None]:
        day = local(moment)
        return (day.year, quarter(day) if filters.year else None)

    if filters.year:
        keys = [(filters.year, q) for q in (1, 2, 3, 4)]
    else:
        years = [key(c.approved_at)[0] for c in compensations] + [
            key(c.paid_at)[0] for c in compensations if c.paid_at
        ]
        keys = [(y, None) for y in range(min(years), max(years) + 1)]
    expected = {}
    for k in keys:
        paid = [c for c in compensations if c.paid_at and key(c.paid_at) == k]
        expected[period_label(*k)] = (
            sum(1 for c in compensations if key(c.approved_at) == k),
            len(paid),
            sum((c.amount for c in paid), Decimal("0.00")),
        )
    table = indicators.compensation_by_period(analyst, filters)
    assert table.columns[2] == "Amount paid (GEL)"
    assert rows(table) == expected
    assert sum(v[2] for v in expected.values()) > 0


# --- scope --------------------------------------------------------------------------------------------------


def test_a_coordinator_with_agency_scope_counts_only_what_their_agency_reaches(world):
    coordinator = access_for(member(Role.COORDINATOR, agency=world.agencies["ngo"], scope=Scope.AGENCY))
    facts = world.facts
    mine = [c for c in facts.cases if "ngo" in (c.owner, c.referrer)]
    theirs = [n for n in facts.notifications if n.agency == "ngo"]
    assert 0 < len(mine) < len(facts.cases)
    table = indicators.victims_by_period(coordinator, Filters())
    assert table.totals.values == (
        len(mine),
        sum(c.child for c in mine),
        sum(c.identified for c in mine),
        len(theirs),
    )
    decided = [d for d in facts.decisions if d.decided_at and d.case in mine]
    assert indicators.decisions_by_period(coordinator, Filters()).totals.values[0] == len(decided)
    assert indicators.compensation_by_period(coordinator, Filters()).totals.values[0] == sum(
        1 for c in facts.compensations if c.case in mine
    )
    assert indicators.referrals_by_service(coordinator, Filters()).totals.values[5] == sum(
        1 for r in facts.referrals if r.case in mine
    )
    # The NGO runs no shelter: no places, nobody placed.
    assert indicators.shelter_places_now(coordinator, Filters()).totals.values == (0, 0, 0)


def test_a_national_coordinator_counts_everything(world):
    coordinator = access_for(member(Role.COORDINATOR, agency=world.agencies["ngo"], scope=Scope.NATIONAL))
    assert indicators.victims_by_period(coordinator, Filters()).totals.values[0] == len(world.facts.cases)
    assert indicators.victims_by_period(coordinator, Filters()).totals.values[3] == len(
        world.facts.notifications
    )


@pytest.mark.parametrize("role", [r for r in Role if r not in (Role.COORDINATOR, Role.ANALYST)])
def test_roles_without_statistics_count_nothing(world, role):
    access = access_for(member(role, agency=world.agencies["state_fund"], scope=Scope.NATIONAL))
    for key, table in indicators.all_tables(access, Filters()).items():
        assert all(not value for row in table.rows for value in row.values), key
    assert indicators.victims_by_period(access, Filters()).totals.values == (0, 0, 0, 0)


def test_available_years_run_from_the_first_contact_to_this_year(world, analyst):
    first = min(c.first_contact.year for c in world.facts.cases)
    assert indicators.available_years(analyst) == list(range(timezone.localdate().year, first - 1, -1))
