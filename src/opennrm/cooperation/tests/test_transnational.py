"""Transnational referrals on one instance (GE), both sides: what it sends to a partner and what it does with what
a partner sends. Real crypto and a real database: the partners (UA) are played by the test with their own keys;
what crossed is opened with the partner's private key, and what the partner answers is sealed with its key and
posted to this instance's inbox.

The sending side: only the minimal subset crosses, never without consent to that country; the answer and the
updates reach the case's timeline. The receiving side: the country's inbox for national focal points only, the
decision (accept opens a local case and answers the partner; decline needs a reason), updates both ways; the
pages, the API and the consent that names its country."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from opennrm.accounts.models import Agency, AgencyKind, User
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.services import create_api_token
from opennrm.accounts.tests.factories import AgencyFactory, logged_in_client, member
from opennrm.cases import screening as instruments
from opennrm.cases.choices import ConsentBasis, ConsentPurpose
from opennrm.cases.models import Case, CaseEvent, Consent
from opennrm.cases.services import (
    IntakeData,
    add_note,
    record_consent,
    record_screening,
    refer_person,
    withdraw_consent,
)
from opennrm.cases.views.case import describe_event
from opennrm.cooperation import envelope, messaging
from opennrm.cooperation import transnational as tn
from opennrm.cooperation.models import (
    DeliveryStatus,
    Direction,
    MessageType,
    OutboxMessage,
    TransnationalReferral,
    TransnationalStatus,
    TransnationalUpdate,
)
from opennrm.cooperation.tests import coop_kit as kit
from opennrm.core.errors import DomainError
from opennrm.core.models import Alert, AuditEntry

pytestmark = pytest.mark.django_db

API = "/api/v1"
GIVEN, FAMILY, BORN = "Nino", "Beridzeshvili", dt.date(1994, 3, 17)
# Kept on the case, never to cross the border.
PHONE, DOCUMENT = "+995555010203", "13AB778421"
NARRATIVE = "Recruited in Batumi by a cousin with a false job offer."
NOTE_TEXT = "She fears her employer's brother."


@pytest.fixture
def instance(settings: Any, tmp_path: Path) -> None:
    kit.isolate_instance(settings, tmp_path)


@pytest.fixture
def ua(instance: None) -> kit.PlayedPartner:
    return kit.play_partner("UA", "UA")


@pytest.fixture
def fund() -> Agency:
    return AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND)


def sender(fund: Agency) -> User:
    return member(Role.CASE_WORKER, agency=fund)


def focal_point(agency: Agency | None = None) -> User:
    return member(Role.CASE_WORKER, agency=agency or AgencyFactory(), scope=Scope.NATIONAL)


def refer(fund: Agency, worker: User, *, child: bool = False) -> Case:
    data = IntakeData(
        given_name=GIVEN,
        family_name=FAMILY,
        date_of_birth=dt.date(2012, 5, 1) if child else BORN,
        sex="feminine",
        citizenship="GE",
        languages=["ka", "ru"],
        phone=PHONE,
        document_type="passport",
        document_number=DOCUMENT,
        narrative=NARRATIVE,
        guardian="Tamar, aunt" if child else "",
        exploitation_forms=["forced_labour"],
        exploitation_country="TR",
    )
    return refer_person(
        actor=worker, referring_agency=fund, owning_agency=fund, data=data, consent_given=True
    )


def consent(case: Case, worker: User, country: str = "UA", basis: str = ConsentBasis.CONSENT) -> Consent:
    return record_consent(
        actor=worker, case=case, purpose=ConsentPurpose.CROSS_BORDER, given=True, basis=basis, country=country
    )


def arrival_soon() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=10)


def send(case: Case, worker: User, partner: kit.PlayedPartner) -> TransnationalReferral:
    return tn.send_referral(
        actor=worker,
        case=case,
        partner=partner.partner,
        services=["accommodation", "safe_return"],
        planned_arrival=arrival_soon(),
        note_for_partner="Arrives by bus.",
    )


def crossed(partner: kit.PlayedPartner) -> list[dict[str, Any]]:
    """Deliver every pending message to the played partner and open each with the partner's private key."""
    bodies: list[bytes] = []

    def transport(url: str, body: bytes) -> messaging.Response:
        bodies.append(body)
        answer = {"status": "accepted", "message_id": json.loads(body)["id"]}
        return messaging.Response(202, json.dumps(answer).encode())

    messaging.deliver_due(transport=transport)
    opened = []
    for body in bodies:
        sealed = json.loads(body)
        opened.append(
            {
                "type": sealed["type"],
                "recipient": sealed["recipient"],
                "payload": envelope.decrypt(sealed, private_key=partner.encryption),
            }
        )
    return opened


