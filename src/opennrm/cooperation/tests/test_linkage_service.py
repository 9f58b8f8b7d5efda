"""Record linkage in the platform: encodings kept current, a partner's question answered with references and
scores only, this instance's question and its answer, duplicates across agencies, the pages, the API and the
commands.

Real crypto and a real database: the partner is played by the test with its own keys and the shared secret."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from opennrm.accounts.models import Agency
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, logged_in_client, member
from opennrm.cases.choices import ConsentBasis, ConsentPurpose
from opennrm.cases.models import Case, CaseEvent
from opennrm.cases.services import IntakeData, record_consent, refer_person, update_identity
from opennrm.cooperation import envelope, linkage_service, messaging
from opennrm.cooperation.linkage import DEFAULT_THRESHOLD, EncodedSet, Encoder, Encoding, LinkageRecord, match
from opennrm.cooperation.models import (
    InboxMessage,
    LinkageCandidate,
    LinkageEncoding,
    LinkageQuery,
    LinkageQueryStatus,
    MessageType,
    OutboxMessage,
    Rejection,
)
from opennrm.cooperation.tests import coop_kit as kit
from opennrm.core.errors import DomainError
from opennrm.core.models import Alert, AuditEntry

pytestmark = pytest.mark.django_db

BORN = dt.date(1994, 3, 17)
GEORGIAN = ("ნინო", "ბერიძე")
CYRILLIC = ("Нино", "Беридзе")
# What must never cross the border or reach the audit log, in any script or form.
IDENTIFYING = ["ნინო", "ბერიძე", "Нино", "Беридзе", "nino", "beridze", "1994", "1994-03-17", "17.03.1994"]


@pytest.fixture
def instance(settings: Any, tmp_path: Path) -> Path:
    """This instance (GE) with keys of the test's own; the linkage secret file is the test's own, not installed."""
    kit.isolate_instance(settings, tmp_path)
    settings.OPENNRM_COOP_LINKAGE_SECRET_FILE = str(tmp_path / "linkage_secret")
    return tmp_path / "linkage_secret"


@pytest.fixture
def secret(instance: Path) -> bytes:
    """The regional secret, installed on this instance."""
    value = linkage_service.new_secret()
    linkage_service.write_secret(value)
    return value


def refer(
    agency: Agency,
    names: tuple[str, str] = GEORGIAN,
    born: dt.date | None = BORN,
    sex: str = "feminine",
    **changes: Any,
) -> Case:
    data = IntakeData(
        given_name=names[0], family_name=names[1], date_of_birth=born, sex=sex, citizenship="GE"
    )
    for name, value in changes.items():
        setattr(data, name, value)
    return refer_person(
        actor=member(Role.CASE_WORKER, agency=agency),
        referring_agency=agency,
        owning_agency=agency,
        data=data,
        consent_given=True,
    )


def encoded(secret: bytes, names: tuple[str, str] = CYRILLIC, born: dt.date | None = BORN) -> str:
    """How a partner holding the same secret encodes its own record."""
    record = LinkageRecord(given_name=names[0], family_name=names[1], date_of_birth=born, sex="female")
    return Encoder(secret).encode(record).to_text()


def ask(partner: kit.PlayedPartner, payload: dict[str, Any]) -> tuple[int, dict[str, str]]:
    sealed = partner.seal(type=MessageType.LINKAGE_QUERY, payload=payload)
    return messaging.receive(kit.body(sealed))


def query_payload(secret: bytes, *encodings: str, **changes: Any) -> dict[str, Any]:
    return {
        "query_id": str(uuid.uuid4()),
        "encodings": list(encodings) or [encoded(secret)],
        "threshold": DEFAULT_THRESHOLD,
        "secret_id": linkage_service.fingerprint(secret),
        **changes,
    }


def opened_by_partner(message: OutboxMessage, partner: kit.PlayedPartner) -> tuple[str, Any]:
    """Deliver `message` to the played partner and open it with the partner's own private key: what crossed."""
    seen: list[bytes] = []

    def transport(url: str, body: bytes) -> messaging.Response:
        seen.append(body)
        answer = {"status": "accepted", "message_id": json.loads(body)["id"]}
        return messaging.Response(202, json.dumps(answer).encode())

    assert messaging.deliver_one(message, transport=transport)
    sealed = json.loads(seen[0])
    return seen[0].decode(), envelope.decrypt(sealed, private_key=partner.encryption)


