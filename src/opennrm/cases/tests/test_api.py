"""The cases API: scoped like the pages (another agency's case is 404, exactly like a missing one), identity only
for those who may read it and always audited, every act through its service with its rule's message (400), its
optimistic lock (409), and its role matrix; the OpenAPI schema documents every endpoint."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from opennrm.accounts.models import Agency, User
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.services import create_api_token
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases import screening as instruments
from opennrm.cases import services
from opennrm.cases.choices import CaseStatus, DecisionOutcome
from opennrm.cases.models import (
    Attachment,
    Case,
    CaseEvent,
    Compensation,
    Consent,
    Decision,
    Note,
    Notification,
    Person,
    Screening,
    SupportPlanItem,
)
from opennrm.cases.services import IntakeData
from opennrm.core.models import AuditEntry

pytestmark = pytest.mark.django_db

API = "/api/v1"
DELPHI = "ilo_ec_delphi_2009"
MISSING = "a" * 24


# --- helpers -------------------------------------------------------------------------------------------------


def staff(role: Role, agency: Agency, scope: Scope = Scope.AGENCY) -> User:
    """A member with an unusable password (no password hashing: the API authenticates with tokens)."""
    return member(role, agency=agency, scope=scope, user__password=None)


def api(user: User) -> Client:
    _token, raw = create_api_token(actor=user, name="t")
    return Client(HTTP_AUTHORIZATION=f"Token {raw}")


def post(client: Client, path: str, data: Any = None) -> Any:
    return client.post(path, data=json.dumps(data or {}), content_type="application/json")


def patch(client: Client, path: str, data: Any) -> Any:
    return client.patch(path, data=json.dumps(data), content_type="application/json")


def has(role: Role, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS[role]


def refer(actor: User, agency: Agency, **data: Any) -> Case:
    intake = {
        "given_name": "Nino",
        "family_name": "Beridze",
        "date_of_birth": dt.date(1990, 5, 31),
        "document_type": "passport",
        "document_number": "13AB45678",
        "region": "GE-TB",
        "exploitation_forms": ["forced_labour"],
        "exploitation_country": "TR",
        "narrative": "Recruited for farm work abroad; passport taken on arrival.",
        **data,
    }
    return services.refer_person(
        actor=actor,
        referring_agency=agency,
        owning_agency=agency,
        data=IntakeData(**intake),
        consent_given=True,
    )


def presumed_found(list_id: str = "adult_labour") -> tuple[instruments.Instrument, list[str]]:
    instrument = instruments.latest(DELPHI)
    wanted = {"deceptive_recruitment", "exploitative_conditions", "coercion_at_destination"}
    item = instrument.get_list(list_id)
    return instrument, sorted(i.id for d in item.dimensions if d.id in wanted for i in d.indicators)


def decided(worker: User, maker: User, case: Case, outcome: str = DecisionOutcome.GRANTED) -> Decision:
    decision = services.request_decision(actor=worker, case=fresh(case), route="permanent_group")
    return services.decide(actor=maker, decision=decision, outcome=outcome, reasons="Indicators confirmed.")


def fresh(case: Case) -> Case:
    return Case.objects.get(pk=case.pk)


@dataclass
class World:
    agency: Agency
    worker: User
    maker: User
    case: Case


@pytest.fixture
def world() -> World:
    agency = AgencyFactory(name="State Fund Tbilisi")
    worker = staff(Role.CASE_WORKER, agency)
    maker = staff(Role.DECISION_MAKER, agency)
    return World(agency=agency, worker=worker, maker=maker, case=refer(worker, agency))


@pytest.fixture
def no_files_left() -> Any:
    """Attachments are written (encrypted) to the instance's media folder: remove them after the test."""
    yield
    for attachment in Attachment.objects.all():
        attachment.file.delete(save=False)


def pdf(name: str = "Nino Beridze passport.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4\n% a passport scan\n", content_type="application/pdf")


# --- scoping ----------------------------------------------------------------------------------------------


CASE_READERS = [
    r for r in Role if has(r, Perm.CASE_VIEW) or has(r, Perm.CASE_REFER) or has(r, Perm.REFERRAL_RESPOND)
]


@pytest.mark.parametrize("role", list(Role))
def test_another_agencys_case_is_absent_from_the_list_and_404_like_a_missing_one(role, world):
    mine = AgencyFactory(name="Batumi Office")
    user = staff(role, mine)
    own = refer(staff(Role.CASE_WORKER, mine), mine, given_name="Tamar")
    client = api(user)

    listing = client.get(f"{API}/cases/")
    if role in CASE_READERS:
        assert listing.status_code == 200
        assert [c["id"] for c in listing.json()["results"]] == [own.public_id]
    else:
        assert listing.status_code == 403
        assert world.case.reference not in listing.content.decode()

    theirs = world.case.public_id
    for suffix in (
        "",
        "identity/",
        "consents/",
        "screenings/",
        "plan/",
        "notes/",
        "attachments/",
        "timeline/",
    ):
        response = client.get(f"{API}/cases/{theirs}/{suffix}")
        missing = client.get(f"{API}/cases/{MISSING}/{suffix}")
        assert response.status_code == 404, suffix
        assert response.json() == missing.json()
        assert world.case.reference not in response.content.decode()


def test_the_api_refuses_requests_without_a_token(world):
    assert Client().get(f"{API}/cases/").status_code == 401
    assert Client().get(f"{API}/cases/{world.case.public_id}/").status_code == 401