def from_partner(partner: kit.PlayedPartner, type: str, payload: Any) -> tuple[int, dict[str, str]]:
    return messaging.receive(kit.body(partner.seal(type=type, payload=payload)))


def timeline_of(case: Case) -> list[str]:
    return [describe_event(e) for e in CaseEvent.objects.filter(case=case).select_related("actor", "agency")]


def api(user: User) -> Client:
    _token, raw = create_api_token(actor=user, name="t")
    return Client(HTTP_AUTHORIZATION=f"Token {raw}")


def post(client: Client, path: str, data: Any = None) -> Any:
    return client.post(path, data=json.dumps(data or {}), content_type="application/json")


# --- the sending side ------------------------------------------------------------------------------------


def test_only_the_minimal_subset_crosses_the_border(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker)
    add_note(actor=worker, case=case, body=NOTE_TEXT)
    instrument = instruments.latest("ilo_ec_delphi_2009")
    record_screening(
        actor=worker,
        case=case,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        list_id="adult_labour",
        found=[],
    )
    proof = consent(case, worker)
    referral = send(case, worker, ua)

    [message] = crossed(ua)
    assert (message["type"], message["recipient"]) == (MessageType.REFERRAL, "UA")
    payload = message["payload"]
    assert set(payload) == set(tn.PAYLOAD_FIELDS)
    for key, fields in tn.PAYLOAD_FIELDS.items():
        if fields is not None:
            assert set(payload[key]) == set(fields), key
    assert payload["person"] == {
        "given_name": GIVEN,
        "family_name": FAMILY,
        "date_of_birth": "1994-03-17",
        "sex": "feminine",
        "citizenship": "GE",
        "languages": ["ka", "ru"],
    }
    assert payload["case"]["exploitation_forms"] == ["forced_labour"]
    assert payload["case"]["exploitation_country"] == "TR"
    assert payload["screening"]["instrument"] == instrument.id
    assert payload["services_needed"] == ["accommodation", "safe_return"]
    assert payload["planned_arrival"] == arrival_soon().isoformat()
    assert payload["consent"]["id"] == proof.public_id
    assert (payload["consent"]["country"], payload["consent"]["basis"]) == ("UA", "consent")
    assert payload["sender_reference"] == case.reference
    assert payload["referral_id"] == str(referral.referral_id)
    text = json.dumps(payload, ensure_ascii=False)
    for kept_here in (PHONE, DOCUMENT, NARRATIVE, NOTE_TEXT, "Batumi", "passport"):
        assert kept_here not in text
    # The same subset is what this instance keeps as "what crossed", and the timeline names no one.
    assert TransnationalReferral.objects.get(pk=referral.pk).payload == payload
    event = CaseEvent.objects.get(case=case, kind="transnational_referral_sent")
    assert event.data == {"partner": "UA", "country": "UA", "services": ["accommodation", "safe_return"]}
    assert "referred the person to Ukraine (UA) for: Safe accommodation, Safe return." in describe_event(
        event
    )