def assert_nothing_identifying(text: str) -> None:
    lowered = text.lower()
    assert not [value for value in IDENTIFYING if value.lower() in lowered]


# --- encodings kept current ------------------------------------------------------------------------------


def test_an_encoding_is_written_at_intake_and_rebuilt_when_the_identity_changes(secret):
    case = refer(AgencyFactory())
    first = LinkageEncoding.objects.get(person=case.person)
    assert first.secret_id == linkage_service.fingerprint(secret) and len(bytes(first.bits)) == 128

    update_identity(
        actor=case.created_by, case=case, expected_version=case.version, changes={"family_name": "Kapanadze"}
    )
    renamed = LinkageEncoding.objects.get(person=case.person)
    assert bytes(renamed.bits) != bytes(first.bits) and renamed.block == first.block

    case.refresh_from_db()
    update_identity(
        actor=case.created_by,
        case=case,
        expected_version=case.version,
        changes={"date_of_birth": dt.date(1990, 1, 2)},
    )
    assert LinkageEncoding.objects.get(person=case.person).block != first.block


def test_nothing_is_encoded_without_a_secret(instance):
    case = refer(AgencyFactory())
    assert not LinkageEncoding.objects.filter(person=case.person).exists()
    assert not linkage_service.is_configured()


def test_a_stale_encoding_is_ignored_and_rebuilt_by_reindex(secret):
    case = refer(AgencyFactory())
    partner = kit.play_partner()
    new = linkage_service.new_secret()
    linkage_service.write_secret(new, replace=True)

    assert ask(partner, query_payload(new))[0] == 202
    answer = OutboxMessage.objects.get(type=MessageType.LINKAGE_RESULT)
    assert answer.payload["candidates"] == []  # the encoding under the old secret is not compared

    out = io.StringIO()
    call_command("coop_linkage_reindex", "--batch-size", "1", stdout=out)
    assert LinkageEncoding.objects.get(person=case.person).secret_id == linkage_service.fingerprint(new)
    assert "Encoded 1 people" in out.getvalue()
    assert ask(partner, query_payload(new))[0] == 202
    latest = OutboxMessage.objects.filter(type=MessageType.LINKAGE_RESULT).order_by("-created_at", "-pk")[0]
    assert [c["reference"] for c in latest.payload["candidates"]] == [case.reference]


def test_reindex_refuses_without_a_secret(instance):
    with pytest.raises(CommandError, match="not configured"):
        call_command("coop_linkage_reindex")


def test_an_unreadable_secret_turns_linkage_off_and_intake_still_works(instance):
    instance.write_text("not base64 at all\n")
    case = refer(AgencyFactory())
    assert not linkage_service.is_configured()
    assert not LinkageEncoding.objects.filter(person=case.person).exists()


# --- a partner asks (this instance answers) --------------------------------------------------------------


def test_a_partner_query_in_cyrillic_finds_the_person_recorded_in_georgian_and_only_a_reference_crosses(
    secret,
):
    case = refer(AgencyFactory())
    refer(AgencyFactory(), names=("Giorgi", "Kapanadze"), sex="masculine")  # same year: compared, not a match
    partner = kit.play_partner()
    payload = query_payload(secret)

    status, _ = ask(partner, payload)

    assert status == 202
    answer = OutboxMessage.objects.get(type=MessageType.LINKAGE_RESULT, partner=partner.partner)
    text, opened = opened_by_partner(answer, partner)
    assert set(opened) == {"query_id", "candidates"} and opened["query_id"] == payload["query_id"]
    [candidate] = opened["candidates"]
    assert set(candidate) == {"reference", "score"}
    assert candidate["reference"] == case.reference and candidate["score"] >= DEFAULT_THRESHOLD
    assert_nothing_identifying(json.dumps(opened, ensure_ascii=False))
    assert_nothing_identifying(text)
    entry = AuditEntry.objects.get(action="coop.linkage_answered")
    assert entry.details == {"partner": "UA", "encodings": 1, "compared": 2, "candidates": 1}
    event = CaseEvent.objects.get(case=case, kind="linkage_partner_match")
    assert event.data["partner"] == "UA" and event.data["score"] >= 80


def test_the_asker_cannot_lower_the_threshold(secret):
    refer(AgencyFactory(), names=("Giorgi", "Kapanadze"), sex="masculine")
    partner = kit.play_partner()

    assert ask(partner, query_payload(secret, threshold=0.1))[0] == 202

    assert OutboxMessage.objects.get(type=MessageType.LINKAGE_RESULT).payload["candidates"] == []


