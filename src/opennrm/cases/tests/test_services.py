"""The life of a case at service level: refer, screen, request a decision (the statutory clock of the country profile),
decide, compensate once, close, reopen — and each act refused with its translated message, changing nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone, translation

from opennrm.accounts.models import Agency, User
from opennrm.accounts.roles import Role
from opennrm.accounts.tests.factories import member
from opennrm.cases import screening as instruments
from opennrm.cases import services
from opennrm.cases.choices import CaseStatus, ClosureReason, DecisionOutcome, TraffickingStatus
from opennrm.cases.models import (
    Attachment,
    Case,
    CaseEvent,
    Compensation,
    Decision,
    Note,
    Screening,
    SupportPlanItem,
)
from opennrm.cases.services import IntakeData
from opennrm.core.errors import DomainError
from opennrm.core.models import AuditEntry
from opennrm.core.profiles import active_profile

pytestmark = pytest.mark.django_db

TBILISI = ZoneInfo("Asia/Tbilisi")
LONDON = ZoneInfo("Europe/London")
DELPHI = "ilo_ec_delphi_2009"


# --- helpers shared by the view tests of this app ------------------------------------------------------


def worker_and_agency(role: Role = Role.CASE_WORKER) -> tuple[User, Agency]:
    user = member(role)
    return user, user.memberships.get().agency


def refer(
    actor: User, agency: Agency, *, age: int | None = 30, forms: tuple[str, ...] = ("forced_labour",)
) -> Case:
    return services.refer_person(
        actor=actor,
        referring_agency=agency,
        owning_agency=agency,
        data=IntakeData(
            given_name="Nino",
            family_name="Beridze",
            age_estimate=age,
            exploitation_forms=list(forms),
            narrative="Recruited for farm work abroad; passport taken on arrival.",
        ),
        consent_given=True,
    )


def presumed_found(list_id: str = "adult_labour") -> tuple[instruments.Instrument, set[str]]:
    """Indicators of the shipped ILO-EC list that make every dimension the rule needs positive."""
    instrument = instruments.latest(DELPHI)
    item = instrument.get_list(list_id)
    wanted = {"deceptive_recruitment", "exploitative_conditions", "coercion_at_destination"}
    found = {i.id for d in item.dimensions if d.id in wanted for i in d.indicators}
    return instrument, found


def screen(actor: User, case: Case, list_id: str = "adult_labour") -> Screening:
    instrument, found = presumed_found(list_id)
    return services.record_screening(
        actor=actor,
        case=case,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        list_id=list_id,
        found=found,
        notes="Seen at the farm.",
    )


def grant(maker: User, decision: Decision) -> Decision:
    return services.decide(
        actor=maker,
        decision=decision,
        outcome=DecisionOutcome.GRANTED,
        reasons="Indicators of forced labour confirmed.",
        members=["A", "B", "C", "D", "E"],
    )


def now_is(monkeypatch: pytest.MonkeyPatch, moment: dt.datetime) -> None:
    """Set the time every service reads (`django.utils.timezone.now`)."""
    monkeypatch.setattr(timezone, "now", lambda: moment.astimezone(dt.UTC))


def message_of(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.messages[0]


# --- the whole lifecycle ---------------------------------------------------------------------------------


def test_lifecycle_in_georgia_from_referral_to_reopening(monkeypatch):
    worker, agency = worker_and_agency()
    maker = member(Role.DECISION_MAKER, agency=agency)
    requested = dt.datetime(2026, 3, 6, 16, 30, tzinfo=TBILISI)
    now_is(monkeypatch, requested - dt.timedelta(hours=2))

    case = refer(worker, agency)
    assert case.status == CaseStatus.REFERRED

    screening = screen(worker, case)
    assert screening.conclusion == instruments.Conclusion.PRESUMED_VICTIM
    assert (screening.instrument_id, screening.instrument_version) == (
        DELPHI,
        instruments.latest(DELPHI).version,
    )
    assert screening.instrument_digest == instruments.latest(DELPHI).digest
    assert Case.objects.get(pk=case.pk).status == CaseStatus.SCREENED

    now_is(monkeypatch, requested)
    decision = services.request_decision(actor=worker, case=case, route="permanent_group")
    decision.refresh_from_db()
    assert decision.deadline_at == requested + dt.timedelta(hours=48)  # GE: 48 hours, stored once
    assert decision.deadline_rule == "48 hours"
    assert Case.objects.get(pk=case.pk).status == CaseStatus.DECISION_PENDING

    now_is(monkeypatch, requested + dt.timedelta(hours=47))  # one hour before the deadline
    grant(maker, decision)
    case.refresh_from_db()
    decision.refresh_from_db()
    assert decision.outcome == DecisionOutcome.GRANTED
    assert decision.members == ["A", "B", "C", "D", "E"]
    assert (case.status, case.trafficking_status) == (CaseStatus.IDENTIFIED, TraffickingStatus.ACTUAL)
    assert case.identification_route == "permanent_group"
    assert CaseEvent.objects.get(case=case, kind="decided").data["within_deadline"] is True

    compensation = services.approve_compensation(actor=worker, case=case)
    assert (compensation.amount, compensation.currency) == (Decimal("1000.00"), "GEL")
    with pytest.raises(DomainError) as refused:
        services.approve_compensation(actor=worker, case=case)
    assert "already approved" in message_of(refused)
    assert Compensation.objects.filter(case=case).count() == 1

    services.pay_compensation(actor=worker, compensation=compensation, payment_reference="TRX-0042")
    with pytest.raises(DomainError) as refused:
        services.pay_compensation(actor=worker, compensation=compensation, payment_reference="TRX-0043")
    assert "already paid" in message_of(refused)
    compensation.refresh_from_db()
    assert compensation.payment_reference == "TRX-0042"

    services.close_case(
        actor=worker,
        case=case,
        reason=ClosureReason.ASSISTANCE_COMPLETED,
        follow_up_date=timezone.localdate() + dt.timedelta(days=90),
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED

    services.reopen_case(actor=worker, case=case, reason="She asked for legal aid.")
    case.refresh_from_db()
    assert case.status == CaseStatus.IDENTIFIED  # the granted status survives closure
    assert case.closed_at is None
    assert [n.body for n in Note.objects.filter(case=case)] == ["She asked for legal aid."]


@override_settings(OPENNRM_COUNTRY="GB")
def test_uk_deadline_counts_five_working_days_skipping_the_weekend_and_the_bank_holiday(monkeypatch):
    # Friday 22 May 2026; Monday 25 May 2026 is the Spring bank holiday in England and Wales.
    # Working days after the request: Tue 26 (1), Wed 27 (2), Thu 28 (3), Fri 29 (4), Mon 1 June (5).
    requested = dt.datetime(2026, 5, 22, 15, 0, tzinfo=LONDON)
    now_is(monkeypatch, requested)
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    assert case.reference.startswith("GB-2026-")
    decision = services.request_decision(actor=worker, case=case, route="single_competent_authority")
    decision.refresh_from_db()
    assert decision.deadline_at == dt.datetime(2026, 6, 1, 15, 0, tzinfo=LONDON)
    assert decision.deadline_rule == "5 working_days"


def test_a_refusal_is_appealed_on_the_same_route_with_a_new_clock(monkeypatch):
    worker, agency = worker_and_agency()
    maker = member(Role.DECISION_MAKER, agency=agency)
    start = dt.datetime(2026, 4, 1, 9, 0, tzinfo=TBILISI)
    now_is(monkeypatch, start)
    case = refer(worker, agency)
    first = services.request_decision(actor=worker, case=case, route="law_enforcement")
    services.decide(
        actor=maker, decision=first, outcome=DecisionOutcome.REFUSED, reasons="No cooperation evidence."
    )
    case.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        services.request_decision(actor=worker, case=case, route="permanent_group")
    assert "appeal" in message_of(refused)

    now_is(monkeypatch, start + dt.timedelta(days=3))
    appeal = services.appeal(actor=worker, case=case)
    assert (appeal.is_appeal, appeal.appeal_of_id, appeal.route) == (True, first.pk, "law_enforcement")
    appeal.refresh_from_db()
    assert appeal.deadline_at == start + dt.timedelta(days=3, hours=48)


# --- refused acts change nothing -----------------------------------------------------------------------------


def test_a_decided_request_cannot_be_decided_again_even_after_closure():
    worker, agency = worker_and_agency()
    maker = member(Role.DECISION_MAKER, agency=agency)
    case = refer(worker, agency)
    decision = grant(maker, services.request_decision(actor=worker, case=case, route="permanent_group"))
    case.refresh_from_db()
    services.close_case(actor=worker, case=case, reason=ClosureReason.ASSISTANCE_COMPLETED)
    before = AuditEntry.objects.count()
    with pytest.raises(DomainError) as refused:
        services.decide(
            actor=maker, decision=decision, outcome=DecisionOutcome.REFUSED, reasons="Changed my mind."
        )
    assert message_of(refused) == "This request was already decided."
    decision.refresh_from_db()
    case.refresh_from_db()
    assert (decision.outcome, decision.reasons) == (
        DecisionOutcome.GRANTED,
        "Indicators of forced labour confirmed.",
    )
    assert (case.status, case.trafficking_status) == (CaseStatus.CLOSED, TraffickingStatus.ACTUAL)
    assert AuditEntry.objects.count() == before


def test_no_decision_is_requested_on_a_closed_case():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    services.close_case(actor=worker, case=case, reason=ClosureReason.LOST_CONTACT)
    with pytest.raises(DomainError) as refused:
        services.request_decision(actor=worker, case=case, route="permanent_group")
    assert message_of(refused) == "A decision cannot be requested on a closed case."
    assert Decision.objects.filter(case=case).count() == 0


def test_a_case_is_not_closed_while_its_decision_is_pending():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    services.request_decision(actor=worker, case=case, route="permanent_group")
    with pytest.raises(DomainError):
        services.close_case(actor=worker, case=case, reason=ClosureReason.LOST_CONTACT)
    case.refresh_from_db()
    assert (case.status, case.closed_at) == (CaseStatus.DECISION_PENDING, None)


def test_an_unknown_route_is_refused_with_a_translated_message():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    with translation.override("en"), pytest.raises(DomainError) as refused:
        services.request_decision(actor=worker, case=case, route="ministry_of_magic")
    assert message_of(refused) == "Unknown identification route: ministry_of_magic"
    assert Decision.objects.count() == 0
    case.refresh_from_db()
    assert case.status == CaseStatus.REFERRED


def test_compensation_needs_the_status_granted():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    with pytest.raises(DomainError) as refused:
        services.approve_compensation(actor=worker, case=case)
    assert "once the victim status is granted" in message_of(refused)
    assert Compensation.objects.count() == 0


@override_settings(OPENNRM_COUNTRY="GB")
def test_no_compensation_where_the_profile_has_none():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    with pytest.raises(DomainError) as refused:
        services.approve_compensation(actor=worker, case=case)
    assert message_of(refused) == "This country's profile has no state compensation."


def test_a_plan_item_cannot_end_in_the_future():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    item = services.add_plan_item(actor=worker, case=case, type="legal", objective="Claim unpaid wages")
    with pytest.raises(DomainError) as refused:
        services.complete_plan_item(
            actor=worker, item=item, actual_end=timezone.localdate() + dt.timedelta(days=1)
        )
    assert message_of(refused) == "The actual end date cannot be in the future."
    item.refresh_from_db()
    assert item.actual_end is None


def test_a_plan_item_of_an_unknown_type_is_refused():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    with pytest.raises(DomainError):
        services.add_plan_item(actor=worker, case=case, type="spaceship", objective="Leave")
    assert SupportPlanItem.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "content", "limit", "expected"),
    [
        (
            "report.pdf",
            b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64,
            10_000,
            "Only PDF, JPEG, PNG and plain-text",
        ),
        ("payload.exe", b"MZ\x90\x00\x03\x00\x00\x00", 10_000, "Only PDF, JPEG, PNG and plain-text"),
        ("scan.pdf", b"%PDF-1.7\n" + b"0" * 2_000, 1_000, "The file is too large"),
        ("empty.txt", b"", 10_000, "The file is empty."),
    ],
)
def test_a_bad_attachment_is_refused_and_nothing_is_stored(name, content, limit, expected):
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    with override_settings(OPENNRM_MAX_UPLOAD_BYTES=limit), pytest.raises(DomainError) as refused:
        services.add_attachment(actor=worker, case=case, upload=SimpleUploadedFile(name, content))
    assert expected in message_of(refused)
    assert Attachment.objects.count() == 0


def test_an_attachment_is_stored_encrypted_and_read_back():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    content = b"%PDF-1.7\nstatement of the person\n"
    attachment = services.add_attachment(
        actor=worker, case=case, upload=SimpleUploadedFile("statement.pdf", content)
    )
    try:
        with open(attachment.file.path, "rb") as raw:
            assert b"statement of the person" not in raw.read()
        assert attachment.file.open("rb").read() == content
        assert (attachment.content_type, attachment.size) == ("application/pdf", len(content))
    finally:
        attachment.file.delete(save=False)


def test_a_case_whose_decision_was_requested_is_not_screened_again():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    services.request_decision(actor=worker, case=case, route="permanent_group")
    with pytest.raises(DomainError) as refused:
        screen(worker, case)
    assert "can no longer be screened" in message_of(refused)
    assert Screening.objects.count() == 0


def test_a_granted_status_is_not_decided_again_where_it_needs_no_renewal():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    grant(
        member(Role.DECISION_MAKER, agency=agency),
        services.request_decision(actor=worker, case=case, route="permanent_group"),
    )
    case.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        services.request_decision(actor=worker, case=case, route="law_enforcement")
    assert message_of(refused) == "The victim status was already granted and does not need renewal."
    assert Decision.objects.filter(case=case).count() == 1


@override_settings(OPENNRM_COUNTRY="UA")
def test_a_time_limited_status_is_renewed_through_a_new_decision():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    route = active_profile().authorities[0].key
    first = grant(
        member(Role.DECISION_MAKER, agency=agency),
        services.request_decision(actor=worker, case=case, route=route),
    )
    first.refresh_from_db()
    assert first.valid_until == timezone.localdate() + relativedelta(years=2)  # UA: up to 2 years
    case.refresh_from_db()
    renewal = services.request_decision(actor=worker, case=case, route=route)
    assert (renewal.is_appeal, Case.objects.get(pk=case.pk).status) == (False, CaseStatus.DECISION_PENDING)