def test_no_referral_leaves_without_consent_to_that_country(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker)
    consent(case, worker, country="MD")  # another country's consent does not count
    withdrawn = consent(case, worker, country="UA")
    withdraw_consent(actor=worker, consent=withdrawn)
    queued, events = OutboxMessage.objects.count(), CaseEvent.objects.filter(case=case).count()
    with pytest.raises(DomainError) as refused:
        send(case, worker, ua)
    assert refused.value.code == "consent_required"
    assert "consent to sharing with Ukraine" in refused.value.messages[0]
    assert OutboxMessage.objects.count() == queued
    assert not TransnationalReferral.objects.exists()
    assert CaseEvent.objects.filter(case=case).count() == events


def test_a_childs_consent_given_by_the_guardian_is_the_consent_record(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker, child=True)
    consent(case, worker, basis=ConsentBasis.GUARDIAN)
    send(case, worker, ua)
    [message] = crossed(ua)
    assert message["payload"]["consent"]["basis"] == "guardian"
    assert message["payload"]["case"]["is_child"] is True
    assert "guardian" not in json.dumps(message["payload"]["person"])


def test_who_may_refer_a_case_abroad(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker)
    consent(case, worker)
    for outsider in (
        member(Role.CASE_WORKER, agency=AgencyFactory()),
        member(Role.COORDINATOR, agency=fund, scope=Scope.NATIONAL),
    ):
        with pytest.raises(PermissionDenied):
            send(case, outsider, ua)
    assert not OutboxMessage.objects.filter(type=MessageType.REFERRAL).exists()


def test_the_partners_acceptance_reaches_the_case_timeline_through_the_inbox(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker)
    consent(case, worker)
    referral = send(case, worker, ua)
    answer = {
        "referral_id": str(referral.referral_id),
        "decision": "accepted",
        "receiver_reference": "UA-2026-00007",
        "reason": "",
    }
    sealed = ua.seal(type=MessageType.REFERRAL_RESPONSE, payload=answer)
    response = Client().post("/coop/v1/inbox", kit.body(sealed), content_type="application/json")
    assert response.status_code == 202
    referral.refresh_from_db()
    assert (referral.status, referral.remote_reference) == (TransnationalStatus.ACCEPTED, "UA-2026-00007")
    page = logged_in_client(worker).get(f"/cases/{case.public_id}/timeline/").content.decode()
    assert "Ukraine (UA) accepted the referral; their reference UA-2026-00007." in page
    assert Alert.objects.filter(recipient=worker, kind="transnational_referral_answered").exists()
    # Answering again is refused at the door, and changes nothing.
    again = from_partner(ua, MessageType.REFERRAL_RESPONSE, {**answer, "receiver_reference": "UA-2026-00999"})
    assert again[0] == 422
    referral.refresh_from_db()
    assert referral.remote_reference == "UA-2026-00007"


def test_a_decline_keeps_its_reason_on_the_referral_not_in_the_timeline(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker)
    consent(case, worker)
    referral = send(case, worker, ua)
    reason = "No shelter place for a woman from Batumi this month."
    status, _answer = from_partner(
        ua,
        MessageType.REFERRAL_RESPONSE,
        {
            "referral_id": str(referral.referral_id),
            "decision": "declined",
            "receiver_reference": "",
            "reason": reason,
        },
    )
    assert status == 202
    referral.refresh_from_db()
    assert (referral.status, referral.decline_reason) == (TransnationalStatus.DECLINED, reason)
    event = CaseEvent.objects.get(case=case, kind="transnational_referral_answered")
    assert "Batumi" not in json.dumps(event.data)
    assert "Ukraine (UA) declined the referral (the reason is on the referral)." in timeline_of(case)
    page = logged_in_client(worker).get(f"/coop/referrals/{referral.public_id}/").content.decode()
    assert reason in page
    assert AuditEntry.objects.filter(
        action="coop.transnational_referral_read", target_id=referral.public_id
    ).exists()