def test_a_person_recorded_twice_answers_once_per_person_with_the_most_recent_case(secret):
    older = refer(AgencyFactory())
    newer = refer_person(
        actor=older.created_by,
        referring_agency=older.owning_agency,
        owning_agency=older.owning_agency,
        data=IntakeData(given_name="x"),
        consent_given=True,
    )
    Case.objects.filter(pk=newer.pk).update(person=older.person)  # a second case of the same person
    partner = kit.play_partner()

    assert (
        ask(partner, query_payload(secret, encoded(secret), encoded(secret, ("Nino", "Beridze"))))[0] == 202
    )

    candidates = OutboxMessage.objects.get(type=MessageType.LINKAGE_RESULT).payload["candidates"]
    assert [c["reference"] for c in candidates] == [newer.reference]


BAD_QUERIES = {
    "not an encoding": {"encodings": ["nonsense"]},
    "wrong width": {"encodings": ["ab12." + base64.urlsafe_b64encode(b"\0" * 64).decode().rstrip("=")]},
    "no encodings": {"encodings": []},
    "no query id": {"query_id": "not-a-uuid"},
    "threshold not a number": {"threshold": "low"},
    "another secret": {"secret_id": "0123456789abcdef"},
}


@pytest.mark.parametrize("change", BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
def test_a_malformed_query_is_refused_and_changes_nothing(secret, change):
    refer(AgencyFactory())
    partner = kit.play_partner()
    before = (InboxMessage.objects.count(), OutboxMessage.objects.count(), CaseEvent.objects.count())

    status, answer = ask(partner, query_payload(secret, **change))

    assert (status, answer["reason"]) == (422, "invalid_content")
    assert (InboxMessage.objects.count(), OutboxMessage.objects.count(), CaseEvent.objects.count()) == before
    assert not AuditEntry.objects.filter(action="coop.linkage_answered").exists()
    assert Rejection.objects.get().claimed_type == MessageType.LINKAGE_QUERY


def test_a_query_with_too_many_encodings_is_refused(secret):
    partner = kit.play_partner()
    too_many = [encoded(secret)] * (linkage_service.MAX_QUERY_ENCODINGS + 1)

    status, answer = ask(partner, query_payload(secret, *too_many))

    assert status == 422 and "at most 5 encodings" in answer["detail"]
    assert not OutboxMessage.objects.filter(type=MessageType.LINKAGE_RESULT).exists()


def test_a_partner_asking_beyond_its_daily_cap_is_refused(secret, settings):
    settings.OPENNRM_COOP_LINKAGE_DAILY_CAP = 2
    partner = kit.play_partner()
    other = kit.play_partner("MD", "MD", "https://md.example.org")

    answers = [ask(partner, query_payload(secret))[0] for _ in range(3)]

    assert answers == [202, 202, 422]
    assert ask(other, query_payload(secret))[0] == 202  # the cap is per partner
    assert "24 hours" in Rejection.objects.get().detail


def test_without_a_secret_a_query_is_refused(instance):
    partner = kit.play_partner()
    some_secret = linkage_service.new_secret()

    status, answer = ask(partner, query_payload(some_secret))

    assert status == 422 and "not configured" in answer["detail"]


# --- this instance asks ----------------------------------------------------------------------------------


def test_asking_a_partner_sends_only_encodings_and_the_answer_reaches_the_case_worker(secret):
    agency = AgencyFactory()
    case = refer(agency)
    update_identity(
        actor=case.created_by,
        case=case,
        expected_version=case.version,
        changes={"other_names": ["Nino Beridze"]},
    )
    worker = member(Role.CASE_WORKER, agency=agency)
    partner = kit.play_partner()

    query = linkage_service.query_partner(actor=worker, case=case, partner=partner.partner)

    sent = OutboxMessage.objects.get(type=MessageType.LINKAGE_QUERY, partner=partner.partner)
    text, opened = opened_by_partner(sent, partner)
    assert set(opened) == {"query_id", "encodings", "threshold", "secret_id"}
    assert opened["query_id"] == str(query.query_id) and len(opened["encodings"]) == 2
    assert_nothing_identifying(text + json.dumps(opened, ensure_ascii=False))
    assert_nothing_identifying(json.dumps(AuditEntry.objects.get(action="coop.linkage_queried").details))
    # The partner, holding the same secret, finds its own Cyrillic record among the asked encodings.
    asked = EncodedSet.from_encodings([Encoding.from_text(t) for t in opened["encodings"]])
    own = EncodedSet.from_encodings([Encoding.from_text(encoded(secret))])
    assert match(asked, own)[0].score >= DEFAULT_THRESHOLD

    result = partner.seal(
        type=MessageType.LINKAGE_RESULT,
        payload={
            "query_id": opened["query_id"],
            "candidates": [{"reference": "UA-2026-00042", "score": 0.97}],
        },
    )
    assert messaging.receive(kit.body(result))[0] == 202

    query.refresh_from_db()
    assert query.status == LinkageQueryStatus.ANSWERED
    assert [(c.remote_reference, c.score) for c in query.candidates.all()] == [("UA-2026-00042", 0.97)]
    alert = Alert.objects.get(recipient=worker, kind="linkage_answered")
    assert case.reference in alert.text and alert.url.endswith(f"/cases/{case.public_id}/#linkage-panel")


def test_a_second_question_waits_for_the_first_answer(secret):
    agency = AgencyFactory()
    case = refer(agency)
    worker = member(Role.CASE_WORKER, agency=agency)
    partner = kit.play_partner()
    linkage_service.query_partner(actor=worker, case=case, partner=partner.partner)

    with pytest.raises(DomainError, match="still waiting"):
        linkage_service.query_partner(actor=worker, case=case, partner=partner.partner)


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.DECISION_MAKER, Role.SERVICE_PROVIDER])
def test_only_who_runs_the_case_may_ask(secret, role):
    agency = AgencyFactory()
    case = refer(agency)
    partner = kit.play_partner()
    for user in (member(role, agency=agency, scope=Scope.NATIONAL), member(Role.CASE_WORKER)):
        with pytest.raises(PermissionDenied):
            linkage_service.query_partner(actor=user, case=case, partner=partner.partner)
    assert not LinkageQuery.objects.exists() and not OutboxMessage.objects.exists()