def test_the_list_and_the_detail_carry_no_identity_and_no_primary_keys(world):
    client = api(world.worker)
    listing = client.get(f"{API}/cases/")
    detail = client.get(f"{API}/cases/{world.case.public_id}/")
    assert listing.status_code == detail.status_code == 200
    for response in (listing, detail):
        text = response.content.decode()
        for secret in ("Nino", "Beridze", "1990-05-31", "13AB45678", "passport taken"):
            assert secret not in text
    row = listing.json()["results"][0]
    assert row["id"] == world.case.public_id
    assert row["reference"] == world.case.reference
    assert row["exploitation_forms"] == ["forced_labour"]
    assert row["owning_agency"] == {"id": world.agency.public_id, "name": "State Fund Tbilisi"}
    body = detail.json()
    assert body["version"] == 1
    assert body["status"] == CaseStatus.REFERRED
    assert body["reflection_period_ends"]
    assert body["id"] == world.case.public_id
    assert not {"pk", "person", "person_id", "narrative", "guardian"} & set(body)
    assert [(e["type"], e["country"]) for e in body["events"]] == [("exploitation", "TR")]
    assert "details" not in body["events"][0]


def test_the_list_filters(world):
    client = api(world.worker)
    child = refer(
        world.worker,
        world.agency,
        given_name="Luka",
        date_of_birth=dt.date.today() - dt.timedelta(days=3650),
        exploitation_forms=["forced_begging"],
        region="GE-IM",
    )
    late = refer(world.worker, world.agency, given_name="Eka", exploitation_forms=["sexual_exploitation"])
    decision = services.request_decision(actor=world.worker, case=late, route="permanent_group")
    Decision.objects.filter(pk=decision.pk).update(deadline_at=timezone.now() - dt.timedelta(hours=1))
    other_agency = AgencyFactory()
    theirs = refer(staff(Role.CASE_WORKER, other_agency), other_agency)
    national = api(staff(Role.COORDINATOR, world.agency, scope=Scope.NATIONAL))

    def ids(c: Client, **params: Any) -> set[str]:
        response = c.get(f"{API}/cases/", params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(client, child="true") == {child.public_id}
    assert ids(client, child="false") == {world.case.public_id, late.public_id}
    assert ids(client, form="forced_begging") == {child.public_id}
    assert ids(client, region="GE-IM") == {child.public_id}
    assert ids(client, status="decision_pending") == {late.public_id}
    assert ids(client, overdue="true") == {late.public_id}
    assert ids(client, overdue="false") == {world.case.public_id, child.public_id}
    assert ids(client, reference=late.reference) == {late.public_id}
    assert ids(client, reference=late.reference[:3].lower()) == {
        world.case.public_id,
        child.public_id,
        late.public_id,
    }
    assert ids(national, agency=other_agency.public_id) == {theirs.public_id}
    assert client.get(f"{API}/cases/", {"status": "lost"}).status_code == 400
    late_row = next(r for r in client.get(f"{API}/cases/").json()["results"] if r["id"] == late.public_id)
    assert late_row["overdue"] is True
    assert late_row["decision_deadline"]


def test_identity_is_never_searched_through_the_address(world):
    response = api(world.worker).get(f"{API}/cases/", {"name": "Nino Beridze"})
    assert response.status_code == 400
    assert response.json()["code"] == "identity_in_address"
    assert "/cases/search/" in response.json()["detail"]


def test_the_list_runs_a_fixed_number_of_queries(world):
    client = api(world.worker)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{API}/cases/").status_code == 200
        return len(captured)

    queries()  # the first request of a token also records when it was used
    few = queries()
    for n in range(5):
        refer(
            world.worker,
            world.agency,
            given_name=f"Person{n}",
            exploitation_forms=["forced_labour", "servitude"],
        )
    assert queries() == few


def test_the_detail_runs_a_fixed_number_of_queries(world):
    client = api(world.worker)
    path = f"{API}/cases/{world.case.public_id}/"

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    queries()
    few = queries()
    refused = decided(world.worker, world.maker, world.case, DecisionOutcome.REFUSED)
    services.appeal(actor=world.worker, case=fresh(world.case))
    assert refused.outcome == DecisionOutcome.REFUSED
    assert queries() == few
    assert len(client.get(path).json()["decisions"]) == 2


# --- identity ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_identity_is_read_only_by_who_may_and_each_read_is_audited(role):
    agency = AgencyFactory()
    responder = staff(Role.FIRST_RESPONDER, agency)
    case = refer(responder, agency)
    user = staff(role, agency)
    may = has(role, Perm.CASE_VIEW_IDENTITY)
    reads_before = AuditEntry.objects.filter(action="person.read").count()

    response = api(user).get(f"{API}/cases/{case.public_id}/identity/")

    if not may:
        assert response.status_code == 404
        assert AuditEntry.objects.filter(action="person.read").count() == reads_before
        return
    assert response.status_code == 200
    body = response.json()
    assert body["given_name"] == "Nino"
    assert body["date_of_birth"] == "1990-05-31"
    assert body["documents"] == [{"type": "passport", "number": "13AB45678"}]
    assert body["narrative"].startswith("Recruited")
    entry = AuditEntry.objects.filter(action="person.read", actor=user.public_id).get()
    assert entry.target_id == case.person.public_id
    assert set(entry.fields) == {
        "given_name",
        "family_name",
        "other_names",
        "date_of_birth",
        "documents",
        "contacts",
        "address",
    }
    assert "Nino" not in json.dumps(entry.details)
    assert AuditEntry.objects.filter(
        action="case.read", actor=user.public_id, fields=["narrative", "guardian"]
    ).exists()


def test_the_first_responder_who_filed_reads_the_identity_another_does_not():
    agency = AgencyFactory()
    filer, colleague = staff(Role.FIRST_RESPONDER, agency), staff(Role.FIRST_RESPONDER, agency)
    case = refer(filer, agency)
    assert api(filer).get(f"{API}/cases/{case.public_id}/identity/").status_code == 200
    assert api(colleague).get(f"{API}/cases/{case.public_id}/").status_code == 200  # the agency's referral
    assert api(colleague).get(f"{API}/cases/{case.public_id}/identity/").status_code == 404


def test_only_the_fields_asked_for_are_read_and_audited(world):
    client = api(world.worker)
    response = client.get(
        f"{API}/cases/{world.case.public_id}/identity/", {"fields": "given_name,date_of_birth"}
    )
    assert response.json() == {"given_name": "Nino", "date_of_birth": "1990-05-31"}
    entry = AuditEntry.objects.filter(action="person.read").get()
    assert entry.fields == ["given_name", "date_of_birth"]
    assert not AuditEntry.objects.filter(action="case.read").exists()
    bad = client.get(f"{API}/cases/{world.case.public_id}/identity/", {"fields": "given_name,password"})
    assert bad.status_code == 400
    assert AuditEntry.objects.filter(action="person.read").count() == 1


def test_search_by_identity_finds_only_cases_whose_identity_the_user_may_read(world):
    other = AgencyFactory()
    refer(staff(Role.CASE_WORKER, other), other)  # the same person, known to another agency
    client = api(world.worker)
    found = []
    for query in (
        {"name": "nino  BERIDZE"},
        {"name": "Nino Beridze", "date_of_birth": "1990-05-31"},
        {"document": "13 ab-45678"},
    ):
        response = post(client, f"{API}/cases/search/", query)
        assert response.status_code == 200, response.content
        found.append([row["id"] for row in response.json()["results"]])
    assert found == [[world.case.public_id]] * 3
    assert (
        post(client, f"{API}/cases/search/", {"name": "Nino Beridze", "date_of_birth": "1990-06-01"}).json()[
            "results"
        ]
        == []
    )
    assert post(client, f"{API}/cases/search/", {}).status_code == 400
    entry = AuditEntry.objects.filter(action="case.searched").first()
    assert entry.details == {"criteria": ["name"], "results": 1}
    assert "Beridze" not in json.dumps([e.details for e in AuditEntry.objects.filter(action="case.searched")])


@pytest.mark.parametrize("role", [Role.SERVICE_PROVIDER, Role.COORDINATOR, Role.ANALYST, Role.AUDITOR])
def test_roles_without_identity_cannot_search_by_identity(role, world):
    response = post(api(staff(role, world.agency)), f"{API}/cases/search/", {"name": "Nino Beridze"})
    assert response.status_code == 403
    assert "Nino" not in response.content.decode()


# --- intake and notification ------------------------------------------------------------------------------


def intake(agency: Agency, **overrides: Any) -> dict[str, Any]:
    data = {
        "given_name": "Mariam",
        "family_name": "Kapanadze",
        "date_of_birth": "1995-02-14",
        "sex": "feminine",
        "citizenship": "GE",
        "region": "GE-TB",
        "exploitation_forms": ["sexual_exploitation"],
        "exploitation_country": "TR",
        "owning_agency": agency.public_id,
        "consent_given": True,
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("role", list(Role))
def test_a_referral_is_filed_by_referrers_only(role):
    police, fund = AgencyFactory(name="Patrol Police"), AgencyFactory(name="State Fund")
    client = api(staff(role, police))
    response = post(client, f"{API}/cases/", intake(fund))
    if not has(role, Perm.CASE_REFER):
        assert response.status_code == 403
        assert not Case.objects.exists()
        return
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert response.json()["id"] == case.public_id
    assert (case.referring_agency, case.owning_agency) == (police, fund)
    assert case.person.given_name == "Mariam"
    assert "Mariam" not in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"consent_given": False}, "consent_required"),
        ({"date_of_birth": (dt.date.today() + dt.timedelta(days=1)).isoformat()}, "future_date"),
        ({"region": "GE-XX"}, "unknown_code"),
        ({"citizenship": "XX"}, "unknown_code"),
    ],
)
def test_a_referral_refused_by_a_rule_says_why_and_leaves_nothing(overrides, code):
    police = AgencyFactory()
    response = post(api(staff(Role.FIRST_RESPONDER, police)), f"{API}/cases/", intake(police, **overrides))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert body["detail"]
    if code == "consent_required":
        assert "anonymous notification" in body["detail"]
    assert not Case.objects.exists()
    assert not Person.objects.exists()
    assert not AuditEntry.objects.filter(action="case.referred").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"exploitation_forms": ["slavery"]}, "exploitation_forms"),
        ({"sex": "unknown"}, "sex"),
        ({"owning_agency": MISSING}, "owning_agency"),
        ({"languages": ["xx-yy"]}, "languages"),
        ({"consent_given": None}, "consent_given"),
    ],
)
def test_a_referral_with_bad_input_names_the_field(overrides, field):
    police = AgencyFactory()
    response = post(api(staff(Role.FIRST_RESPONDER, police)), f"{API}/cases/", intake(police, **overrides))
    assert response.status_code == 400
    assert field in response.json()
    assert not Case.objects.exists()