def test_an_answer_about_an_unknown_referral_is_refused(ua):
    status, answer = from_partner(
        ua,
        MessageType.REFERRAL_RESPONSE,
        {
            "referral_id": str(uuid.uuid4()),
            "decision": "accepted",
            "receiver_reference": "UA-1",
            "reason": "",
        },
    )
    assert (status, answer["reason"]) == (422, "invalid_content")


def test_updates_flow_both_ways_on_an_accepted_referral(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker)
    proof = consent(case, worker)
    referral = send(case, worker, ua)
    rid = str(referral.referral_id)
    from_partner(
        ua,
        MessageType.REFERRAL_RESPONSE,
        {"referral_id": rid, "decision": "accepted", "receiver_reference": "UA-2026-00007", "reason": ""},
    )
    status, _answer = from_partner(
        ua,
        MessageType.REFERRAL_UPDATE,
        {"referral_id": rid, "kind": "arrival", "date": "2026-03-02", "note": ""},
    )
    assert status == 202
    assert TransnationalUpdate.objects.filter(referral=referral, direction=Direction.INCOMING, kind="arrival")
    assert any(t.startswith("Ukraine (UA) reported: The person arrived") for t in timeline_of(case))

    crossed(ua)  # the referral itself
    update = tn.send_update(
        actor=worker, referral=referral, kind="return_date", date=arrival_soon(), note="Her mother waits."
    )
    assert update.direction == Direction.OUTGOING
    [message] = crossed(ua)
    assert message["type"] == MessageType.REFERRAL_UPDATE
    assert message["payload"] == {
        "referral_id": rid,
        "kind": "return_date",
        "date": arrival_soon().isoformat(),
        "note": "Her mother waits.",
    }
    # Once the consent is withdrawn, nothing more about the person leaves.
    withdraw_consent(actor=worker, consent=proof)
    with pytest.raises(DomainError) as refused:
        tn.send_update(actor=worker, referral=referral, kind="closed")
    assert refused.value.code == "consent_required"
    assert not OutboxMessage.objects.filter(status=DeliveryStatus.PENDING).exists()


def test_an_update_needs_an_accepted_referral(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker)
    consent(case, worker)
    referral = send(case, worker, ua)
    with pytest.raises(DomainError) as refused:
        tn.send_update(actor=worker, referral=referral, kind="arrival", date=arrival_soon())
    assert refused.value.code == "not_accepted"
    status, _answer = from_partner(
        ua,
        MessageType.REFERRAL_UPDATE,
        {"referral_id": str(referral.referral_id), "kind": "arrival", "date": None, "note": ""},
    )
    assert status == 422


# --- the receiving side ------------------------------------------------------------------------------------


def incoming_payload(**changes: Any) -> dict[str, Any]:
    return kit.incoming_referral_payload(**changes)


def received(ua: kit.PlayedPartner, **changes: Any) -> TransnationalReferral:
    payload = incoming_payload(**changes)
    status, answer = from_partner(ua, MessageType.REFERRAL, payload)
    assert status == 202, answer
    return TransnationalReferral.objects.get(referral_id=payload["referral_id"], direction=Direction.INCOMING)