def test_asking_without_a_secret_says_linkage_is_not_configured(instance):
    agency = AgencyFactory()
    case = refer(agency)
    with pytest.raises(DomainError, match="not configured"):
        linkage_service.query_partner(
            actor=member(Role.CASE_WORKER, agency=agency), case=case, partner=kit.play_partner().partner
        )


def test_an_answer_to_an_unknown_query_is_refused(secret):
    agency = AgencyFactory()
    case = refer(agency)
    asked = kit.play_partner()
    other = kit.play_partner("MD", "MD", "https://md.example.org")
    query = linkage_service.query_partner(
        actor=member(Role.CASE_WORKER, agency=agency), case=case, partner=asked.partner
    )
    candidates = [{"reference": "UA-1", "score": 0.9}]

    for partner, query_id in ((asked, str(uuid.uuid4())), (other, str(query.query_id))):
        sealed = partner.seal(
            type=MessageType.LINKAGE_RESULT, payload={"query_id": query_id, "candidates": candidates}
        )
        assert messaging.receive(kit.body(sealed))[0] == 422

    query.refresh_from_db()
    assert query.status == LinkageQueryStatus.SENT and not LinkageCandidate.objects.exists()
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    "candidates",
    [
        [{"reference": "UA-1", "score": 1.5}],
        [{"reference": "UA 1; drop", "score": 0.9}],
        [{"reference": "UA-1", "score": 0.9, "name": "Nino"}],
        [{"reference": f"UA-{i}", "score": 0.9} for i in range(11)],
    ],
    ids=["score above 1", "not a reference", "more than a reference", "too many"],
)
def test_a_malformed_answer_is_refused(secret, candidates):
    agency = AgencyFactory()
    case = refer(agency)
    partner = kit.play_partner()
    query = linkage_service.query_partner(
        actor=member(Role.CASE_WORKER, agency=agency), case=case, partner=partner.partner
    )
    sealed = partner.seal(
        type=MessageType.LINKAGE_RESULT, payload={"query_id": str(query.query_id), "candidates": candidates}
    )

    assert messaging.receive(kit.body(sealed))[0] == 422
    assert not LinkageCandidate.objects.exists()


# --- pages -----------------------------------------------------------------------------------------------


def case_page(client, case: Case) -> str:
    return client.get(reverse("cases:detail", kwargs={"public_id": case.public_id})).content.decode()


