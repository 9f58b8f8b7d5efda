"""Referrals at service level: the consent gate and its lawful overrides, who may act, the status workflow,
deliveries — each refusal with its message and nothing written."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from opennrm.accounts.access import access_for
from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases.choices import ConsentBasis, ConsentPurpose
from opennrm.cases.models import CaseEvent, Consent
from opennrm.cases.selectors import visible_cases
from opennrm.cases.services import close_case, record_consent, withdraw_consent
from opennrm.core.errors import DomainError
from opennrm.core.models import Alert, AuditEntry
from opennrm.referrals import services
from opennrm.referrals.models import Referral, ReferralStatus, ServiceDelivery
from opennrm.referrals.tests.factories import ReferralFactory, catalogue_service, consent_to, scenario

pytestmark = pytest.mark.django_db


def refer(s, *, to=None, service="shelter", **kwargs):
    return services.refer_to_service(
        actor=s.case_worker,
        case=s.case,
        service=catalogue_service(service),
        to_agency=to or s.provider_agency,
        from_agency=s.sender,
        **kwargs,
    )


def refused(code: str, call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as info:
        call(*args, **kwargs)
    assert info.value.code == code
    assert str(info.value.messages[0])  # a message the user can read
    return info.value


# --- the consent gate ----------------------------------------------------------------------------------


def test_without_consent_a_referral_is_refused_and_nothing_is_written():
    s = scenario()
    error = refused("consent_required", refer, s)
    assert s.provider_agency.name in error.messages[0]
    assert not Referral.objects.exists()
    assert not Alert.objects.exists()
    assert not CaseEvent.objects.filter(kind="referral_sent").exists()
    assert not AuditEntry.objects.filter(action__startswith="referral.").exists()


def test_consent_to_one_agency_does_not_allow_a_referral_to_another():
    s = scenario()
    consent_to(s.case, s.other_agency)
    refused("consent_required", refer, s)
    assert not Referral.objects.exists()
    assert refer(s, to=s.other_agency).consent.agency == s.other_agency


def test_a_withdrawn_or_refused_consent_does_not_allow_a_referral():
    s = scenario()
    consent = record_consent(
        actor=s.case_worker,
        case=s.case,
        purpose=ConsentPurpose.REFERRAL,
        given=True,
        agency=s.provider_agency,
    )
    withdraw_consent(actor=s.case_worker, consent=consent)
    record_consent(
        actor=s.case_worker,
        case=s.case,
        purpose=ConsentPurpose.REFERRAL,
        given=False,
        agency=s.provider_agency,
    )
    refused("consent_required", refer, s)


def test_with_consent_the_referral_is_sent_audited_on_the_timeline_and_announced_to_the_provider():
    s = scenario()
    consent = consent_to(s.case, s.provider_agency)
    second_provider = member(Role.SERVICE_PROVIDER, agency=s.provider_agency, scope=Scope.OWN)
    admin_of_provider = member(Role.ADMINISTRATOR, agency=s.provider_agency)
    elsewhere = member(Role.SERVICE_PROVIDER, agency=s.other_agency)

    referral = refer(s, reason="A safe place to stay.")

    assert referral.status == ReferralStatus.PENDING
    assert referral.consent == consent and referral.override_basis == ""
    assert Referral.objects.get().reason == "A safe place to stay."
    sent = AuditEntry.objects.get(action="referral.sent")
    assert sent.target_id == referral.public_id and sent.actor == s.case_worker.public_id
    assert sent.details["basis"] == "consent"
    assert not AuditEntry.objects.filter(action="referral.consent_override").exists()
    event = CaseEvent.objects.get(case=s.case, kind="referral_sent")
    assert event.data["service"] == "shelter" and event.data["referral"] == referral.public_id
    alerts = Alert.objects.filter(kind="referral_received")
    assert {a.recipient for a in alerts} == {s.provider, second_provider}
    assert admin_of_provider not in {a.recipient for a in alerts} and elsewhere not in {
        a.recipient for a in alerts
    }
    alert = alerts.get(recipient=s.provider)
    assert alert.params == {"reference": s.case.reference, "service": "Shelter"}
    assert alert.url == f"/referrals/{referral.public_id}/"
    assert s.case.reference in alert.text


def test_the_alert_names_the_service_in_the_recipients_language():
    s = scenario()
    s.provider.preferred_language = "ka"
    s.provider.save()
    s.refer()
    assert Alert.objects.get(recipient=s.provider).params["service"] == "თავშესაფარი"


@pytest.mark.parametrize("basis", [ConsentBasis.CHILD_BEST_INTERESTS, ConsentBasis.GUARDIAN])
def test_a_child_is_referred_without_consent_on_a_child_basis_and_the_override_is_audited(basis):
    s = scenario(child=True)
    referral = refer(s, override_basis=basis)
    assert referral.consent is None and referral.override_basis == basis
    override = AuditEntry.objects.get(action="referral.consent_override")
    assert override.target_id == s.case.public_id
    assert override.details["basis"] == basis and override.details["child"] is True
    assert override.details["referral"] == referral.public_id
    # The override covers this referral only: no consent was invented for the agency.
    assert not Consent.objects.filter(purpose=ConsentPurpose.REFERRAL).exists()


@pytest.mark.parametrize("basis", [ConsentBasis.CHILD_BEST_INTERESTS, ConsentBasis.GUARDIAN])
def test_an_adult_cannot_be_referred_on_a_child_basis(basis):
    s = scenario()
    refused("invalid_basis", refer, s, override_basis=basis)
    assert not Referral.objects.exists()
    assert not AuditEntry.objects.filter(action="referral.consent_override").exists()


def test_the_guardian_basis_needs_a_guardian_on_record():
    s = scenario(child=True)
    s.case.guardian = ""
    s.case.save(update_fields=["guardian"])
    refused("guardian_required", refer, s, override_basis=ConsentBasis.GUARDIAN)
    assert not Referral.objects.exists()


def test_consent_is_not_an_override_basis():
    s = scenario()
    refused("invalid_basis", refer, s, override_basis=ConsentBasis.CONSENT)


def test_a_legal_obligation_needs_a_written_justification():
    s = scenario()
    refused("justification_required", refer, s, override_basis=ConsentBasis.LEGAL_OBLIGATION)
    refused(
        "justification_required",
        refer,
        s,
        override_basis=ConsentBasis.LEGAL_OBLIGATION,
        override_justification="   ",
    )
    assert not Referral.objects.exists()

    referral = refer(
        s,
        override_basis=ConsentBasis.LEGAL_OBLIGATION,
        override_justification="Criminal Procedure Code, art. 57: witness protection",
    )
    assert Referral.objects.get().override_justification.startswith("Criminal Procedure Code")
    override = AuditEntry.objects.get(action="referral.consent_override")
    assert override.details["basis"] == "legal_obligation" and override.details["child"] is False
    # The justification is free text: it stays encrypted on the referral, never in the audit log.
    assert "Criminal" not in str(override.details)
    assert referral.override_basis == ConsentBasis.LEGAL_OBLIGATION


def test_with_consent_on_file_an_override_is_ignored_and_not_audited():
    s = scenario()
    consent_to(s.case, s.provider_agency)
    referral = refer(s, override_basis=ConsentBasis.LEGAL_OBLIGATION, override_justification="art. 5")
    assert referral.consent is not None and referral.override_basis == ""
    assert not AuditEntry.objects.filter(action="referral.consent_override").exists()


# --- what can be referred, where, by whom -----------------------------------------------------------------


def test_a_closed_case_cannot_be_referred():
    s = scenario()
    consent_to(s.case, s.provider_agency)
    close_case(actor=s.case_worker, case=s.case, reason="other")
    refused("closed", refer, s)
    assert not Referral.objects.exists()


def test_the_receiving_agency_must_be_active_of_the_country_another_agency_and_provide_the_service():
    s = scenario()
    inactive = AgencyFactory(kind=AgencyKind.SHELTER, is_active=False)
    foreign = AgencyFactory(kind=AgencyKind.SHELTER, country="UA", region="")
    police = AgencyFactory(kind=AgencyKind.LAW_ENFORCEMENT)
    for agency in (inactive, foreign, police, s.sender):
        consent_to(s.case, agency)
        refused("invalid_agency", refer, s, to=agency)
    assert not Referral.objects.exists()
    # Interpretation has no provider kinds in the catalogue: any kind of agency may provide it.
    assert refer(s, to=police, service="interpretation").to_agency == police


def test_a_service_of_another_country_or_inactive_is_refused():
    s = scenario()
    consent_to(s.case, s.provider_agency)
    ua_shelter = catalogue_service("shelter", country="UA")
    refused(
        "unknown_service",
        services.refer_to_service,
        actor=s.case_worker,
        case=s.case,
        service=ua_shelter,
        to_agency=s.provider_agency,
        from_agency=s.sender,
    )
    shelter = catalogue_service("shelter")
    shelter.is_active = False
    shelter.save()
    refused("unknown_service", refer, s)
    assert not Referral.objects.exists()


def test_one_open_referral_per_case_service_and_agency():
    s = scenario()
    first = s.refer()
    refused("duplicate", refer, s)
    services.decline_referral(actor=s.provider, referral=first, reason="Full tonight.")
    assert refer(s).status == ReferralStatus.PENDING  # after a decline, the case can be referred again


@pytest.mark.parametrize("role", [r for r in Role if r != Role.CASE_WORKER])
def test_only_who_may_send_referrals_for_the_case_can_refer_it(role):
    s = scenario()
    consent_to(s.case, s.provider_agency)
    outsider = member(role, agency=s.sender)
    with pytest.raises(PermissionDenied):
        services.refer_to_service(
            actor=outsider,
            case=s.case,
            service=catalogue_service(),
            to_agency=s.provider_agency,
            from_agency=s.sender,
        )
    assert not Referral.objects.exists()


def test_a_case_worker_of_another_agency_cannot_refer_the_case_on_behalf_of_either_agency():
    s = scenario()
    consent_to(s.case, s.provider_agency)
    stranger = member(Role.CASE_WORKER, agency=s.other_agency)
    for from_agency in (s.other_agency, s.sender):
        with pytest.raises(PermissionDenied):
            services.refer_to_service(
                actor=stranger,
                case=s.case,
                service=catalogue_service(),
                to_agency=s.provider_agency,
                from_agency=from_agency,
            )


def test_a_national_case_worker_refers_on_behalf_of_their_own_agency():
    s = scenario()
    national = member(Role.CASE_WORKER, agency=s.other_agency, scope=Scope.NATIONAL)
    consent_to(s.case, s.provider_agency)
    referral = services.refer_to_service(
        actor=national,
        case=s.case,
        service=catalogue_service(),
        to_agency=s.provider_agency,
        from_agency=s.other_agency,
    )
    assert referral.from_agency == s.other_agency


# --- answering, completing, withdrawing -------------------------------------------------------------------


def test_the_provider_accepts_then_completes():
    s = scenario()
    referral = services.accept_referral(actor=s.provider, referral=s.refer())
    assert referral.status == ReferralStatus.ACCEPTED
    assert referral.responded_by == s.provider and referral.responded_at is not None
    referral = services.complete_referral(actor=s.provider, referral=referral)
    assert Referral.objects.get().status == ReferralStatus.COMPLETED and referral.completed_at is not None
    kinds = list(
        CaseEvent.objects.filter(case=s.case, kind__startswith="referral_").values_list("kind", flat=True)
    )
    assert kinds == ["referral_sent", "referral_accepted", "referral_completed"]
    assert AuditEntry.objects.filter(action__in=["referral.accepted", "referral.completed"]).count() == 2


def test_declining_needs_a_reason_kept_off_the_timeline():
    s = scenario()
    referral = s.refer()
    refused("required", services.decline_referral, actor=s.provider, referral=referral, reason="  ")
    assert Referral.objects.get().status == ReferralStatus.PENDING
    services.decline_referral(actor=s.provider, referral=referral, reason="No place for a family of four.")
    stored = Referral.objects.get()
    assert (
        stored.status == ReferralStatus.DECLINED and stored.decline_reason == "No place for a family of four."
    )
    event = CaseEvent.objects.get(kind="referral_declined")
    assert "family" not in str(event.data)


@pytest.mark.parametrize(
    ("prepare", "act"),
    [
        ("pending", "complete"),
        ("accepted", "accept"),
        ("accepted", "decline"),
        ("declined", "accept"),
        ("declined", "withdraw"),
        ("completed", "withdraw"),
        ("withdrawn", "accept"),
    ],
)
def test_statuses_change_only_along_the_workflow(prepare, act):
    s = scenario()
    referral = s.refer()
    if prepare in ("accepted", "completed"):
        referral = services.accept_referral(actor=s.provider, referral=referral)
    if prepare == "completed":
        referral = services.complete_referral(actor=s.provider, referral=referral)
    if prepare == "declined":
        referral = services.decline_referral(actor=s.provider, referral=referral, reason="Full.")
    if prepare == "withdrawn":
        referral = services.withdraw_referral(actor=s.case_worker, referral=referral)
    calls = {
        "accept": lambda: services.accept_referral(actor=s.provider, referral=referral),
        "decline": lambda: services.decline_referral(actor=s.provider, referral=referral, reason="No."),
        "complete": lambda: services.complete_referral(actor=s.provider, referral=referral),
        "withdraw": lambda: services.withdraw_referral(actor=s.case_worker, referral=referral),
    }
    refused("invalid_transition", calls[act])
    assert Referral.objects.get().status == prepare


def test_the_sending_side_withdraws_and_the_provider_loses_the_person():
    from opennrm.referrals.selectors import provider_view

    s = scenario()
    referral = s.accepted()
    assert provider_view(actor=s.provider, referral=referral)
    # The provider never sees the case itself, only what the service needs through the referral.
    assert not visible_cases(access_for(s.provider)).filter(pk=s.case.pk).exists()
    services.withdraw_referral(actor=s.case_worker, referral=referral)
    assert Referral.objects.get().status == ReferralStatus.WITHDRAWN
    with pytest.raises(PermissionDenied):
        provider_view(actor=s.provider, referral=referral)
    assert CaseEvent.objects.filter(kind="referral_withdrawn").exists()


def test_only_the_receiving_agency_answers_and_only_the_sending_side_withdraws():
    s = scenario()
    referral = s.refer()
    other_provider = member(Role.SERVICE_PROVIDER, agency=s.other_agency)
    for actor in (s.case_worker, other_provider):
        with pytest.raises(PermissionDenied):
            services.accept_referral(actor=actor, referral=referral)
        with pytest.raises(PermissionDenied):
            services.decline_referral(actor=actor, referral=referral, reason="No.")
    for actor in (s.provider, other_provider):
        with pytest.raises(PermissionDenied):
            services.withdraw_referral(actor=actor, referral=referral)
    assert Referral.objects.get().status == ReferralStatus.PENDING


def test_a_referral_on_a_case_closed_meanwhile_cannot_be_accepted():
    s = scenario()
    referral = s.refer()
    close_case(actor=s.case_worker, case=s.case, reason="other")
    refused("closed", services.accept_referral, actor=s.provider, referral=referral)
    assert (
        services.withdraw_referral(actor=s.case_worker, referral=referral).status == ReferralStatus.WITHDRAWN
    )


# --- deliveries -----------------------------------------------------------------------------------------


def test_services_are_recorded_with_dates_on_an_accepted_referral():
    s = scenario()
    referral = s.accepted()
    today = timezone.localdate()
    delivery = services.record_delivery(
        actor=s.provider,
        referral=referral,
        start_date=today - dt.timedelta(days=3),
        end_date=today,
        description="Three nights, meals.",
    )
    stored = ServiceDelivery.objects.get()
    assert stored == delivery and stored.description == "Three nights, meals." and stored.end_date == today
    ongoing = services.record_delivery(actor=s.provider, referral=referral, start_date=today)
    assert ongoing.end_date is None
    event = CaseEvent.objects.filter(kind="service_delivered").first()
    assert event.data["start"] == (today - dt.timedelta(days=3)).isoformat()
    assert AuditEntry.objects.filter(action="referral.service_delivered").count() == 2


def test_services_are_not_recorded_on_a_pending_or_finished_referral():
    s = scenario()
    referral = s.refer()
    today = timezone.localdate()
    refused("invalid_state", services.record_delivery, actor=s.provider, referral=referral, start_date=today)
    referral = services.complete_referral(
        actor=s.provider, referral=services.accept_referral(actor=s.provider, referral=referral)
    )
    refused("invalid_state", services.record_delivery, actor=s.provider, referral=referral, start_date=today)
    assert not ServiceDelivery.objects.exists()


def test_delivery_dates_end_after_start_and_start_not_in_the_future():
    s = scenario()
    referral = s.accepted()
    today = timezone.localdate()
    refused(
        "future_date",
        services.record_delivery,
        actor=s.provider,
        referral=referral,
        start_date=today + dt.timedelta(days=1),
    )
    refused(
        "invalid_dates",
        services.record_delivery,
        actor=s.provider,
        referral=referral,
        start_date=today,
        end_date=today - dt.timedelta(days=1),
    )
    assert not ServiceDelivery.objects.exists()


def test_only_the_receiving_agency_records_services():
    s = scenario()
    referral = s.accepted()
    for actor in (
        s.case_worker,
        member(Role.SERVICE_PROVIDER, agency=s.other_agency),
        member(Role.COORDINATOR, agency=s.provider_agency, scope=Scope.NATIONAL),
    ):
        with pytest.raises(PermissionDenied):
            services.record_delivery(actor=actor, referral=referral, start_date=timezone.localdate())
    assert not ServiceDelivery.objects.exists()


def test_withdrawing_the_consent_ends_the_referrals_that_rested_on_it():
    referral = ReferralFactory()
    other_case_referral = ReferralFactory()
    withdraw_consent(actor=referral.created_by, consent=referral.consent)
    referral.refresh_from_db()
    other_case_referral.refresh_from_db()
    assert referral.status == ReferralStatus.WITHDRAWN
    assert other_case_referral.status == ReferralStatus.PENDING
    assert AuditEntry.objects.filter(action="referral.withdrawn", target_id=referral.public_id).exists()