def test_an_incoming_referral_is_accepted_into_a_local_case(ua, fund):
    national = focal_point()
    received_by = Alert.objects.filter(recipient=national)
    referral = received(ua)
    assert (referral.status, referral.remote_reference) == (TransnationalStatus.RECEIVED, "UA-2026-00042")
    assert received_by.filter(kind="transnational_referral_received").exists()
    client = logged_in_client(national)

    inbox = client.get("/coop/referrals/").content.decode()
    assert "Olena Kovalenko" in inbox and f"/coop/referrals/{referral.public_id}/" in inbox
    assert AuditEntry.objects.filter(action="coop.transnational_list_read").exists()
    detail = client.get(f"/coop/referrals/{referral.public_id}/").content.decode()
    assert "Olena" in detail and "Arrives by bus" in detail

    response = client.post(
        f"/coop/referrals/{referral.public_id}/accept/", {"owning_agency": fund.public_id, "region": "GE-TB"}
    )
    assert response.status_code == 302
    referral.refresh_from_db()
    case = referral.case
    assert case is not None and response["Location"] == f"/cases/{case.public_id}/"
    assert referral.status == TransnationalStatus.ACCEPTED
    assert (case.person.given_name, case.person.family_name) == ("Olena", "Kovalenko")
    assert (case.person.date_of_birth, case.person.citizenship) == (dt.date(1990, 2, 1), "UA")
    assert (case.owning_agency, case.region, case.narrative) == (fund, "GE-TB", "")
    assert set(case.exploitation_forms.values_list("form", flat=True)) == {"forced_labour"}
    assert Consent.objects.filter(case=case, purpose=ConsentPurpose.CROSS_BORDER, country="UA", given=True)
    assert (
        "accepted the referral received from Ukraine (UA) and opened this case; their reference UA-2026-00042."
        in (" ".join(timeline_of(case)))
    )
    [message] = crossed(ua)
    assert message["type"] == MessageType.REFERRAL_RESPONSE
    assert message["payload"] == {
        "referral_id": str(referral.referral_id),
        "decision": "accepted",
        "receiver_reference": case.reference,
        "reason": "",
    }


def test_a_referral_is_answered_once(ua, fund):
    national = focal_point()
    referral = received(ua)
    client = logged_in_client(national)
    path = f"/coop/referrals/{referral.public_id}/accept/"
    assert client.post(path, {"owning_agency": fund.public_id}).status_code == 302
    again = client.post(path, {"owning_agency": fund.public_id}, follow=True)
    assert "This referral was already answered." in again.content.decode()
    declined = client.post(
        f"/coop/referrals/{referral.public_id}/decline/", {"reason": "Changed our mind."}, follow=True
    )
    assert "This referral was already answered." in declined.content.decode()
    assert Case.objects.count() == 1
    assert OutboxMessage.objects.filter(type=MessageType.REFERRAL_RESPONSE).count() == 1
    referral.refresh_from_db()
    assert (referral.status, referral.decline_reason) == (TransnationalStatus.ACCEPTED, "")
    with pytest.raises(DomainError) as refused:  # the service itself, under its row lock
        tn.accept_referral(actor=national, referral=referral, owning_agency=fund)
    assert refused.value.code == "already_answered"


def test_declining_needs_a_reason_and_tells_the_partner(ua):
    national = focal_point()
    referral = received(ua)
    client = logged_in_client(national)
    path = f"/coop/referrals/{referral.public_id}/decline/"
    empty = client.post(path, {"reason": "  "})
    assert empty.status_code == 200
    assert "error-summary" in empty.content.decode()
    referral.refresh_from_db()
    assert referral.status == TransnationalStatus.RECEIVED
    assert not OutboxMessage.objects.exists()
    assert client.post(path, {"reason": "We have no place for her now."}).status_code == 302
    [message] = crossed(ua)
    assert message["payload"]["decision"] == "declined"
    assert message["payload"]["reason"] == "We have no place for her now."
    assert not Case.objects.exists()


REFUSED = [
    (Role.CASE_WORKER, Scope.AGENCY),
    (Role.COORDINATOR, Scope.NATIONAL),
    (Role.SERVICE_PROVIDER, Scope.AGENCY),
    (Role.DECISION_MAKER, Scope.NATIONAL),
    (Role.FIRST_RESPONDER, Scope.AGENCY),
    (Role.ANALYST, Scope.NATIONAL),
    (Role.ADMINISTRATOR, Scope.NATIONAL),
    (Role.AUDITOR, Scope.NATIONAL),
]


