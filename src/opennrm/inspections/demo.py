"""Demo labour inspections: a year of the Georgian labour inspection at work (generated workplaces and workers, never
real ones).

`build_demo_inspections()` records every inspection, screening and referral through the same services as a real
one (`record_inspection`, `start_screening`, `save_draft`, `complete_screening`, `refer_worker`), and lives some of
the referred cases on to a decision (`request_decision`, `decide`), so that the statistics show outcomes. Each act
runs with `django.utils.timezone.now` replaced by the moment it happens (only here, only while building), in time
order: the audit log and the alerts carry the dates of the acts.

Workplaces are named "Demo ... LLC" with identifiers starting with "DEMO"; workers referred get generated names
(the name lists of `opennrm.cases.demo`). Most screenings are negative; a few find a presumed victim, who is
referred with consent, or counted in an anonymous notification, or (a child) referred in their best interests.
A few screenings of the last days are left as drafts, as an inspector interrupted would leave them.

Idempotent: when the instance already has an inspection, nothing is added. Run it after `build_demo_cases()`,
which adds nothing once the instance has a case (and a referral from an inspection makes one).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from opennrm.accounts import services as account_services
from opennrm.accounts.management.commands.load_demo import build_demo
from opennrm.accounts.models import Agency, Membership, User
from opennrm.accounts.roles import Role, Scope
from opennrm.cases import screening as instruments
from opennrm.cases import services as case_services
from opennrm.cases.choices import CaseStatus, DecisionOutcome
from opennrm.cases.demo import CULTURE_OF, NAMES
from opennrm.cases.models import Case, Decision
from opennrm.cases.services import IntakeData
from opennrm.core import audit
from opennrm.core.models import Alert
from opennrm.core.profiles import active_profile
from opennrm.inspections import services
from opennrm.inspections.models import Inspection, WorkerScreening

# Demo inspectors of the Labour Inspection Service of load_demo (first responders, own records). "inspector" is
# also a demo filer of opennrm.cases.demo, with the same name and role.
INSPECTORS: tuple[tuple[str, str, str], ...] = (
    ("inspector", "Mariam", "Demo-Inspector"),
    ("inspector_west", "Lasha", "Demo-Inspector"),
    ("inspector_east", "Nana", "Demo-Inspector"),
)
SECTORS = {
    "a_agriculture_forestry_and_fishing": 28,
    "f_construction": 24,
    "c_manufacturing": 15,
    "i_accommodation_and_food_service_activities": 14,
    "g_wholesale_and_retail_trade_repair_of_motor_vehicles": 8,
    "h_transportation_and_storage": 5,
    "b_mining_and_quarrying": 3,
    "t_activities_of_households_as_employers": 3,
}
REGIONS = {
    "GE-TB": 30,
    "GE-KA": 14,
    "GE-AJ": 15,
    "GE-IM": 11,
    "GE-KK": 10,
    "GE-SZ": 6,
    "GE-SK": 6,
    "GE-SJ": 3,
    "GE-GU": 3,
    "GE-MM": 2,
}
WEST = {"GE-AJ", "GE-IM", "GE-SZ", "GE-GU"}
EAST = {"GE-KA", "GE-KK", "GE-SJ", "GE-MM", "GE-SK"}
# A presumed victim is found in few screenings; more where migrant and seasonal work is common.
POSITIVE_SHARE = {
    "a_agriculture_forestry_and_fishing": 0.07,
    "f_construction": 0.06,
    "c_manufacturing": 0.04,
    "t_activities_of_households_as_employers": 0.15,
    "i_accommodation_and_food_service_activities": 0.03,
}
CITIZENSHIP = {"GE": 78, "UZ": 6, "AZ": 5, "TR": 4, "AM": 3, "UA": 2, "RU": 1, "KZ": 1}
WORKPLACE = {
    "a_agriculture_forestry_and_fishing": [
        "Greenhouses",
        "Vineyards",
        "Hazelnut Farm",
        "Tea Plantation",
        "Orchards",
    ],
    "f_construction": ["Building", "Construction", "Roads", "Towers"],
    "c_manufacturing": ["Textiles", "Garments", "Bakery", "Furniture", "Packaging"],
    "i_accommodation_and_food_service_activities": ["Hotel", "Restaurants", "Guesthouse", "Catering"],
    "g_wholesale_and_retail_trade_repair_of_motor_vehicles": ["Car Wash", "Market Stalls", "Auto Service"],
    "h_transportation_and_storage": ["Logistics", "Warehouse", "Transport"],
    "b_mining_and_quarrying": ["Quarry", "Manganese Works"],
    "t_activities_of_households_as_employers": ["Household Services"],
}
ADJECTIVES = [
    "Golden",
    "Green Valley",
    "Black Sea",
    "Caucasus",
    "Sunrise",
    "New",
    "United",
    "Old Town",
    "Mountain",
]
FINDINGS = [
    "Working hours above the legal limit for most workers interviewed; no records of overtime pay.",
    "Safety equipment missing at height; no first-aid kit on site.",
    "Written contracts for all workers seen; wages paid by bank transfer.",
    "Several workers said wages are paid late, in cash, without pay slips.",
    "Dormitory on site; workers said they may leave freely. No documents held by the employer.",
    "Workers recruited through an agency abroad said they owe the agency for the travel.",
    "No violations found in the documents checked.",
]
POSITIVE_FINDINGS = [
    "Passports of foreign workers kept in the office; workers said they cannot leave before the debt is repaid.",
    "Workers locked in the dormitory at night; wages withheld for three months.",
]


@dataclass(order=True)
class _Act:
    at: dt.datetime
    order: int
    run: Callable[[], None] = field(compare=False)


@dataclass
class _Visit:
    """One inspection while it is being lived: what its acts need from each other."""

    inspector: str
    values: dict[str, Any]
    obj: Inspection | None = None


@dataclass
class _Worker:
    visit: _Visit
    age: int
    child: bool
    sex: str
    citizenship: str
    instrument: instruments.Instrument
    item: instruments.InstrumentList
    positive: bool
    consents: bool
    obj: WorkerScreening | None = None
    decision_id: int = 0


def _pick[T](rng: random.Random, weights: Mapping[T, float]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@contextmanager
def _clock(start: dt.datetime) -> Iterator[Callable[[dt.datetime], None]]:
    """Replace `timezone.now` with a clock the caller sets; give the real one back afterwards."""
    current = [start]
    with mock.patch.object(timezone, "now", lambda: current[0]):
        yield lambda when: current.__setitem__(0, when)


class _Builder:
    def __init__(self, *, months: int, seed: int, now: dt.datetime) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - generated demo data, not a secret
        self.now = now
        self.start = now - dt.timedelta(days=round(months * 30.44))
        self.profile = active_profile()
        self.zone = ZoneInfo(self.profile.time_zone)
        self.agencies: dict[str, Agency] = {}
        self.users: dict[str, User] = {}
        self.acts: list[_Act] = []
        self.inspections = 0

    # --- staff ------------------------------------------------------------------------------------------------

    def staff(self) -> None:
        """The demo mechanism of load_demo and its inspectors, whose memberships start before the first act."""
        self.agencies = build_demo()
        labour = self.agencies["labour"]
        for username, first, last in INSPECTORS:
            user = User.objects.filter(username=username).first()
            if user is None:
                # As accounts.services.create_user, with an unusable password: demo staff cannot log in.
                user = User.objects.create_user(
                    username=username, password=None, first_name=first, last_name=last
                )
                audit.record(actor=None, action="user.created", target=user)
            if not Membership.objects.filter(user=user, agency=labour, role=Role.FIRST_RESPONDER).exists():
                account_services.grant_membership(
                    actor=None, user=user, agency=labour, role=Role.FIRST_RESPONDER, scope=Scope.OWN
                )
        wanted = {name for name, _first, _last in INSPECTORS} | {"caseworker", "decider"}
        self.users = {u.username: u for u in User.objects.filter(username__in=wanted)}
        # The police partner alerted on referrals (load_demo's first responder) was there too.
        Membership.objects.filter(
            Q(user__in=self.users.values()) | Q(user__username="responder"), valid_from__gt=self.start
        ).update(valid_from=self.start - dt.timedelta(days=1))

    # --- planning ---------------------------------------------------------------------------------------------

    def _moment(self, day: dt.date) -> dt.datetime:
        """A working hour of `day` in the country's time zone."""
        minutes = self.rng.randint(9 * 60, 15 * 60)
        local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=self.zone)
        return local.astimezone(dt.UTC)

    def _employer(self, sector: str) -> tuple[str, list[dict[str, str]]]:
        rng = self.rng
        name = f"Demo {rng.choice(ADJECTIVES)} {rng.choice(WORKPLACE[sector])} LLC"
        identifiers = [{"type": "tax_id", "value": f"DEMO{rng.randint(100_000_000, 999_999_999)}"}]
        if rng.random() < 0.4:
            identifiers.append({"type": "registration", "value": f"DEMO-REG-{rng.randint(10_000, 99_999)}"})
        return name, identifiers

    def _inspector(self, region: str) -> str:
        if region in WEST:
            return self.rng.choice(["inspector_west", "inspector_west", "inspector"])
        if region in EAST:
            return self.rng.choice(["inspector_east", "inspector_east", "inspector"])
        return self.rng.choice([name for name, _first, _last in INSPECTORS])

    def plan_inspection(self, day: dt.date) -> None:
        rng = self.rng
        sector = _pick(rng, SECTORS)
        region = (
            "GE-KA"
            if sector == "a_agriculture_forestry_and_fishing" and rng.random() < 0.3
            else _pick(rng, REGIONS)
        )
        present = max(2, round(rng.triangular(2, 160, 14)))
        interviewed = min(present, rng.randint(1, 12))
        name, identifiers = self._employer(sector)
        inspector = self._inspector(region)
        joint = rng.random() < 0.08
        at = self._moment(day)
        workers = self._workers(sector, interviewed)
        findings = rng.choice(POSITIVE_FINDINGS if any(w.positive for w in workers) else FINDINGS)
        visit = _Visit(
            inspector=inspector,
            values={
                "employer_name": name,
                "employer_identifiers": identifiers,
                "sector": sector,
                "region": region,
                "date": day,
                "joint_with_police": joint,
                "workers_present": present,
                "workers_interviewed": interviewed,
                "findings": findings,
            },
        )
        self._at(at, lambda: self._record(visit))
        interrupted = (self.now - at) < dt.timedelta(days=5)
        for index, worker in enumerate(workers):
            worker.visit = visit
            moment = at + dt.timedelta(minutes=25 * (index + 1))
            self._at(moment, partial(self._start, worker))
            self._at(moment + dt.timedelta(minutes=10), partial(self._fill, worker))
            if interrupted and index == len(workers) - 1 and not worker.positive:
                continue  # left as a draft: the inspector was interrupted
            if worker.positive:
                self._at(moment + dt.timedelta(minutes=20), partial(self._refer, worker))
                if worker.consents or worker.child:
                    self._decision(worker, moment)
            else:
                self._at(moment + dt.timedelta(minutes=15), partial(self._complete, worker))

    def _workers(self, sector: str, interviewed: int) -> list[_Worker]:
        rng = self.rng
        count = min(interviewed, _pick(rng, {0: 20, 1: 30, 2: 25, 3: 15, 4: 10}))
        delphi = instruments.latest("ilo_ec_delphi_2009")
        ilo = instruments.latest("ilo_forced_labour_11_2012")
        workers = []
        for _ in range(count):
            child = rng.random() < 0.04
            age = rng.randint(14, 17) if child else round(rng.triangular(18, 63, 31))
            if child:
                instrument, item = delphi, delphi.get_list("child_labour")
            elif rng.random() < 0.5:
                instrument, item = ilo, ilo.get_list("adult_forced_labour")
            else:
                instrument, item = delphi, delphi.get_list("adult_labour")
            workers.append(
                _Worker(
                    visit=_Visit(inspector="", values={}),
                    age=age,
                    child=child,
                    sex="feminine"
                    if rng.random() < (0.6 if sector.startswith(("i_", "t_", "c_")) else 0.2)
                    else "masculine",
                    citizenship=_pick(rng, CITIZENSHIP),
                    instrument=instrument,
                    item=item,
                    positive=rng.random() < POSITIVE_SHARE.get(sector, 0.02),
                    consents=rng.random() < 0.75,
                )
            )
        return workers

    def _decision(self, worker: _Worker, referred_at: dt.datetime) -> None:
        """Most referred cases are sent for a decision within days; most decisions grant the status."""
        rng = self.rng
        if rng.random() > 0.8:
            return
        requested = referred_at + dt.timedelta(hours=rng.uniform(24, 6 * 24))
        self._at(requested, lambda: self._request(worker))
        granted = rng.random() < 0.75
        self._at(
            requested + dt.timedelta(hours=rng.uniform(2, 46)), lambda: self._decide(worker, granted=granted)
        )

    def _at(self, at: dt.datetime, run: Callable[[], None]) -> None:
        if at <= self.now - dt.timedelta(minutes=1):
            self.acts.append(_Act(at=at, order=len(self.acts), run=run))

    # --- acts -------------------------------------------------------------------------------------------------

    def _record(self, visit: _Visit) -> None:
        visit.obj = services.record_inspection(
            actor=self.users[visit.inspector], agency=self.agencies["labour"], **visit.values
        )
        self.inspections += 1

    def _start(self, worker: _Worker) -> None:
        assert worker.visit.obj is not None
        worker.obj = services.start_screening(
            actor=self.users[worker.visit.inspector],
            inspection=worker.visit.obj,
            instrument_id=worker.instrument.id,
            instrument_version=worker.instrument.version,
            list_id=worker.item.id,
            age=worker.age,
            sex=worker.sex,
            citizenship=worker.citizenship,
        )

    def _fill(self, worker: _Worker) -> None:
        assert worker.obj is not None
        services.save_draft(
            actor=self.users[worker.visit.inspector],
            screening=worker.obj,
            expected_version=worker.obj.version,
            found=self._indicators(worker),
        )

    def _complete(self, worker: _Worker) -> None:
        assert worker.obj is not None
        services.complete_screening(
            actor=self.users[worker.visit.inspector],
            screening=worker.obj,
            expected_version=worker.obj.version,
        )

    def _refer(self, worker: _Worker) -> None:
        assert worker.obj is not None
        identity = None
        if worker.consents or worker.child:
            culture = "ka" if worker.citizenship == "GE" else CULTURE_OF.get(worker.citizenship, "ru")
            pool = NAMES[culture]
            given = self.rng.choice(pool["f" if worker.sex == "feminine" else "m"])[0]
            family = self.rng.choice(pool["family"])[0]
            identity = IntakeData(
                given_name=given,
                family_name=family,
                age_estimate=worker.age,
                sex=worker.sex,
                citizenship=worker.citizenship,
                guardian="Guardianship and custody body of the municipality" if worker.child else "",
                narrative="Met at a labour inspection; screened on site.",
            )
        worker.obj = services.refer_worker(
            actor=self.users[worker.visit.inspector],
            screening=worker.obj,
            consent_given=worker.consents,
            identity=identity,
            owning_agency=self.agencies["fund"],
        )

    def _case(self, worker: _Worker) -> Case | None:
        if worker.obj is None or worker.obj.case_id is None:
            return None
        return Case.objects.get(pk=worker.obj.case_id)

    def _request(self, worker: _Worker) -> None:
        case = self._case(worker)
        if case is None or case.status not in (CaseStatus.REFERRED, CaseStatus.SCREENED):
            return
        route = self.profile.authorities[0].key
        worker.decision_id = case_services.request_decision(
            actor=self.users["caseworker"], case=case, route=route
        ).pk

    def _decide(self, worker: _Worker, *, granted: bool) -> None:
        if not worker.decision_id:
            return
        decision = Decision.objects.get(pk=worker.decision_id)
        case_services.decide(
            actor=self.users["decider"],
            decision=decision,
            outcome=DecisionOutcome.GRANTED if granted else DecisionOutcome.REFUSED,
            reasons="Indicators of forced labour confirmed by the interview and the inspection's findings."
            if granted
            else "The facts show labour law violations, not the means of trafficking.",
            members=["Demo member (NGO)", "Demo member (international organisation)", "Demo chair"],
        )

    def _indicators(self, worker: _Worker) -> set[str]:
        """Indicators that meet the instrument's rule (positive) or fall short of it."""
        rng = self.rng
        rule = worker.instrument.rule
        item = worker.item
        if isinstance(rule, instruments.CountRule):
            ids = [i.id for i in item.indicators]
            n = (
                rng.randint(rule.threshold, rule.threshold + 3)
                if worker.positive
                else rng.choice([0, 0, 0, 1] if rule.threshold > 1 else [0])
            )
            return set(rng.sample(ids, min(n, len(ids))))
        if not worker.positive:
            exploitation = [d for d in item.dimensions if d.kind == instruments.DimensionKind.EXPLOITATION]
            medium = [
                i.id for d in exploitation for i in d.indicators if i.strength == instruments.Strength.MEDIUM
            ]
            return set(rng.sample(medium, min(len(medium), rng.choice([0, 0, 1, 2]))))
        found: set[str] = set()
        for requirement in rule.requirements(item.population):
            dimensions = [d for d in item.dimensions if d.kind == requirement.kind and d.indicators]
            dimension = rng.choice(dimensions)
            strong = [i.id for i in dimension.indicators if i.strength == instruments.Strength.STRONG]
            medium = [i.id for i in dimension.indicators if i.strength == instruments.Strength.MEDIUM]
            if strong and medium:
                found |= {rng.choice(strong), rng.choice(medium)}
            else:
                found |= set(rng.sample(strong + medium, min(3, len(strong + medium))))
        return found

    # --- running --------------------------------------------------------------------------------------------

    def run(self) -> None:
        day = timezone.localtime(self.start, self.zone).date()
        today = timezone.localtime(self.now, self.zone).date()
        while day <= today:
            if self.profile.is_working_day(day):
                for _ in range(_pick(self.rng, {0: 10, 1: 45, 2: 30, 3: 15})):
                    self.plan_inspection(day)
            day += dt.timedelta(days=1)
        self.acts.sort()
        with _clock(self.start) as set_clock:
            for act in self.acts:
                set_clock(act.at)
                act.run()
        # The police read the alerts of all but the last week.
        Alert.objects.filter(
            kind__in=["inspection_referral", "inspection_notification"],
            created_at__lt=self.now - dt.timedelta(days=7),
            read_at__isnull=True,
        ).update(read_at=self.now)


def build_demo_inspections(*, months: int = 12, seed: int = 2026, now: dt.datetime | None = None) -> int:
    """Add `months` months of generated inspections (about one to two a working day), with their screenings and
    referrals, to the demo mechanism of `load_demo`; the same seed gives the same inspections relative to `now`.

    Does nothing and returns 0 when the instance already has inspections or is not Georgian (the demo's regions,
    agencies and sectors are Georgia's); otherwise returns the number of inspections recorded.
    """
    if Inspection.objects.exists() or active_profile().code != "GE":
        return 0
    builder = _Builder(months=months, seed=seed, now=now or timezone.now())
    with transaction.atomic():
        builder.staff()
        builder.run()
    return builder.inspections