def test_the_case_panel_asks_a_partner_and_shows_its_answer_with_the_consent_needed(secret):
    agency = AgencyFactory()
    case = refer(agency)
    worker = member(Role.CASE_WORKER, agency=agency)
    partner = kit.play_partner()
    client = logged_in_client(worker)
    assert "Ask NRM UA" in case_page(client, case)

    response = client.post(
        reverse("coop:linkage_ask", kwargs={"public_id": case.public_id}), {"partner": "UA"}
    )

    assert response.status_code == 302 and response["Location"].endswith("#linkage-panel")
    query = LinkageQuery.objects.get(case=case)
    assert "waiting for the answer" in case_page(client, case)
    result = partner.seal(
        type=MessageType.LINKAGE_RESULT,
        payload={
            "query_id": str(query.query_id),
            "candidates": [{"reference": "UA-2026-00042", "score": 0.912}],
        },
    )
    assert messaging.receive(kit.body(result))[0] == 202
    page = case_page(client, case)
    assert "UA-2026-00042" in page and "91%" in page
    assert "a human decides" in page and "No consent to sharing with Ukraine" in page
    assert reverse("cases:consent", kwargs={"public_id": case.public_id}) in page
    assert reverse("coop:transnational_create", kwargs={"case_public_id": case.public_id}) in page

    record_consent(
        actor=worker,
        case=case,
        purpose=ConsentPurpose.CROSS_BORDER,
        given=True,
        basis=ConsentBasis.CONSENT,
        country="UA",
    )
    assert "Consent to sharing with Ukraine is on file" in case_page(client, case)


def test_the_panel_says_when_linkage_is_not_configured(instance):
    agency = AgencyFactory()
    case = refer(agency)
    kit.play_partner()
    page = case_page(logged_in_client(member(Role.CASE_WORKER, agency=agency)), case)
    assert "Record linkage is not configured" in page and "Ask NRM UA" not in page


def asks(role: Role) -> bool:
    return Perm.CASE_EDIT in ROLE_PERMISSIONS[role]


@pytest.mark.parametrize("role", list(Role))
def test_asking_from_the_case_page_by_role(secret, role):
    agency = AgencyFactory()
    case = refer(agency)
    kit.play_partner()
    url = reverse("coop:linkage_ask", kwargs={"public_id": case.public_id})
    own = logged_in_client(member(role, agency=agency))
    stranger = logged_in_client(member(role))

    assert stranger.post(url, {"partner": "UA"}).status_code == 404
    assert own.post(url, {"partner": "XX"}).status_code == 404
    assert own.post(url, {"partner": "UA"}).status_code == (302 if asks(role) else 404)
    assert LinkageQuery.objects.count() == (1 if asks(role) else 0)
    assert ("linkage-panel" in case_page(own, case)) == asks(role)


def dedup_url(same_agency: bool = False) -> str:
    return reverse("coop:linkage_duplicates") + ("?same_agency=1" if same_agency else "")


def test_the_duplicates_page_shows_one_person_recorded_by_two_agencies(secret):
    fund, ngo = AgencyFactory(name="State Fund"), AgencyFactory(name="Tbilisi NGO")
    georgian = refer(fund)
    cyrillic = refer(ngo, names=CYRILLIC)
    twice_here = refer(fund, names=("Giorgi", "Kapanadze"), sex="masculine")
    again_here = refer(fund, names=("Гиорги", "Капанадзе"), sex="masculine")
    refer(ngo, names=("Tamar", "Lomidze"))
    client = logged_in_client(member(Role.COORDINATOR, scope=Scope.NATIONAL))

    page = client.get(dedup_url()).content.decode()

    assert georgian.reference in page and cyrillic.reference in page and "Tbilisi NGO" in page
    assert twice_here.reference not in page and "1 pair found among 5 people" in page
    assert not [value for value in ("ნინო", "Нино", "Nino") if value in page]
    entry = AuditEntry.objects.get(action="coop.linkage_duplicates_run")
    assert entry.details == {"people": 5, "pairs": 1, "shown": 1, "same_agency": False}

    both = client.get(dedup_url(same_agency=True)).content.decode()
    assert twice_here.reference in both and again_here.reference in both and "2 pairs found" in both


def test_the_duplicates_page_says_when_linkage_is_not_configured(instance):
    client = logged_in_client(member(Role.COORDINATOR, scope=Scope.NATIONAL))
    assert "Record linkage is not configured" in client.get(dedup_url()).content.decode()