@pytest.mark.parametrize(("role", "scope"), [(Role.CASE_WORKER, Scope.NATIONAL), *REFUSED])
def test_only_a_national_focal_point_sees_and_answers_incoming_referrals(ua, fund, role, scope):
    referral = received(ua)
    client = logged_in_client(member(role, agency=fund, scope=scope))
    allowed = (role, scope) == (Role.CASE_WORKER, Scope.NATIONAL)
    pages = ["/coop/referrals/", f"/coop/referrals/{referral.public_id}/"]
    assert [client.get(p).status_code for p in pages] == ([200, 200] if allowed else [404, 404])
    for act, data in (("decline", {"reason": "No."}), ("accept", {"owning_agency": fund.public_id})):
        response = client.post(f"/coop/referrals/{referral.public_id}/{act}/", data)
        assert response.status_code == (302 if allowed else 404)
        if allowed:
            break  # answered: the next act is refused with a message
    referral.refresh_from_db()
    assert referral.status == (TransnationalStatus.DECLINED if allowed else TransnationalStatus.RECEIVED)
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"narrative": "Recruited in Kherson."}, "unexpected ['narrative']"),
        (
            {"person": {**incoming_payload()["person"], "documents": [{"number": "FA123"}]}},
            "unexpected ['documents']",
        ),
        ({"consent": {**incoming_payload()["consent"], "country": "MD"}}, "consent to sharing with Georgia"),
        ({"services_needed": []}, "services_needed"),
        ({"person": {**incoming_payload()["person"], "sex": "unknown_code"}}, "person.sex"),
    ],
)
def test_anything_beyond_the_minimal_subset_is_refused_whole(ua, changes, why):
    focal_point()
    status, answer = from_partner(ua, MessageType.REFERRAL, incoming_payload(**changes))
    assert (status, answer["reason"]) == (422, "invalid_content")
    assert why in answer["detail"]
    assert not TransnationalReferral.objects.exists()
    assert not Alert.objects.exists()


def test_an_accepted_incoming_referral_is_followed_by_the_owning_agency(ua, fund):
    referral = received(ua)
    tn.accept_referral(actor=focal_point(), referral=referral, owning_agency=fund)
    referral.refresh_from_db()
    owner = member(Role.CASE_WORKER, agency=fund)
    client = logged_in_client(owner)
    assert client.get("/coop/referrals/").status_code == 404  # the country's inbox is not theirs
    page = client.get(f"/coop/referrals/{referral.public_id}/")
    assert page.status_code == 200 and "Olena" in page.content.decode()
    response = client.post(
        f"/coop/referrals/{referral.public_id}/updates/", {"kind": "arrival", "date": "", "note": ""}
    )
    assert "Give the date." in response.content.decode()
    response = client.post(
        f"/coop/referrals/{referral.public_id}/updates/",
        {"kind": "arrival", "date": timezone.localdate().isoformat(), "note": "Met at the bus station."},
    )
    assert response.status_code == 302
    answer, arrival = crossed(ua)
    assert (answer["type"], arrival["type"]) == (MessageType.REFERRAL_RESPONSE, MessageType.REFERRAL_UPDATE)
    assert arrival["payload"]["note"] == "Met at the bus station."
    update = TransnationalUpdate.objects.get(referral=referral)
    assert (update.direction, update.kind, update.recorded_by) == (Direction.OUTGOING, "arrival", owner)
    assert any("told Ukraine (UA): The person arrived" in t for t in timeline_of(referral.case))
    other = logged_in_client(member(Role.CASE_WORKER, agency=AgencyFactory()))
    assert other.get(f"/coop/referrals/{referral.public_id}/").status_code == 404


