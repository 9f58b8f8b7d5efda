"""Demo shelters: the two State Fund shelters of Georgia (Tbilisi, Batumi) with their residents and their history.

`build_demo_shelters()` runs after `build_demo_cases()` (it adds nothing when the demo shelters exist):

1. Records the shelters of the demo agencies "State Fund Shelter, Tbilisi" and "State Fund Shelter, Batumi"
   through `services.create_shelter`, as the demo coordinator. Their addresses are obviously fake.
2. Past stays: every shelter referral of the demo cases that was accepted and later completed becomes a stay
   from its acceptance to its completion. These are written as data (no audit entry, no timeline event): their
   referrals are completed, so no service could admit them now, and nobody did these acts in this instance.
3. People in the shelters now: every shelter referral that is accepted and still open is admitted through
   `services.admit`, by the shelter's demo staff, at the moment of its acceptance (the clock is moved there, as
   the cases demo does). Where a shelter still has fewer than `MIN_RESIDENTS`, open demo cases are referred to it
   with the referrals services (`refer_to_service`, with the person's consent, or for a child in their best
   interests; `accept_referral`) and admitted the same way, some of them weeks ago.
4. Runs the stay-limit check once, so stays near their limit show up as alerts for the shelter staff and the
   coordinator.

The same seed gives the same result for the same demo cases.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from opennrm.accounts.management.commands.load_demo import build_demo
from opennrm.accounts.models import Agency, Membership, User
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm
from opennrm.cases import services as case_services
from opennrm.cases.choices import CaseStatus, ConsentBasis, ConsentPurpose
from opennrm.cases.models import Case
from opennrm.core.errors import DomainError
from opennrm.core.profiles import active_profile
from opennrm.referrals import services as referral_services
from opennrm.referrals.models import Referral, ReferralStatus, ServiceCategory, ServiceType
from opennrm.shelters import services
from opennrm.shelters.models import Category, DischargeReason, Placement, Shelter
from opennrm.shelters.services import ShelterData, stay_terms
from opennrm.shelters.tasks import notify_stays_ending

SHELTERS: tuple[tuple[str, ShelterData], ...] = (
    (
        "State Fund Shelter, Tbilisi",
        ShelterData(
            name="State Fund Shelter Tbilisi",
            region="GE-TB",
            address="DEMO ADDRESS, not a real place: 1 Placeholder Street, Tbilisi",
            capacity_women=20,
            capacity_men=10,
            capacity_children=8,
            capacity_families=4,
            wheelchair_accessible=True,
            accessibility_notes="Lift to every floor; an accessible bathroom on each floor.",
        ),
    ),
    (
        "State Fund Shelter, Batumi",
        ShelterData(
            name="State Fund Shelter Batumi",
            region="GE-AJ",
            address="DEMO ADDRESS, not a real place: 2 Placeholder Street, Batumi",
            capacity_women=12,
            capacity_men=6,
            capacity_children=6,
            capacity_families=2,
            wheelchair_accessible=False,
            accessibility_notes="No lift; a ground-floor room can be arranged.",
        ),
    ),
)
COORDINATOR = "coordinator"  # the demo coordinator of load_demo
SENDER = "caseworker"  # the demo case worker of the State Fund (load_demo)
MIN_RESIDENTS = 3
PAST_REASONS = {
    DischargeReason.COMPLETED: 45,
    DischargeReason.MOVED_TO_OWN_HOUSING: 20,
    DischargeReason.RETURNED_HOME: 20,
    DischargeReason.LEFT_VOLUNTARILY: 10,
    DischargeReason.OTHER: 5,
}


def category_for(case: Case) -> Category:
    if case.is_child:
        return Category.CHILDREN
    if case.person.sex in ("feminine", "transgender_feminine"):
        return Category.WOMEN
    return Category.MEN


@contextmanager
def _clock(at: dt.datetime) -> Iterator[None]:
    with mock.patch.object(timezone, "now", lambda: at):
        yield


def _staff(agency: Agency) -> User | None:
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if Perm.SHELTER_OPERATE in perms]
    membership = (
        Membership.objects.active()
        .filter(agency=agency, role__in=roles)
        .select_related("user")
        .order_by("valid_from", "id")
        .first()
    )
    return membership.user if membership else None


class _Builder:
    def __init__(self, seed: int, now: dt.datetime) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - generated demo data, not a secret
        self.now = now
        self.shelters: dict[int, Shelter] = {}  # by agency id
        self.staff: dict[int, User] = {}

    def build_shelters(self) -> None:
        agencies = build_demo()
        coordinator = User.objects.get(username=COORDINATOR)
        by_name = {a.name: a for a in agencies.values()}
        for agency_name, data in SHELTERS:
            agency = by_name[agency_name]
            shelter = services.create_shelter(actor=coordinator, agency=agency, data=data)
            self.shelters[agency.pk] = shelter
            staff = _staff(agency)
            if staff is not None:
                self.staff[agency.pk] = staff

    def _shelter_referrals(self, status: str) -> list[Referral]:
        return list(
            Referral.objects.filter(
                to_agency_id__in=self.shelters,
                status=status,
                service__category=ServiceCategory.SHELTER,
                responded_at__isnull=False,
            )
            .select_related("case", "case__person")
            .order_by("responded_at", "id")
        )

    def past_stays(self) -> int:
        profile = active_profile()
        stays = []
        for referral in self._shelter_referrals(ReferralStatus.COMPLETED):
            admitted, left = referral.responded_at, referral.completed_at
            staff = self.staff.get(referral.to_agency_id)
            if admitted is None or left is None or left < admitted or staff is None:
                continue
            limit, maximum, rule = stay_terms(profile, timezone.localdate(admitted))
            reasons, weights = zip(*PAST_REASONS.items(), strict=True)
            stays.append(
                Placement(
                    shelter=self.shelters[referral.to_agency_id],
                    case=referral.case,
                    referral=referral,
                    category=category_for(referral.case),
                    admitted_at=admitted,
                    admitted_by=staff,
                    stay_limit=limit,
                    stay_maximum=maximum,
                    stay_rule=rule,
                    discharged_at=left,
                    discharged_by=staff,
                    discharge_reason=self.rng.choices(reasons, weights)[0],
                )
            )
        Placement.objects.bulk_create(stays)
        return len(stays)

    def _admit(self, referral: Referral, at: dt.datetime) -> Placement | None:
        staff = self.staff.get(referral.to_agency_id)
        if staff is None:
            return None
        try:
            with _clock(at), transaction.atomic():
                return services.admit(
                    actor=staff,
                    shelter=self.shelters[referral.to_agency_id],
                    referral=referral,
                    category=category_for(referral.case),
                )
        except DomainError:
            return None  # full, closed case, or overlapping a past stay: as a real shelter would refuse

    def current_stays(self) -> int:
        count = 0
        for referral in self._shelter_referrals(ReferralStatus.ACCEPTED):
            assert referral.responded_at is not None
            at = min(referral.responded_at + dt.timedelta(hours=self.rng.uniform(1, 20)), self.now)
            if self._admit(referral, at) is not None:
                count += 1
        return count

    def _candidates(self) -> list[Case]:
        placed = Placement.objects.filter(case_id=OuterRef("pk"), discharged_at__isnull=True)
        open_shelter_referral = Referral.objects.filter(
            case_id=OuterRef("pk"),
            service__category=ServiceCategory.SHELTER,
            status__in=(ReferralStatus.PENDING, ReferralStatus.ACCEPTED),
        )
        fund = Agency.objects.filter(name__startswith="State Fund for Protection").first()
        cases = (
            Case.objects.exclude(status=CaseStatus.CLOSED)
            .filter(owning_agency=fund)
            .exclude(Exists(placed))
            .exclude(Exists(open_shelter_referral))
            .select_related("person")
            .order_by("created_at", "id")
        )
        return list(cases)

    def top_up(self) -> int:
        """Refer open cases to shelters that have fewer than MIN_RESIDENTS, and admit them."""
        sender = User.objects.filter(username=SENDER).first()
        service = ServiceType.objects.filter(country=active_profile().code, code="shelter").first()
        if sender is None or service is None:
            return 0
        candidates = self._candidates()
        self.rng.shuffle(candidates)
        count = 0
        for shelter in self.shelters.values():
            wanted = (
                MIN_RESIDENTS - Placement.objects.filter(shelter=shelter, discharged_at__isnull=True).count()
            )
            while wanted > 0 and candidates:
                case = candidates.pop()
                # Referred some weeks ago (before the limit for some), after the case began.
                days = self.rng.choice((2, 9, 30, 60, 86))
                at = max(self.now - dt.timedelta(days=days), case.created_at + dt.timedelta(hours=2))
                if self._refer_and_admit(sender, service, case, shelter, at):
                    wanted -= 1
                    count += 1
        return count

    def _refer_and_admit(
        self, sender: User, service: ServiceType, case: Case, shelter: Shelter, at: dt.datetime
    ) -> bool:
        agency = shelter.agency
        staff = self.staff.get(agency.pk)
        if staff is None:
            return False
        try:
            with _clock(at), transaction.atomic():
                override = ""
                if case.is_child:
                    override = ConsentBasis.CHILD_BEST_INTERESTS
                elif case_services.has_consent(case, ConsentPurpose.REFERRAL, agency) is None:
                    case_services.record_consent(
                        actor=sender, case=case, purpose=ConsentPurpose.REFERRAL, given=True, agency=agency
                    )
                referral = referral_services.refer_to_service(
                    actor=sender,
                    case=case,
                    service=service,
                    to_agency=agency,
                    from_agency=case.owning_agency,
                    reason="Safe accommodation.",
                    override_basis=override,
                )
            with _clock(at + dt.timedelta(hours=2)), transaction.atomic():
                referral_services.accept_referral(actor=staff, referral=referral)
        except (DomainError, PermissionDenied):
            return False
        return self._admit(referral, at + dt.timedelta(hours=5)) is not None


def demo_shelters_exist() -> bool:
    return Shelter.objects.filter(agency__name__in=[name for name, _data in SHELTERS]).exists()


def build_demo_shelters(*, seed: int = 2026, now: dt.datetime | None = None) -> int:
    """Add the demo shelters, their past stays and their residents (see the module docstring). Returns the number
    of stays recorded (past and present); 0 when the demo shelters exist already or the instance is not Georgian
    (the demo's shelters, regions and residents are Georgia's)."""
    if demo_shelters_exist() or active_profile().code != "GE":
        return 0
    builder = _Builder(seed=seed, now=now or timezone.now())
    with transaction.atomic():
        builder.build_shelters()
        past = builder.past_stays()
        current = builder.current_stays()
        referred = builder.top_up()
        with _clock(builder.now):
            notify_stays_ending.call()
    return past + current + referred
