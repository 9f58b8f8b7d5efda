"""The acts of the shelters app: admission only on an accepted shelter referral, capacity and the coordinator's
over-capacity acceptance, leaving, transfer, the stay limit of the country profile and its extension."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import Role
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases.models import CaseEvent
from opennrm.cases.services import close_case
from opennrm.core.errors import ConcurrentEditError, DomainError
from opennrm.core.models import AuditEntry
from opennrm.referrals import services as referral_services
from opennrm.referrals.models import ReferralStatus
from opennrm.referrals.tests.factories import catalogue_service, consent_to
from opennrm.shelters import services
from opennrm.shelters.models import DischargeReason, ExtensionDecision, Placement
from opennrm.shelters.services import ShelterData
from opennrm.shelters.tests.factories import ShelterFactory, world

pytestmark = pytest.mark.django_db


def codes(excinfo: pytest.ExceptionInfo[DomainError]) -> str:
    return excinfo.value.code or ""


# --- admission -------------------------------------------------------------------------------------------------


def test_an_accepted_shelter_referral_admits_the_person_with_the_limit_of_the_georgian_profile():
    w = world()
    case = w.case()
    placement = w.admit(case=case, category="women")
    admitted = timezone.localdate(placement.admitted_at)
    assert placement.is_current and placement.shelter == w.shelter and placement.category == "women"
    # Georgia: up to 3 months, no initial period: the limit is the maximum.
    assert placement.stay_limit == placement.stay_maximum
    assert placement.stay_limit.month == (admitted.month + 3 - 1) % 12 + 1
    assert placement.stay_rule.startswith("GE ")
    entry = AuditEntry.objects.filter(action="placement.admitted").get()
    assert entry.target_id == placement.public_id and entry.details["case"] == case.reference
    assert entry.details["category"] == "women"
    event = CaseEvent.objects.get(case=case, kind="shelter_admitted")
    assert event.data["shelter"] == w.shelter.name and "address" not in str(event.data).lower()


def test_a_pending_referral_does_not_admit():
    w = world()
    referral = w.referral(accept=False)
    with pytest.raises(DomainError) as refused:
        services.admit(actor=w.staff, shelter=w.shelter, referral=referral, category="women")
    assert codes(refused) == "referral_not_accepted"
    assert not Placement.objects.exists()


def test_a_referral_to_another_agency_does_not_admit_here():
    w = world()
    referral = w.referral(agency=w.other_agency)
    with pytest.raises(DomainError) as refused:
        services.admit(actor=w.coordinator, shelter=w.shelter, referral=referral, category="women")
    assert codes(refused) == "invalid_referral"


def test_a_referral_for_another_service_does_not_admit():
    w = world()
    case = w.case()
    consent_to(case, w.agency, actor=w.case_worker)
    referral = referral_services.refer_to_service(
        actor=w.case_worker,
        case=case,
        service=catalogue_service("psychological"),
        to_agency=w.agency,
        from_agency=w.fund,
    )
    referral = referral_services.accept_referral(actor=w.staff, referral=referral)
    with pytest.raises(DomainError) as refused:
        services.admit(actor=w.staff, shelter=w.shelter, referral=referral, category="women")
    assert codes(refused) == "invalid_referral"


def test_staff_of_another_agency_cannot_admit_into_this_shelter():
    w = world()
    referral = w.referral()
    with pytest.raises(PermissionDenied):
        services.admit(actor=w.other_staff, shelter=w.shelter, referral=referral, category="women")
    with pytest.raises(PermissionDenied):
        services.admit(actor=w.case_worker, shelter=w.shelter, referral=referral, category="women")


def test_an_unknown_category_is_refused():
    w = world()
    with pytest.raises(DomainError) as refused:
        w.admit(category="elderly")
    assert codes(refused) == "unknown_category"


def test_a_person_is_in_one_shelter_at_a_time():
    w = world()
    case = w.case()
    w.admit(case=case)
    referral = w.referral(case, agency=w.other_agency)
    with pytest.raises(DomainError) as refused:
        services.admit(actor=w.other_staff, shelter=w.other_shelter, referral=referral, category="women")
    assert codes(refused) == "already_placed"


def test_an_admission_in_the_future_or_before_the_referral_was_accepted_is_refused():
    w = world()
    referral = w.referral()
    with pytest.raises(DomainError) as refused:
        services.admit(
            actor=w.staff,
            shelter=w.shelter,
            referral=referral,
            category="women",
            at=timezone.now() + dt.timedelta(days=1),
        )
    assert codes(refused) == "future_date"
    with pytest.raises(DomainError) as refused:
        services.admit(
            actor=w.staff,
            shelter=w.shelter,
            referral=referral,
            category="women",
            at=timezone.now() - dt.timedelta(days=3),
        )
    assert codes(refused) == "before_referral"


def test_a_closed_case_is_not_admitted():
    w = world()
    case = w.case()
    referral = w.referral(case)
    close_case(actor=w.case_worker, case=case, reason="other")
    with pytest.raises(DomainError) as refused:
        services.admit(actor=w.staff, shelter=w.shelter, referral=referral, category="women")
    assert codes(refused) == "closed"


# --- capacity ------------------------------------------------------------------------------------------------


def test_a_full_category_refuses_the_admission_with_a_clear_message():
    w = world(capacity_men=1)
    w.admit(category="men")
    referral = w.referral()
    with pytest.raises(DomainError) as refused:
        services.admit(actor=w.staff, shelter=w.shelter, referral=referral, category="men")
    assert codes(refused) == "over_capacity"
    message = str(refused.value.messages[0])
    assert w.shelter.name in message and "1 of 1" in message and "men" in message
    # Another category still has room.
    assert services.admit(actor=w.staff, shelter=w.shelter, referral=referral, category="women").is_current


def test_a_category_without_places_refuses_everyone():
    w = world(capacity_families=0)
    with pytest.raises(DomainError) as refused:
        w.admit(category="families")
    assert codes(refused) == "over_capacity"


def test_shelter_staff_cannot_accept_over_capacity():
    w = world(capacity_children=0)
    referral = w.referral()
    with pytest.raises(DomainError) as refused:
        services.admit(
            actor=w.staff,
            shelter=w.shelter,
            referral=referral,
            category="children",
            accept_over_capacity=True,
            over_capacity_reason="No other place tonight.",
        )
    assert codes(refused) == "over_capacity_not_allowed"
    assert not Placement.objects.exists()
    assert not AuditEntry.objects.filter(action="placement.over_capacity_accepted").exists()


def test_a_coordinator_accepts_over_capacity_with_a_reason_and_it_is_audited():
    w = world(capacity_children=0)
    referral = w.referral()
    with pytest.raises(DomainError) as refused:
        services.admit(
            actor=w.coordinator,
            shelter=w.shelter,
            referral=referral,
            category="children",
            accept_over_capacity=True,
        )
    assert codes(refused) == "over_capacity_reason_required"
    placement = services.admit(
        actor=w.coordinator,
        shelter=w.shelter,
        referral=referral,
        category="children",
        accept_over_capacity=True,
        over_capacity_reason="A child with nowhere else to go tonight.",
    )
    assert placement.was_over_capacity and placement.over_capacity_accepted_by == w.coordinator
    entry = AuditEntry.objects.get(action="placement.over_capacity_accepted")
    assert entry.actor == w.coordinator.public_id and entry.target_id == placement.public_id
    assert entry.details == {
        "shelter": w.shelter.public_id,
        "category": "children",
        "occupied": 0,
        "capacity": 0,
    }
    assert "nowhere" not in str(entry.details)
    # The reason is stored encrypted.
    with connection.cursor() as cursor:
        cursor.execute("SELECT over_capacity_reason FROM shelters_placement WHERE id = %s", [placement.pk])
        assert "nowhere" not in cursor.fetchone()[0]


def test_accepting_over_capacity_when_there_is_room_records_no_over_capacity():
    w = world()
    placement = w.admit(actor=w.coordinator, accept_over_capacity=True, over_capacity_reason="Just in case.")
    assert not placement.was_over_capacity
    assert not AuditEntry.objects.filter(action="placement.over_capacity_accepted").exists()


def test_the_database_refuses_two_current_placements_of_one_case():
    w = world()
    placement = w.admit()
    with pytest.raises(IntegrityError), transaction.atomic():
        Placement.objects.create(
            shelter=w.other_shelter,
            case=placement.case,
            referral=placement.referral,
            category="women",
            admitted_at=timezone.now(),
            admitted_by=w.staff,
        )


# --- leaving ---------------------------------------------------------------------------------------------------


def test_discharge_records_the_reason_and_completes_the_shelter_referral():
    w = world()
    placement = w.admit()
    done = services.discharge(
        actor=w.staff, placement=placement, reason=DischargeReason.MOVED_TO_OWN_HOUSING, note="Rented a room."
    )
    assert not done.is_current and done.discharge_reason == "moved_to_own_housing" and done.version == 2
    done.referral.refresh_from_db()
    assert done.referral.status == ReferralStatus.COMPLETED
    assert AuditEntry.objects.filter(action="placement.discharged", target_id=placement.public_id).exists()
    assert CaseEvent.objects.filter(case=placement.case, kind="shelter_discharged").exists()
    with pytest.raises(DomainError) as refused:
        services.discharge(actor=w.staff, placement=done, reason="completed")
    assert codes(refused) == "discharged"


def test_discharge_before_admission_is_refused():
    w = world()
    placement = w.admit()
    with pytest.raises(DomainError) as refused:
        services.discharge(
            actor=w.staff,
            placement=placement,
            reason="completed",
            at=placement.admitted_at - dt.timedelta(hours=1),
        )
    assert codes(refused) == "before_admission"
    placement.refresh_from_db()
    assert placement.is_current


@pytest.mark.parametrize("reason", ["", "evicted", "transferred"])
def test_an_unknown_or_transfer_reason_is_refused_on_discharge(reason):
    w = world()
    placement = w.admit()
    with pytest.raises(DomainError) as refused:
        services.discharge(actor=w.staff, placement=placement, reason=reason)
    assert codes(refused) == "invalid_reason"


def test_only_the_shelters_staff_discharge():
    w = world()
    placement = w.admit()
    for actor in (w.coordinator, w.other_staff, w.case_worker):
        with pytest.raises(PermissionDenied):
            services.discharge(actor=actor, placement=placement, reason="completed")


def test_a_stale_version_is_refused():
    w = world()
    placement = w.admit()
    with pytest.raises(ConcurrentEditError):
        services.discharge(actor=w.staff, placement=placement, reason="completed", expected_version=7)


# --- transfer --------------------------------------------------------------------------------------------------


def test_staff_transfer_between_their_agencys_shelters_and_the_stay_continues():
    w = world()
    second = ShelterFactory(agency=w.agency, region=w.shelter.region)
    placement = w.admit()
    new = services.transfer(actor=w.staff, placement=placement, to_shelter=second)
    placement.refresh_from_db()
    assert placement.discharge_reason == DischargeReason.TRANSFERRED and placement.transferred_to == new
    assert new.is_current and new.shelter == second and new.referral == placement.referral
    assert new.stay_limit == placement.stay_limit and new.stay_maximum == placement.stay_maximum
    assert new.admitted_at == placement.discharged_at
    assert AuditEntry.objects.filter(action="placement.transferred", target_id=placement.public_id).exists()
    # The referral is not completed: the person is still in this agency's care.
    new.referral.refresh_from_db()
    assert new.referral.status == ReferralStatus.ACCEPTED


def test_staff_cannot_transfer_into_another_agencys_shelter():
    w = world()
    placement = w.admit()
    w.referral(placement.case, agency=w.other_agency)
    with pytest.raises(PermissionDenied):
        services.transfer(actor=w.staff, placement=placement, to_shelter=w.other_shelter)


def test_a_coordinator_transfers_to_another_agency_only_on_its_accepted_referral():
    w = world()
    placement = w.admit()
    with pytest.raises(DomainError) as refused:
        services.transfer(actor=w.coordinator, placement=placement, to_shelter=w.other_shelter)
    assert codes(refused) == "invalid_referral"
    other_referral = w.referral(placement.case, agency=w.other_agency)
    new = services.transfer(actor=w.coordinator, placement=placement, to_shelter=w.other_shelter)
    assert new.referral == other_referral and new.shelter == w.other_shelter
    assert Placement.objects.get(pk=placement.pk).transferred_to == new


def test_a_transfer_into_a_full_category_is_refused():
    w = world()
    second = ShelterFactory(agency=w.agency, region=w.shelter.region, capacity_women=0)
    placement = w.admit()
    with pytest.raises(DomainError) as refused:
        services.transfer(actor=w.staff, placement=placement, to_shelter=second)
    assert codes(refused) == "over_capacity"
    assert Placement.objects.get(pk=placement.pk).is_current


def test_a_transfer_to_the_same_shelter_is_refused():
    w = world()
    placement = w.admit()
    with pytest.raises(DomainError) as refused:
        services.transfer(actor=w.staff, placement=placement, to_shelter=w.shelter)
    assert codes(refused) == "same_shelter"


# --- stay limits and extensions -------------------------------------------------------------------------------


def test_georgia_allows_no_extension_beyond_three_months():
    w = world()
    placement = w.admit()
    with pytest.raises(DomainError) as refused:
        services.decide_extension(
            actor=w.coordinator,
            placement=placement,
            extend=True,
            until=placement.stay_limit + dt.timedelta(days=1),
            reason="Trial next month.",
        )
    assert codes(refused) == "beyond_maximum"


@override_settings(OPENNRM_COUNTRY="MD")
def test_moldova_30_days_extendable_to_six_months_and_not_beyond():
    w = world()
    placement = w.admit()
    admitted = timezone.localdate(placement.admitted_at)
    assert placement.stay_limit == admitted + dt.timedelta(days=30)
    six_months = placement.stay_maximum
    assert (six_months.year * 12 + six_months.month) - (admitted.year * 12 + admitted.month) == 6
    with pytest.raises(DomainError) as refused:
        services.decide_extension(
            actor=w.coordinator,
            placement=placement,
            extend=True,
            until=six_months + dt.timedelta(days=1),
            reason="Needs more time.",
        )
    assert codes(refused) == "beyond_maximum"
    with pytest.raises(DomainError) as refused:
        services.decide_extension(
            actor=w.coordinator, placement=placement, extend=True, until=placement.stay_limit, reason="Same."
        )
    assert codes(refused) == "not_later"
    with pytest.raises(DomainError) as refused:
        services.decide_extension(
            actor=w.coordinator, placement=placement, extend=True, until=six_months, reason=" "
        )
    assert codes(refused) == "reason_required"
    decision = services.decide_extension(
        actor=w.coordinator,
        placement=placement,
        extend=True,
        until=six_months,
        reason="Criminal trial pending.",
    )
    placement.refresh_from_db()
    assert decision.granted and decision.previous_until == admitted + dt.timedelta(days=30)
    assert placement.extended_until == six_months and placement.current_limit == six_months
    entry = AuditEntry.objects.get(action="placement.extension_granted")
    assert entry.details["until"] == six_months.isoformat() and "trial" not in str(entry.details).lower()
    assert ExtensionDecision.objects.count() == 1


@override_settings(OPENNRM_COUNTRY="MD")
def test_a_refused_extension_is_recorded_and_changes_no_date():
    w = world()
    placement = w.admit()
    decision = services.decide_extension(
        actor=w.coordinator, placement=placement, extend=False, reason="Own housing found."
    )
    placement.refresh_from_db()
    assert not decision.granted and placement.extended_until is None
    assert AuditEntry.objects.filter(action="placement.extension_refused").exists()


@override_settings(OPENNRM_COUNTRY="MD")
def test_only_a_coordinator_decides_an_extension():
    w = world()
    placement = w.admit()
    for actor in (w.staff, w.other_staff, w.case_worker, w.analyst):
        with pytest.raises(PermissionDenied):
            services.decide_extension(
                actor=actor, placement=placement, extend=True, until=placement.stay_maximum, reason="x"
            )


@override_settings(OPENNRM_COUNTRY="UA")
def test_without_a_rule_in_the_profile_there_is_no_limit_and_nothing_to_extend():
    w = world()
    placement = w.admit()
    assert placement.stay_limit is None and placement.stay_maximum is None and placement.stay_rule == ""
    with pytest.raises(DomainError) as refused:
        services.decide_extension(
            actor=w.coordinator,
            placement=placement,
            extend=True,
            until=timezone.localdate() + dt.timedelta(days=400),
            reason="x",
        )
    assert codes(refused) == "no_limit"


def test_the_limits_are_those_computed_at_admission_even_after_the_profile_changes():
    with override_settings(OPENNRM_COUNTRY="MD"):
        w = world()
        placement = w.admit()
    # The instance now runs under another rule (Georgia: 3 months at most); the stay keeps its own.
    until = placement.stay_maximum - dt.timedelta(days=1)
    decision = services.decide_extension(
        actor=w.coordinator, placement=placement, extend=True, until=until, reason="Trial pending."
    )
    assert decision.new_until == until


# --- shelters --------------------------------------------------------------------------------------------------


def _data(**changes: object) -> ShelterData:
    data = ShelterData(name="Kutaisi shelter", region="GE-IM", address="1 Secret Road", capacity_women=4)
    for key, value in changes.items():
        setattr(data, key, value)
    return data


def test_a_coordinator_records_a_shelter_and_the_address_is_never_in_the_audit_log():
    w = world()
    shelter = services.create_shelter(actor=w.coordinator, agency=w.agency, data=_data())
    assert shelter.capacities == {"women": 4, "men": 0, "children": 0, "families": 0}
    services.update_shelter(
        actor=w.coordinator, shelter=shelter, data=_data(address="2 New Road", capacity_men=3)
    )
    entry = AuditEntry.objects.get(action="shelter.updated")
    assert set(entry.details["changed"]) == {"address", "capacity_men"}
    assert "Road" not in str(list(AuditEntry.objects.values_list("details", flat=True)))


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"capacity_women": -1}, "invalid_capacity"),
        ({"capacity_men": 100000}, "invalid_capacity"),
        ({"region": "XX-YY"}, "unknown_region"),
        ({"name": "  "}, "required"),
    ],
)
def test_bad_shelter_data_is_refused(changes, code):
    w = world()
    with pytest.raises(DomainError) as refused:
        services.create_shelter(actor=w.coordinator, agency=w.agency, data=_data(**changes))
    assert codes(refused) == code


def test_the_database_refuses_a_negative_capacity():
    w = world()
    with pytest.raises(IntegrityError), transaction.atomic():
        ShelterFactory(agency=w.agency, capacity_women=-1)


def test_only_coordinators_record_shelters_and_only_for_shelter_agencies():
    w = world()
    for actor in (w.staff, w.analyst, w.case_worker):
        with pytest.raises(PermissionDenied):
            services.create_shelter(actor=actor, agency=w.agency, data=_data())
    with pytest.raises(DomainError) as refused:
        services.create_shelter(actor=w.coordinator, agency=w.fund, data=_data())
    assert codes(refused) == "invalid_agency"
    ngo = AgencyFactory(kind=AgencyKind.NGO)
    member(Role.SERVICE_PROVIDER, agency=ngo)
    with pytest.raises(DomainError):
        services.create_shelter(actor=w.coordinator, agency=ngo, data=_data())