def test_the_home_page_counts_what_waits_and_the_sent_list_shows_the_answer(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker)
    consent(case, worker)
    referral = send(case, worker, ua)
    from_partner(
        ua,
        MessageType.REFERRAL_RESPONSE,
        {
            "referral_id": str(referral.referral_id),
            "decision": "accepted",
            "receiver_reference": "UA-9",
            "reason": "",
        },
    )
    received(ua)
    national = logged_in_client(focal_point())
    assert (
        "1</strong> referral from a partner country waiting for a decision"
        in national.get("/").content.decode()
    )
    sent = logged_in_client(worker).get("/coop/referrals/sent/").content.decode()
    assert case.reference in sent and "UA-9" in sent and "Accepted" in sent
    assert '/coop/referrals/"' not in sent  # an agency-scope sender has no incoming tab
    assert (
        logged_in_client(member(Role.COORDINATOR, agency=fund)).get("/coop/referrals/sent/").status_code
        == 404
    )


# --- the case page, the referral form and the consent that names its country ---------------------------------


def test_the_case_page_offers_the_referral_to_a_partner_country(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker)
    html = logged_in_client(worker).get(f"/cases/{case.public_id}/").content.decode()
    assert f"/coop/referrals/case/{case.public_id}/new/" in html
    coordinator = member(Role.COORDINATOR, agency=fund, scope=Scope.NATIONAL)
    html = logged_in_client(coordinator).get(f"/cases/{case.public_id}/").content.decode()
    assert f"/coop/referrals/case/{case.public_id}/new/" not in html
    assert logged_in_client(coordinator).get(f"/coop/referrals/case/{case.public_id}/new/").status_code == 404


def test_the_referral_form_records_the_consent_and_sends_together(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker)
    client = logged_in_client(worker)
    path = f"/coop/referrals/case/{case.public_id}/new/"
    data = {"partner": "UA", "services": ["medical"], "planned_arrival": "", "note": ""}
    refused = client.post(path, data)
    assert "No referral leaves without the person" in refused.content.decode()
    assert not OutboxMessage.objects.exists() and not Consent.objects.filter(purpose="cross_border").exists()
    response = client.post(path, {**data, "consent_now": "on"})
    assert response.status_code == 302
    referral = TransnationalReferral.objects.get(case=case)
    assert Consent.objects.filter(case=case, purpose="cross_border", country="UA").count() == 1
    assert OutboxMessage.objects.filter(type=MessageType.REFERRAL, partner=ua.partner).count() == 1
    panel = client.get(f"/cases/{case.public_id}/").content.decode()
    assert f"/coop/referrals/{referral.public_id}/" in panel


def test_a_cross_border_consent_names_its_country(fund):
    worker = sender(fund)
    case = refer(fund, worker)
    client = logged_in_client(worker)
    path = f"/cases/{case.public_id}/consent/"
    data = {"purpose": "cross_border", "given": "yes", "basis": "consent"}
    missing = client.post(path, data).content.decode()
    assert "names the country it is for" in missing
    assert client.post(path, {**data, "country": "UA"}).status_code == 302
    assert Consent.objects.get(case=case, purpose="cross_border").country == "UA"
    page = client.get(path).content.decode()
    assert "Ukraine" in page
    assert any(
        "recorded consent for: Sharing with another country, to Ukraine" in t for t in timeline_of(case)
    )
    created = post(
        api(worker),
        f"{API}/cases/{case.public_id}/consents/",
        {"purpose": "cross_border", "given": True, "basis": "consent", "country": "MD"},
    )
    assert created.status_code == 201 and created.json()["country"] == "MD"
    refused = post(
        api(worker), f"{API}/cases/{case.public_id}/consents/", {"purpose": "cross_border", "given": True}
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "country_required")


# --- the API -----------------------------------------------------------------------------------------------