def test_a_child_is_referred_without_consent():
    police = AgencyFactory()
    born = (dt.date.today() - dt.timedelta(days=365 * 15)).isoformat()
    response = post(
        api(staff(Role.FIRST_RESPONDER, police)),
        f"{API}/cases/",
        intake(police, date_of_birth=born, consent_given=False),
    )
    assert response.status_code == 201
    assert response.json()["is_child"] is True


def test_a_referrer_of_two_agencies_names_the_one_that_refers():
    first, second = AgencyFactory(), AgencyFactory()
    user = staff(Role.FIRST_RESPONDER, first)
    member(Role.FIRST_RESPONDER, agency=second, user=user)
    client = api(user)
    assert post(client, f"{API}/cases/", intake(first)).status_code == 400
    foreign = post(client, f"{API}/cases/", intake(first, referring_agency=AgencyFactory().public_id))
    assert foreign.status_code == 400
    assert not Case.objects.exists()
    assert post(client, f"{API}/cases/", intake(first, referring_agency=second.public_id)).status_code == 201
    assert Case.objects.get().referring_agency == second


@pytest.mark.parametrize("role", list(Role))
def test_an_anonymous_notification_is_filed_by_referrers_only(role):
    agency = AgencyFactory()
    data = {
        "first_contact_date": dt.date.today().isoformat(),
        "sex": "masculine",
        "age": 34,
        "exploitation_forms": ["forced_labour"],
        "citizenship": "UZ",
    }
    response = post(api(staff(role, agency)), f"{API}/notifications/", data)
    if not has(role, Perm.CASE_REFER):
        assert response.status_code == 403
        assert not Notification.objects.exists()
        return
    assert response.status_code == 201
    notification = Notification.objects.get()
    assert response.json()["id"] == notification.public_id
    assert (notification.age_group, notification.referring_agency) == ("30-38", agency)