@pytest.mark.parametrize("scope", [Scope.NATIONAL, Scope.AGENCY])
@pytest.mark.parametrize("role", list(Role))
def test_the_duplicates_page_by_role(secret, role, scope):
    allowed = scope == Scope.NATIONAL and Perm.CASE_VIEW in ROLE_PERMISSIONS[role]
    client = logged_in_client(member(role, scope=scope))
    assert client.get(dedup_url()).status_code == (200 if allowed else 404)


# --- API -------------------------------------------------------------------------------------------------


def test_the_api_asks_a_partner_and_shows_the_answer(secret):
    agency = AgencyFactory()
    case = refer(agency)
    partner = kit.play_partner()
    client = logged_in_client(member(Role.CASE_WORKER, agency=agency))
    url = f"/api/v1/cases/{case.public_id}/linkage-queries/"

    created = client.post(url, {"partner": "ua"}, content_type="application/json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["partner"], body["status"], body["candidates"]) == ("UA", "sent", [])
    assert client.post(url, {"partner": "UA"}, content_type="application/json").status_code == 400  # waiting
    result = partner.seal(
        type=MessageType.LINKAGE_RESULT,
        payload={"query_id": body["query_id"], "candidates": [{"reference": "UA-2026-00042", "score": 0.9}]},
    )
    assert messaging.receive(kit.body(result))[0] == 202
    detail = client.get(f"/api/v1/linkage-queries/{body['id']}/").json()
    assert detail["status"] == "answered"
    assert detail["candidates"] == [{"reference": "UA-2026-00042", "score": 0.9}]
    assert [q["id"] for q in client.get(url).json()] == [body["id"]]

    stranger = logged_in_client(member(Role.CASE_WORKER))
    assert stranger.get(f"/api/v1/linkage-queries/{body['id']}/").status_code == 404
    assert stranger.post(url, {"partner": "UA"}, content_type="application/json").status_code == 404
    coordinator = logged_in_client(member(Role.COORDINATOR, agency=agency, scope=Scope.NATIONAL))
    assert coordinator.get(url).status_code == 404  # oversees the case but does not run it


# --- the secret ------------------------------------------------------------------------------------------


def test_the_secret_is_generated_owner_only_shown_once_and_imported_elsewhere(instance, monkeypatch):
    out, err = io.StringIO(), io.StringIO()
    call_command("coop_linkage_secret", "generate", stdout=out, stderr=err)

    printed = out.getvalue().strip()
    assert base64.b64decode(printed) == base64.b64decode(instance.read_text())
    assert stat.S_IMODE(os.stat(instance).st_mode) == 0o600
    fp = linkage_service.current_fingerprint()
    assert fp and fp in err.getvalue()
    with pytest.raises(CommandError, match="--replace"):
        call_command("coop_linkage_secret", "generate", stdout=io.StringIO(), stderr=io.StringIO())

    shown = io.StringIO()
    call_command("coop_linkage_secret", "show", stdout=shown)
    assert fp in shown.getvalue() and printed not in shown.getvalue()

    instance.unlink()
    monkeypatch.setattr("sys.stdin", io.StringIO(printed + "\n"))
    call_command("coop_linkage_secret", "import", stdout=io.StringIO(), stderr=io.StringIO())
    assert linkage_service.current_fingerprint() == fp
    monkeypatch.setattr("sys.stdin", io.StringIO("too short"))
    with pytest.raises(CommandError):
        call_command("coop_linkage_secret", "import", "--replace", stdout=io.StringIO(), stderr=io.StringIO())
    assert linkage_service.current_fingerprint() == fp
    assert AuditEntry.objects.filter(action__startswith="coop.linkage_secret_").count() == 2
    assert printed not in json.dumps([e.details for e in AuditEntry.objects.all()])


def test_the_duplicates_page_does_not_query_once_per_pair(secret):
    """The cases and agencies of every pair come in one query: the page costs the same for 1 pair and for 3."""
    client = logged_in_client(member(Role.COORDINATOR, scope=Scope.NATIONAL))
    people = [("Giorgi", "Kapanadze", "masculine"), ("Tamar", "Lomidze", "feminine")]

    def page_queries(pairs: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            page = client.get(dedup_url()).content.decode()
        assert f"{pairs} pair" in page
        return len(captured)

    refer(AgencyFactory())
    refer(AgencyFactory(), names=CYRILLIC)
    page_queries(1)  # the first request of the session costs a few more queries
    one = page_queries(1)
    for given, family, sex in people:
        refer(AgencyFactory(), names=(given, family), sex=sex)
        refer(AgencyFactory(), names=(given, family), sex=sex)
    assert page_queries(3) == one