def test_the_api_sends_lists_answers_and_updates(ua, fund):
    worker = sender(fund)
    case = refer(fund, worker)
    client = api(worker)
    path = f"{API}/cases/{case.public_id}/transnational-referrals/"
    body = {"partner": "UA", "services": ["legal"], "planned_arrival": None, "note": ""}
    refused = post(client, path, body)
    assert (refused.status_code, refused.json()["code"]) == (400, "consent_required")
    consent(case, worker)
    sent = post(client, path, body)
    assert sent.status_code == 201
    assert sent.json()["direction"] == "outgoing" and sent.json()["person"]["given_name"] == GIVEN
    assert client.get(path).json()["results"][0]["id"] == sent.json()["id"]

    national = api(focal_point())
    incoming = received(ua)
    listed = national.get(f"{API}/transnational-referrals/?direction=incoming").json()["results"]
    assert [r["id"] for r in listed] == [incoming.public_id]
    assert "person" not in listed[0]
    one = national.get(f"{API}/transnational-referrals/{incoming.public_id}/").json()
    assert one["person"]["family_name"] == "Kovalenko" and one["actions"] == ["accept", "decline"]
    accepted = post(
        national,
        f"{API}/transnational-referrals/{incoming.public_id}/accept/",
        {"owning_agency": fund.public_id, "region": "GE-TB"},
    )
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted" and accepted.json()["case_reference"].startswith("GE-")
    again = post(national, f"{API}/transnational-referrals/{incoming.public_id}/decline/", {"reason": "No"})
    assert (again.status_code, again.json()["code"]) == (400, "already_answered")
    update = post(
        national,
        f"{API}/transnational-referrals/{incoming.public_id}/updates/",
        {"kind": "services_arranged", "date": None, "note": "Shelter in Tbilisi."},
    )
    assert update.status_code == 201
    assert [u["kind"] for u in update.json()["updates"]] == ["services_arranged"]

    agency_worker = api(member(Role.CASE_WORKER, agency=AgencyFactory()))
    waiting = received(ua)
    for path_ in (
        f"{API}/transnational-referrals/{waiting.public_id}/",
        f"{API}/transnational-referrals/{incoming.public_id}/",
    ):
        assert agency_worker.get(path_).status_code == 404
    refused = post(
        agency_worker,
        f"{API}/transnational-referrals/{waiting.public_id}/accept/",
        {"owning_agency": fund.public_id},
    )
    assert refused.status_code == 404
    assert agency_worker.get(f"{API}/transnational-referrals/?direction=incoming").json()["results"] == []
    analyst = api(member(Role.ANALYST, agency=fund, scope=Scope.NATIONAL))
    assert analyst.get(f"{API}/transnational-referrals/").status_code == 403


def test_the_api_is_in_the_schema():
    text = api(member(Role.CASE_WORKER)).get("/api/schema/", {"format": "json"}).content.decode()
    for endpoint in (
        "/api/v1/cases/{public_id}/transnational-referrals/",
        "/api/v1/transnational-referrals/",
        "/api/v1/transnational-referrals/{public_id}/accept/",
        "/api/v1/transnational-referrals/{public_id}/decline/",
        "/api/v1/transnational-referrals/{public_id}/updates/",
    ):
        assert endpoint in text


def test_the_lists_of_referrals_read_the_same_queries_however_many_there_are(ua, fund):
    national = focal_point()
    client, rest = logged_in_client(national), api(national)
    pages = [
        "/coop/referrals/",
        f"{API}/transnational-referrals/",
        f"{API}/transnational-referrals/?direction=incoming",
    ]

    def queries() -> list[int]:
        counts = []
        for page in pages:
            with CaptureQueriesContext(connection) as captured:
                assert (client if page.startswith("/coop") else rest).get(page).status_code == 200
            counts.append(len(captured))
        return counts

    first = received(ua)
    tn.accept_referral(actor=national, referral=first, owning_agency=fund, region="")
    queries()  # the first requests warm the session and caches
    once = queries()
    for _ in range(3):
        tn.accept_referral(actor=national, referral=received(ua), owning_agency=fund, region="")
        received(ua)
    assert queries() == once