def test_a_child_cannot_be_notified_anonymously():
    agency = AgencyFactory()
    data = {"first_contact_date": dt.date.today().isoformat(), "sex": "feminine", "age": 16}
    response = post(api(staff(Role.FIRST_RESPONDER, agency)), f"{API}/notifications/", data)
    assert response.status_code == 400
    assert response.json()["code"] == "child_needs_referral"
    assert not Notification.objects.exists()


# --- editing with optimistic locking ----------------------------------------------------------------------


def test_a_case_is_changed_with_the_version_read_and_a_stale_version_is_409(world):
    client = api(world.worker)
    path = f"{API}/cases/{world.case.public_id}/"
    changed = patch(
        client,
        path,
        {
            "version": 1,
            "methods_of_control": ["debt_bondage"],
            "exploitation_forms": ["forced_labour", "servitude"],
            "case_worker": world.worker.public_id,
        },
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["version"] == 2
    assert changed.json()["exploitation_forms"] == ["forced_labour", "servitude"]
    assert changed.json()["case_worker"] == {"id": world.worker.public_id, "username": world.worker.username}

    stale = patch(client, path, {"version": 1, "methods_of_control": []})
    assert stale.status_code == 409
    assert stale.json()["code"] == "concurrent_edit"
    assert stale.json()["detail"]
    case = fresh(world.case)
    assert (case.version, case.methods_of_control) == (2, ["debt_bondage"])


def test_a_case_worker_outside_the_owning_agency_cannot_be_assigned(world):
    outsider = staff(Role.CASE_WORKER, AgencyFactory())
    response = patch(
        api(world.worker),
        f"{API}/cases/{world.case.public_id}/",
        {"version": 1, "case_worker": outsider.public_id},
    )
    assert response.status_code == 400
    assert "case_worker" in response.json()
    assert fresh(world.case).case_worker is None


def test_a_closed_case_cannot_be_changed(world):
    services.close_case(actor=world.worker, case=world.case, reason="lost_contact")
    response = patch(
        api(world.worker), f"{API}/cases/{world.case.public_id}/", {"version": 1, "region": "GE-IM"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "closed"
    assert fresh(world.case).region == "GE-TB"


def test_the_identity_is_changed_with_the_version_read(world):
    client = api(world.worker)
    path = f"{API}/cases/{world.case.public_id}/identity/"
    response = patch(
        client,
        path,
        {
            "version": 1,
            "family_name": "Beridze-Kapanadze",
            "documents": [{"type": "national_id", "number": "01001012345"}],
        },
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": world.case.public_id,
        "version": 2,
        "updated": ["documents", "family_name"],
    }
    person = Person.objects.get(pk=world.case.person_id)
    assert person.family_name == "Beridze-Kapanadze"
    found = post(client, f"{API}/cases/search/", {"document": "01001012345"}).json()["results"]
    assert [row["id"] for row in found] == [world.case.public_id]

    stale = patch(client, path, {"version": 1, "given_name": "Other"})
    assert stale.status_code == 409
    future = patch(
        client, path, {"version": 2, "date_of_birth": (dt.date.today() + dt.timedelta(days=2)).isoformat()}
    )
    assert future.status_code == 400
    assert future.json()["code"] == "future_date"
    person.refresh_from_db()
    assert (person.given_name, person.date_of_birth) == ("Nino", dt.date(1990, 5, 31))
    assert fresh(world.case).version == 2


# --- the role matrix of every act on a case ---------------------------------------------------------------


@dataclass(frozen=True)
class Act:
    """One write endpoint: the permission it needs on the case, whether it also needs identity, how to call it on
    a world prepared for it, and what it changes (a value that differs after the act)."""

    perm: Perm
    call: Callable[[Client, World], Any]
    state: Callable[[World], Any]
    prepare: Callable[[World], None] = lambda w: None
    identity: bool = False
    ok: int = 200


def _granted(w: World) -> None:
    decided(w.worker, w.maker, w.case)


def _approved(w: World) -> None:
    _granted(w)
    services.approve_compensation(actor=w.worker, case=fresh(w.case))


def _refused(w: World) -> None:
    decided(w.worker, w.maker, w.case, DecisionOutcome.REFUSED)


def _pending(w: World) -> None:
    services.request_decision(actor=w.worker, case=w.case, route="permanent_group")


def _with_plan_item(w: World) -> None:
    services.add_plan_item(actor=w.worker, case=w.case, type="health", objective="See a doctor")


def _closed(w: World) -> None:
    services.close_case(actor=w.worker, case=w.case, reason="lost_contact")


def _screening(client: Client, w: World) -> Any:
    instrument, found = presumed_found()
    data = {
        "instrument_id": instrument.id,
        "instrument_version": instrument.version,
        "list_id": "adult_labour",
        "found": found,
        "notes": "Seen at the farm.",
    }
    return post(client, f"{API}/cases/{w.case.public_id}/screenings/", data)


def _case_path(w: World, suffix: str) -> str:
    return f"{API}/cases/{w.case.public_id}/{suffix}"


ACTS: dict[str, Act] = {
    "update case": Act(
        Perm.CASE_EDIT,
        lambda c, w: patch(c, _case_path(w, ""), {"version": 1, "region": "GE-IM"}),
        lambda w: fresh(w.case).region,
    ),
    "update identity": Act(
        Perm.CASE_EDIT,
        lambda c, w: patch(c, _case_path(w, "identity/"), {"version": 1, "given_name": "Nina"}),
        lambda w: Person.objects.get(pk=w.case.person_id).given_name,
        identity=True,
    ),
    "record consent": Act(
        Perm.CASE_EDIT,
        lambda c, w: post(c, _case_path(w, "consents/"), {"purpose": "research", "given": True}),
        lambda w: Consent.objects.count(),
        ok=201,
    ),
    "withdraw consent": Act(
        Perm.CASE_EDIT,
        lambda c, w: post(c, f"{API}/consents/{Consent.objects.get(case=w.case).public_id}/withdraw/"),
        lambda w: Consent.objects.get(case=w.case).withdrawn_at,
    ),
    "record screening": Act(Perm.CASE_EDIT, _screening, lambda w: Screening.objects.count(), ok=201),
    "request decision": Act(
        Perm.DECISION_REQUEST,
        lambda c, w: post(c, _case_path(w, "decision-requests/"), {"route": "permanent_group"}),
        lambda w: Decision.objects.count(),
        ok=201,
    ),
    "decide": Act(
        Perm.DECISION_MAKE,
        lambda c, w: post(
            c,
            f"{API}/decisions/{Decision.objects.get().public_id}/decide/",
            {"outcome": "granted", "reasons": "Confirmed.", "members": ["A", "B"]},
        ),
        lambda w: Decision.objects.get().outcome,
        prepare=_pending,
    ),
    "appeal": Act(
        Perm.DECISION_REQUEST,
        lambda c, w: post(c, _case_path(w, "appeal/")),
        lambda w: Decision.objects.count(),
        prepare=_refused,
        ok=201,
    ),
    "add plan item": Act(
        Perm.CASE_EDIT,
        lambda c, w: post(c, _case_path(w, "plan/"), {"type": "legal", "objective": "Claim unpaid wages"}),
        lambda w: SupportPlanItem.objects.count(),
        ok=201,
    ),
    "complete plan item": Act(
        Perm.CASE_EDIT,
        lambda c, w: post(
            c,
            f"{API}/plan/{SupportPlanItem.objects.get().public_id}/complete/",
            {"actual_end": dt.date.today().isoformat()},
        ),
        lambda w: SupportPlanItem.objects.get().actual_end,
        prepare=_with_plan_item,
    ),
    "add note": Act(
        Perm.CASE_EDIT,
        lambda c, w: post(c, _case_path(w, "notes/"), {"body": "Called the embassy."}),
        lambda w: Note.objects.count(),
        identity=True,
        ok=201,
    ),
    "attach file": Act(
        Perm.CASE_EDIT,
        lambda c, w: c.post(_case_path(w, "attachments/"), {"file": pdf()}),
        lambda w: Attachment.objects.count(),
        identity=True,
        ok=201,
    ),
    "approve compensation": Act(
        Perm.COMPENSATION_APPROVE,
        lambda c, w: post(c, _case_path(w, "compensation/")),
        lambda w: Compensation.objects.count(),
        prepare=_granted,
        ok=201,
    ),
    "pay compensation": Act(
        Perm.COMPENSATION_APPROVE,
        lambda c, w: post(
            c,
            f"{API}/compensation/{Compensation.objects.get().public_id}/pay/",
            {"payment_reference": "TRX-0042"},
        ),
        lambda w: Compensation.objects.get().payment_reference,
        prepare=_approved,
    ),
    "close": Act(
        Perm.CASE_EDIT,
        lambda c, w: post(c, _case_path(w, "close/"), {"reason": "assistance_completed"}),
        lambda w: fresh(w.case).status,
    ),
    "reopen": Act(
        Perm.CASE_EDIT,
        lambda c, w: post(c, _case_path(w, "reopen/"), {"reason": "She came back for help."}),
        lambda w: fresh(w.case).status,
        prepare=_closed,
    ),
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("name", list(ACTS))
def test_every_act_is_done_by_the_roles_that_may_and_404_for_the_others(name, role, world, no_files_left):
    act = ACTS[name]
    act.prepare(world)
    user = staff(role, world.agency)
    allowed = has(role, act.perm) and (not act.identity or has(role, Perm.CASE_VIEW_IDENTITY))
    before, events = act.state(world), CaseEvent.objects.count()

    response = act.call(api(user), world)

    if allowed:
        assert response.status_code == act.ok, response.content
        assert act.state(world) != before
        assert CaseEvent.objects.count() > events
    else:
        assert response.status_code == 404, response.content
        assert act.state(world) == before
        assert CaseEvent.objects.count() == events


@pytest.mark.parametrize("name", list(ACTS))
def test_every_act_on_another_agencys_case_is_404(name, world, no_files_left):
    act = ACTS[name]
    act.prepare(world)
    outsider = staff(Role.CASE_WORKER, AgencyFactory())
    outsider_maker = staff(Role.DECISION_MAKER, outsider.memberships.get().agency)
    before = act.state(world)
    for user in (outsider, outsider_maker):
        assert act.call(api(user), world).status_code == 404
    assert act.state(world) == before


# --- rules of the acts ----------------------------------------------------------------------------------------


def test_a_decision_on_a_decided_request_is_refused_and_changes_nothing(world):
    decision = decided(world.worker, world.maker, world.case)
    events = CaseEvent.objects.count()
    response = post(
        api(world.maker),
        f"{API}/decisions/{decision.public_id}/decide/",
        {"outcome": "refused", "reasons": "Changed my mind."},
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "This request was already decided.", "code": "already_decided"}
    decision.refresh_from_db()
    assert decision.outcome == DecisionOutcome.GRANTED
    assert fresh(world.case).status == CaseStatus.IDENTIFIED
    assert CaseEvent.objects.count() == events


def test_compensation_is_approved_once(world):
    client = api(world.worker)
    path = f"{API}/cases/{world.case.public_id}/compensation/"
    early = post(client, path)
    assert early.status_code == 400
    assert early.json()["code"] == "not_identified"
    decided(world.worker, world.maker, world.case)
    first = post(client, path)
    assert first.status_code == 201
    assert (first.json()["amount"], first.json()["currency"]) == ("1000.00", "GEL")
    second = post(client, path)
    assert second.status_code == 400
    assert second.json()["code"] == "already_paid"
    assert "once" in second.json()["detail"]
    assert Compensation.objects.count() == 1
    pay = f"{API}/compensation/{first.json()['id']}/pay/"
    assert post(client, pay, {"payment_reference": "TRX-1"}).status_code == 200
    again = post(client, pay, {"payment_reference": "TRX-2"})
    assert again.status_code == 400
    assert Compensation.objects.get().payment_reference == "TRX-1"


def test_a_consent_is_withdrawn_once(world):
    client = api(world.worker)
    consent = Consent.objects.get(case=world.case)
    path = f"{API}/consents/{consent.public_id}/withdraw/"
    assert post(client, path).status_code == 200
    withdrawn = Consent.objects.get(pk=consent.pk).withdrawn_at
    again = post(client, path)
    assert again.status_code == 400
    assert again.json()["code"] == "already_withdrawn"
    assert Consent.objects.get(pk=consent.pk).withdrawn_at == withdrawn


def test_a_lawful_basis_needs_its_justification(world):
    response = post(
        api(world.worker),
        f"{API}/cases/{world.case.public_id}/consents/",
        {"purpose": "cross_border", "given": True, "basis": "legal_obligation"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "justification_required"
    assert Consent.objects.count() == 1


def test_an_appeal_needs_a_refusal(world):
    response = post(api(world.worker), f"{API}/cases/{world.case.public_id}/appeal/")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_state"
    assert not Decision.objects.exists()


def test_an_unknown_route_or_a_second_request_is_refused(world):
    client = api(world.worker)
    path = f"{API}/cases/{world.case.public_id}/decision-requests/"
    assert post(client, path, {"route": "the_king"}).json()["code"] == "unknown_code"
    assert post(client, path, {"route": "permanent_group"}).status_code == 201
    second = post(client, path, {"route": "permanent_group"})
    assert second.status_code == 400
    assert Decision.objects.count() == 1


def test_a_plan_item_cannot_end_in_the_future(world):
    item = services.add_plan_item(
        actor=world.worker, case=world.case, type="health", objective="See a doctor"
    )
    response = post(
        api(world.worker),
        f"{API}/plan/{item.public_id}/complete/",
        {"actual_end": (dt.date.today() + dt.timedelta(days=3)).isoformat()},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "future_date"
    item.refresh_from_db()
    assert item.actual_end is None


def test_only_an_open_case_is_reopened_and_only_a_closable_one_closed(world):
    client = api(world.worker)
    reopen = post(client, f"{API}/cases/{world.case.public_id}/reopen/", {"reason": "Why not"})
    assert reopen.status_code == 400
    _pending(world)
    close = post(client, f"{API}/cases/{world.case.public_id}/close/", {"reason": "lost_contact"})
    assert close.status_code == 400
    assert close.json()["code"] == "invalid_transition"
    assert fresh(world.case).status == CaseStatus.DECISION_PENDING


# --- reads of a case's parts --------------------------------------------------------------------------------


def test_identifying_text_of_the_parts_is_shown_only_with_identity_and_audited(world):
    services.record_consent(
        actor=world.worker,
        case=world.case,
        purpose="cross_border",
        given=True,
        basis="legal_obligation",
        justification="Art. 12 of the Law",
        country="UA",
    )
    instrument, found = presumed_found()
    services.record_screening(
        actor=world.worker,
        case=world.case,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        list_id="adult_labour",
        found=found,
        notes="Seen at the farm.",
    )
    services.add_plan_item(actor=world.worker, case=world.case, type="health", objective="See a doctor")
    coordinator = staff(Role.COORDINATOR, world.agency)
    overseer = api(coordinator)
    worker = api(world.worker)

    for suffix, secret, field in (
        ("consents/", "Art. 12", "justification"),
        ("screenings/", "farm", "notes"),
        ("plan/", "doctor", "objective"),
    ):
        hidden = overseer.get(f"{API}/cases/{world.case.public_id}/{suffix}")
        assert hidden.status_code == 200
        assert secret not in hidden.content.decode()
        assert all(field not in row for row in hidden.json()["results"])
        shown = worker.get(f"{API}/cases/{world.case.public_id}/{suffix}")
        assert secret in shown.content.decode()
    assert AuditEntry.objects.filter(actor=world.worker.public_id, action="consent.read").exists()
    assert AuditEntry.objects.filter(actor=world.worker.public_id, action="screening.read").exists()
    assert AuditEntry.objects.filter(actor=world.worker.public_id, action="plan.read").exists()
    assert not AuditEntry.objects.filter(actor=coordinator.public_id, action__endswith=".read").exists()


def test_a_service_provider_of_the_agency_sees_the_case_but_not_its_file(world):
    provider = api(staff(Role.SERVICE_PROVIDER, world.agency))
    assert provider.get(f"{API}/cases/{world.case.public_id}/").status_code == 200
    for suffix in ("identity/", "notes/", "attachments/"):
        assert provider.get(f"{API}/cases/{world.case.public_id}/{suffix}").status_code == 404


def test_a_provider_the_case_was_referred_to_does_not_see_the_case(world):
    """Access through a service referral is for the service: the referrals API serves what the service needs;
    the case itself, its list entry and its file stay out of reach (404, like a case that does not exist)."""
    from django.apps import apps

    shelter = AgencyFactory(name="Batumi Shelter")
    service = apps.get_model("referrals", "ServiceType").objects.filter(country="GE").first()
    apps.get_model("referrals", "Referral").objects.create(
        case=world.case,
        service=service,
        from_agency=world.agency,
        to_agency=shelter,
        consent=Consent.objects.get(case=world.case),
        created_by=world.worker,
    )
    provider = api(staff(Role.SERVICE_PROVIDER, shelter))
    assert provider.get(f"{API}/cases/").json()["results"] == []
    for suffix in (
        "",
        "identity/",
        "consents/",
        "screenings/",
        "plan/",
        "notes/",
        "attachments/",
        "timeline/",
    ):
        assert provider.get(f"{API}/cases/{world.case.public_id}/{suffix}").status_code == 404, suffix


def test_notes_are_read_with_identity_and_audited(world):
    services.add_note(actor=world.worker, case=world.case, body="Her brother called.")
    for user in (world.worker, world.maker):
        response = api(user).get(f"{API}/cases/{world.case.public_id}/notes/")
        assert response.status_code == 200
        assert response.json()["results"][0]["body"] == "Her brother called."
        entry = AuditEntry.objects.filter(action="note.read", actor=user.public_id).get()
        assert entry.fields == ["notes.body"]
        assert "brother" not in json.dumps(entry.details)
    assert (
        api(staff(Role.COORDINATOR, world.agency))
        .get(f"{API}/cases/{world.case.public_id}/notes/")
        .status_code
        == 404
    )


def test_an_attachment_is_uploaded_encrypted_and_downloaded_with_an_audited_read(world, no_files_left):
    client = api(world.worker)
    uploaded = client.post(f"{API}/cases/{world.case.public_id}/attachments/", {"file": pdf()})
    assert uploaded.status_code == 201, uploaded.content
    attachment = Attachment.objects.get()
    assert uploaded.json()["id"] == attachment.public_id
    with open(attachment.file.path, "rb") as stored:
        assert b"passport scan" not in stored.read()

    listing = client.get(f"{API}/cases/{world.case.public_id}/attachments/")
    assert listing.json()["results"][0]["name"] == "Nino Beridze passport.pdf"
    download = client.get(f"{API}/attachments/{attachment.public_id}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4\n% a passport scan\n"
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    entry = AuditEntry.objects.filter(target_id=attachment.public_id, actor=world.worker.public_id).get()
    assert entry.fields == ["file", "original_name"]

    for outsider in (staff(Role.COORDINATOR, world.agency), staff(Role.CASE_WORKER, AgencyFactory())):
        assert api(outsider).get(f"{API}/attachments/{attachment.public_id}/").status_code == 404


def test_a_file_of_a_type_not_allowed_is_refused(world, no_files_left):
    script = SimpleUploadedFile("run.exe", b"MZ\x90\x00", content_type="application/octet-stream")
    response = api(world.worker).post(f"{API}/cases/{world.case.public_id}/attachments/", {"file": script})
    assert response.status_code == 400
    assert response.json()["code"] == "bad_type"
    assert not Attachment.objects.exists()


def test_the_timeline_lists_every_act(world):
    services.add_plan_item(actor=world.worker, case=world.case, type="health", objective="See a doctor")
    response = api(world.worker).get(f"{API}/cases/{world.case.public_id}/timeline/")
    assert [e["kind"] for e in response.json()["results"]] == ["referred", "consent", "plan_item_added"]
    assert response.json()["results"][0]["actor"] == world.worker.username
    assert "doctor" not in response.content.decode()


# --- screening ------------------------------------------------------------------------------------------------


def test_the_instruments_are_listed_with_their_verification_and_indicators(world):
    response = api(world.worker).get(f"{API}/screening/instruments/")
    assert response.status_code == 200
    delphi = next(i for i in response.json() if i["id"] == DELPHI)
    assert delphi["verification"]["status"] in {"verified", "unverified", "partial"}
    adult_labour = next(item for item in delphi["lists"] if item["id"] == "adult_labour")
    assert len(adult_labour["dimensions"]) == 6
    assert all(
        ind["strength"] in {"strong", "medium", "weak"}
        for d in adult_labour["dimensions"]
        for ind in d["indicators"]
    )


def test_a_screening_preview_evaluates_without_saving(world):
    instrument, found = presumed_found()
    client = api(world.worker)
    data = {
        "instrument_id": instrument.id,
        "instrument_version": instrument.version,
        "list_id": "adult_labour",
        "found": found,
    }
    response = post(client, f"{API}/screening/evaluate/", data)
    assert response.status_code == 200, response.content
    assert response.json()["conclusion"] == "presumed_victim"
    assert response.json()["note"]
    assert not Screening.objects.exists()
    unknown = post(client, f"{API}/screening/evaluate/", {**data, "found": ["no_such_indicator"]})
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "invalid"
    assert post(client, f"{API}/screening/evaluate/", {**data, "instrument_version": "99"}).status_code == 400


# --- decision queue -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_the_decision_queue_is_for_decision_makers(role, world):
    _pending(world)
    response = api(staff(role, world.agency)).get(f"{API}/decisions/queue/")
    if not has(role, Perm.DECISION_MAKE):
        assert response.status_code == 403
        return
    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["case"]["reference"] == world.case.reference
    assert item["decision"]["id"] == Decision.objects.get().public_id
    assert item["overdue"] is False


# --- documentation --------------------------------------------------------------------------------------------


def test_the_schema_documents_every_cases_endpoint(world):
    response = api(world.worker).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    paths = {
        "/api/v1/cases/": {"get", "post"},
        "/api/v1/cases/search/": {"post"},
        "/api/v1/cases/{public_id}/": {"get", "patch"},
        "/api/v1/cases/{public_id}/identity/": {"get", "patch"},
        "/api/v1/cases/{public_id}/consents/": {"get", "post"},
        "/api/v1/consents/{public_id}/withdraw/": {"post"},
        "/api/v1/screening/instruments/": {"get"},
        "/api/v1/screening/evaluate/": {"post"},
        "/api/v1/cases/{public_id}/screenings/": {"get", "post"},
        "/api/v1/cases/{public_id}/decision-requests/": {"post"},
        "/api/v1/decisions/queue/": {"get"},
        "/api/v1/decisions/{public_id}/decide/": {"post"},
        "/api/v1/cases/{public_id}/appeal/": {"post"},
        "/api/v1/cases/{public_id}/plan/": {"get", "post"},
        "/api/v1/plan/{public_id}/complete/": {"post"},
        "/api/v1/cases/{public_id}/notes/": {"get", "post"},
        "/api/v1/cases/{public_id}/attachments/": {"get", "post"},
        "/api/v1/attachments/{public_id}/": {"get"},
        "/api/v1/cases/{public_id}/compensation/": {"post"},
        "/api/v1/compensation/{public_id}/pay/": {"post"},
        "/api/v1/cases/{public_id}/close/": {"post"},
        "/api/v1/cases/{public_id}/reopen/": {"post"},
        "/api/v1/cases/{public_id}/timeline/": {"get"},
        "/api/v1/notifications/": {"post"},
    }
    for path, methods in paths.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path
    components = schema["components"]["schemas"]
    assert {"given_name", "consent_given", "owning_agency"} <= set(components["IntakeRequest"]["properties"])
    assert "version" in components["CaseUpdateRequest"]["required"]
    assert "version" in components["IdentityUpdateRequest"]["required"]
    assert "given_name" not in components["CaseDetail"]["properties"]
    assert "409" in schema["paths"]["/api/v1/cases/{public_id}/"]["patch"]["responses"]
