"""Generated data for the dashboard tests, and the facts it was generated from.

Cases are referred through `cases.services.refer_person` and decided through `request_decision`/`decide`, as the
mechanism makes them; then the dates the tests need (decision times, payment dates, referral dates) are set with
`update()`, because the services stamp "now". Referrals, deliveries, shelters and placements are created directly
(their services check rules these tests do not exercise).

`World.facts` keeps what was generated as plain Python values, so that a test can count the expected figure
without the database and without the code under test.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from opennrm.accounts.models import Agency, AgencyKind, User
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases import choices
from opennrm.cases.choices import ConsentBasis, ConsentPurpose, DecisionOutcome
from opennrm.cases.models import Case, Compensation, Consent, Decision
from opennrm.cases.services import (
    IntakeData,
    approve_compensation,
    decide,
    notify_anonymously,
    pay_compensation,
    refer_person,
    request_decision,
)
from opennrm.referrals.models import Referral, ReferralStatus, ServiceDelivery, ServiceType
from opennrm.shelters.models import Category, Placement, Shelter

SEXES = ["feminine", "feminine", "masculine", "transgender_feminine", "non_specified_unknown"]
AGES = [None, 8, 15, 19, 22, 25, 33, 45, 61]
CITIZENSHIPS = ["GE", "GE", "UA", "AZ", ""]
REGIONS = ["GE-TB", "GE-TB", "GE-AJ", "GE-IM", ""]
FORMS = ["forced_labour", "sexual_exploitation", "forced_begging"]
ROUTES = ["permanent_group", "law_enforcement"]
DEADLINE = dt.timedelta(hours=48)


@dataclass
class CaseFacts:
    pk: int
    owner: str  # "state_fund" | "ngo"
    referrer: str  # "state_fund" | "ngo" | "police"
    referrer_kind: str
    sex: str
    age_group: str
    child: bool
    citizenship: str
    region: str
    forms: list[str]
    first_contact: dt.date
    identified: bool = False
    route: str = ""


@dataclass
class NotificationFacts:
    agency: str
    referrer_kind: str
    sex: str
    age_group: str
    citizenship: str
    region: str
    forms: list[str]
    first_contact: dt.date


@dataclass
class DecisionFacts:
    case: CaseFacts
    requested_at: dt.datetime
    decided_at: dt.datetime | None
    deadline_at: dt.datetime
    outcome: str

    @property
    def minutes(self) -> int:
        assert self.decided_at is not None
        return round((self.decided_at - self.requested_at).total_seconds() / 60)


@dataclass
class ReferralFacts:
    case: CaseFacts
    service: str
    status: str
    created_at: dt.datetime
    deliveries: list[dt.date]


@dataclass
class CompensationFacts:
    case: CaseFacts
    approved_at: dt.datetime
    paid_at: dt.datetime | None
    amount: Decimal


@dataclass
class PlacementFacts:
    shelter: str
    category: str
    admitted: dt.date
    left: dt.date | None
    transfer: bool = False


@dataclass
class Facts:
    cases: list[CaseFacts] = field(default_factory=list)
    notifications: list[NotificationFacts] = field(default_factory=list)
    decisions: list[DecisionFacts] = field(default_factory=list)
    referrals: list[ReferralFacts] = field(default_factory=list)
    compensations: list[CompensationFacts] = field(default_factory=list)
    placements: list[PlacementFacts] = field(default_factory=list)
    places: dict[str, dict[str, int]] = field(default_factory=dict)  # shelter -> category -> places
    shelter_region: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    agencies: dict[str, Agency]
    workers: dict[str, User]
    facts: Facts


def _moment(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


def _random_day(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def build_world(*, seed: int = 20260, cases: int = 36, notifications: int = 12) -> World:
    rng = random.Random(seed)
    today = timezone.localdate()
    agencies = {
        "state_fund": AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND),
        "ngo": AgencyFactory(name="Partner NGO", kind=AgencyKind.NGO),
        "police": AgencyFactory(name="Police", kind=AgencyKind.LAW_ENFORCEMENT),
        "shelter": AgencyFactory(name="Shelter agency", kind=AgencyKind.SHELTER),
    }
    workers = {key: member(Role.CASE_WORKER, agency=agency) for key, agency in agencies.items()}
    decider = member(Role.DECISION_MAKER, agency=agencies["state_fund"], scope=Scope.NATIONAL)
    facts = Facts()
    first_day, last_day = dt.date(today.year - 2, 1, 1), today - dt.timedelta(days=1)

    for _ in range(cases):
        referrer = rng.choice(["state_fund", "ngo", "police"])
        owner = rng.choice(["state_fund", "ngo"])
        age = rng.choice(AGES)
        forms = sorted(rng.sample(FORMS, rng.choice([0, 1, 1, 2])))
        intake = IntakeData(
            given_name=f"Person{rng.randrange(10**6)}",
            family_name="Generated",
            age_estimate=age,
            sex=rng.choice(SEXES),
            citizenship=rng.choice(CITIZENSHIPS),
            region=rng.choice(REGIONS),
            exploitation_forms=forms,
            first_contact_date=_random_day(rng, first_day, last_day),
        )
        case = refer_person(
            actor=workers[referrer],
            referring_agency=agencies[referrer],
            owning_agency=agencies[owner],
            data=intake,
            consent_given=True,
        )
        assert intake.first_contact_date is not None
        facts.cases.append(
            CaseFacts(
                pk=case.pk,
                owner=owner,
                referrer=referrer,
                referrer_kind=agencies[referrer].kind,
                sex=intake.sex,
                age_group=choices.age_group(age).value,
                child=age is not None and age < 18,
                citizenship=intake.citizenship,
                region=intake.region,
                forms=forms,
                first_contact=intake.first_contact_date,
            )
        )

    # Decisions: about two thirds of the cases, decided at chosen moments after a chosen number of minutes;
    # a few left open (one in time, the others past their deadline).
    for index, fc in enumerate(facts.cases):
        if index % 3 == 2:
            continue
        case = _case(fc.pk)
        route = rng.choice(ROUTES)
        decision = request_decision(actor=workers[fc.owner], case=case, route=route)
        requested = _moment(
            _random_day(rng, fc.first_contact, last_day), rng.randrange(8, 18), rng.randrange(60)
        )
        if index % 10 == 4:  # left open
            deadline = (timezone.now() + DEADLINE) if index % 20 == 4 else requested + DEADLINE
            Decision.objects.filter(pk=decision.pk).update(requested_at=requested, deadline_at=deadline)
            facts.decisions.append(DecisionFacts(fc, requested, None, deadline, ""))
            continue
        outcome = DecisionOutcome.GRANTED if rng.random() < 0.7 else DecisionOutcome.REFUSED
        decide(actor=decider, decision=decision, outcome=outcome, reasons="Generated for the tests.")
        minutes = rng.randrange(30, 4300)  # some beyond the 48 hours
        decided = min(requested + dt.timedelta(minutes=minutes), timezone.now())
        Decision.objects.filter(pk=decision.pk).update(
            requested_at=requested, decided_at=decided, deadline_at=requested + DEADLINE
        )
        facts.decisions.append(DecisionFacts(fc, requested, decided, requested + DEADLINE, outcome))
        if outcome == DecisionOutcome.GRANTED:
            fc.identified, fc.route = True, route

    # Compensation for most identified victims: approved, and most of them paid, on chosen dates.
    coordinator = member(Role.COORDINATOR, agency=agencies["state_fund"], scope=Scope.NATIONAL)
    for index, fc in enumerate(f for f in facts.cases if f.identified):
        if index % 4 == 3:
            continue
        compensation = approve_compensation(actor=coordinator, case=_case(fc.pk))
        approved = _moment(_random_day(rng, fc.first_contact, last_day))
        paid = None
        if index % 4 != 2:
            pay_compensation(actor=coordinator, compensation=compensation, payment_reference=f"PAY-{index}")
            paid = min(approved + dt.timedelta(days=rng.randrange(1, 60)), timezone.now())
        Compensation.objects.filter(pk=compensation.pk).update(approved_at=approved, paid_at=paid)
        facts.compensations.append(CompensationFacts(fc, approved, paid, compensation.amount))

    # Referrals to services, in every status, some with deliveries.
    from opennrm.referrals.tests.factories import ensure_catalogue

    ensure_catalogue()
    services = {code: ServiceType.objects.get(country="GE", code=code) for code in ("shelter", "legal_aid")}
    for index, fc in enumerate(facts.cases):
        if index % 2:
            continue
        code = "shelter" if index % 4 == 0 else "legal_aid"
        status = list(ReferralStatus)[index % len(ReferralStatus)]
        case = _case(fc.pk)
        consent = Consent.objects.create(
            case=case,
            purpose=ConsentPurpose.REFERRAL,
            agency=agencies["shelter"],
            given=True,
            basis=ConsentBasis.CONSENT,
            recorded_by=workers[fc.owner],
        )
        referral = Referral.objects.create(
            case=case,
            service=services[code],
            from_agency=agencies[fc.owner],
            to_agency=agencies["shelter"],
            status=status,
            consent=consent,
            created_by=workers[fc.owner],
        )
        created = _moment(_random_day(rng, fc.first_contact, last_day))
        Referral.objects.filter(pk=referral.pk).update(created_at=created)
        deliveries = []
        if status in (ReferralStatus.ACCEPTED, ReferralStatus.COMPLETED):
            for _ in range(rng.randrange(1, 3)):
                start = _random_day(rng, created.date(), last_day)
                ServiceDelivery.objects.create(
                    referral=referral, start_date=start, recorded_by=workers["shelter"]
                )
                deliveries.append(start)
        facts.referrals.append(ReferralFacts(fc, code, status, created, deliveries))

    # Two shelters, placements of some of the cases (a transfer among them), one closed shelter with places.
    shelters = {
        "tbilisi": Shelter.objects.create(
            agency=agencies["shelter"],
            name="Tbilisi shelter",
            region="GE-TB",
            capacity_women=6,
            capacity_children=2,
        ),
        "batumi": Shelter.objects.create(
            agency=agencies["shelter"],
            name="Batumi shelter",
            region="GE-AJ",
            capacity_women=3,
            capacity_men=2,
        ),
    }
    Shelter.objects.create(
        agency=agencies["shelter"], name="Closed shelter", region="GE-TB", capacity_men=5, is_active=False
    )
    facts.places = {key: s.capacities for key, s in shelters.items()}
    facts.shelter_region = {key: s.region for key, s in shelters.items()}
    shelter_referrals = list(Referral.objects.filter(service__code="shelter").select_related("case"))
    for index, referral in enumerate(shelter_referrals):
        key = "tbilisi" if index % 3 else "batumi"
        category = (
            Category.CHILDREN
            if referral.case.is_child
            else (Category.WOMEN if key == "tbilisi" or index % 2 else Category.MEN)
        )
        admitted = _random_day(rng, dt.date(today.year - 1, 1, 1), today - dt.timedelta(days=2))
        left = None if index % 3 == 0 else min(admitted + dt.timedelta(days=rng.randrange(1, 120)), today)
        placement = Placement.objects.create(
            shelter=shelters[key],
            case=referral.case,
            referral=referral,
            category=category,
            admitted_at=_moment(admitted, 15),
            admitted_by=workers["shelter"],
            discharged_at=None if left is None else _moment(left, 11),
            discharge_reason="" if left is None else "completed",
        )
        facts.placements.append(PlacementFacts(key, category, admitted, left))
        if left is not None and left < today and index == 1:  # moved on to the other shelter the same day
            other = "batumi" if key == "tbilisi" else "tbilisi"
            moved = Placement.objects.create(
                shelter=shelters[other],
                case=referral.case,
                referral=referral,
                category=category,
                admitted_at=_moment(left, 12),
                admitted_by=workers["shelter"],
            )
            Placement.objects.filter(pk=placement.pk).update(
                transferred_to=moved, discharge_reason="transferred"
            )
            facts.placements.append(PlacementFacts(other, category, left, None, transfer=True))

    # Anonymous notifications (adults only).
    for _ in range(notifications):
        agency = rng.choice(["state_fund", "ngo", "police"])
        age = rng.choice([None, 19, 25, 33, 45])
        forms = sorted(rng.sample(FORMS, rng.choice([0, 1, 2])))
        first_contact = _random_day(rng, first_day, last_day)
        n = notify_anonymously(
            actor=workers[agency],
            agency=agencies[agency],
            first_contact_date=first_contact,
            sex=rng.choice(SEXES),
            age=age,
            citizenship=rng.choice(CITIZENSHIPS),
            region=rng.choice(REGIONS),
            exploitation_forms=forms,
        )
        facts.notifications.append(
            NotificationFacts(
                agency=agency,
                referrer_kind=agencies[agency].kind,
                sex=n.sex,
                age_group=n.age_group,
                citizenship=n.citizenship,
                region=n.region,
                forms=forms,
                first_contact=first_contact,
            )
        )
    return World(agencies=agencies, workers=workers, facts=facts)


def _case(pk: int) -> Case:
    return Case.objects.get(pk=pk)
