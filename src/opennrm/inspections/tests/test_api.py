"""The inspections API: the role matrix of every endpoint, another agency's inspection answering 404 like a
missing one, the employer for inspectors only (audited), every act through its service with its rule's message
(400) and its optimistic lock (409), and the schema documenting every endpoint."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.services import create_api_token
from opennrm.cases import screening as instruments
from opennrm.cases.models import Case, Notification, Person
from opennrm.core.models import AuditEntry
from opennrm.inspections.models import Inspection, ScreeningStatus, WorkerScreening
from opennrm.inspections.tests.factories import (
    DELPHI,
    EMPLOYER,
    FINDINGS,
    TAX_ID,
    negative_found,
    presumed_found,
    staff,
    world,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
MISSING = "a" * 24
SCOPE = {
    Role.COORDINATOR: Scope.NATIONAL,
    Role.ANALYST: Scope.NATIONAL,
    Role.DECISION_MAKER: Scope.NATIONAL,
    Role.ADMINISTRATOR: Scope.NATIONAL,
    Role.AUDITOR: Scope.NATIONAL,
}


def api(user) -> Client:
    _token, raw = create_api_token(actor=user, name="t")
    return Client(HTTP_AUTHORIZATION=f"Token {raw}")


def client_for(role: Role, agency) -> Client:
    return api(staff(role, agency, SCOPE.get(role, Scope.AGENCY)))


def records(role: Role) -> bool:
    return Perm.INSPECTION_RECORD in ROLE_PERMISSIONS[role]


def oversees(role: Role) -> bool:
    return {Perm.STATS_VIEW, Perm.CASE_VIEW} <= ROLE_PERMISSIONS[role] and SCOPE.get(role) == Scope.NATIONAL


def body(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "employer_name": EMPLOYER,
        "employer_identifiers": [{"type": "tax_id", "value": TAX_ID}],
        "sector": "c_manufacturing",
        "region": "GE-IM",
        "date": timezone.localdate().isoformat(),
        "joint_with_police": True,
        "workers_present": 40,
        "workers_interviewed": 8,
        "findings": FINDINGS,
    }
    data.update(changes)
    return data


def start_body() -> dict[str, object]:
    delphi = instruments.latest(DELPHI)
    return {
        "instrument": delphi.id,
        "version": delphi.version,
        "list": "adult_labour",
        "age": 28,
        "sex": "feminine",
        "citizenship": "GE",
    }


def json_post(client: Client, path: str, data: dict, method: str = "post"):
    return getattr(client, method)(path, data, content_type="application/json")


def endpoints(inspection: Inspection, screening: WorkerScreening) -> list[tuple[str, str, dict | None, bool]]:
    """(method, path, body, is an act): every object endpoint of the app."""
    i, s = inspection.public_id, screening.public_id
    return [
        ("get", f"{API}/inspections/{i}/", None, False),
        ("patch", f"{API}/inspections/{i}/", {"version": 1, "workers_interviewed": 9}, True),
        ("get", f"{API}/inspections/{i}/screenings/", None, False),
        ("post", f"{API}/inspections/{i}/screenings/", start_body(), True),
        ("get", f"{API}/worker-screenings/{s}/", None, False),
        ("patch", f"{API}/worker-screenings/{s}/", {"version": 2, "found": sorted(negative_found())}, True),
        ("post", f"{API}/worker-screenings/{s}/complete/", {"version": 3}, True),
        (
            "post",
            f"{API}/worker-screenings/{s}/refer/",
            {"version": 4, "consent_given": False, "identity": None},
            True,
        ),
    ]


def call(client: Client, method: str, path: str, data: dict | None):
    if method == "get":
        return client.get(path)
    return json_post(client, path, data or {}, method)


# --- role matrix ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_the_collection_endpoints_for_each_role(role):
    w = world()
    w.inspect()
    client = client_for(role, w.labour)
    listed = client.get(f"{API}/inspections/")
    assert listed.status_code == (200 if records(role) or oversees(role) else 403)
    created = json_post(client, f"{API}/inspections/", body())
    assert created.status_code == (201 if records(role) else 403)
    stats = client.get(f"{API}/inspections/stats/")
    assert stats.status_code == (200 if Perm.STATS_VIEW in ROLE_PERMISSIONS[role] else 403)
    assert Inspection.objects.count() == (2 if records(role) else 1)


@pytest.mark.parametrize("role", list(Role))
def test_every_object_endpoint_for_each_role(role):
    w = world(inspector_scope=Scope.AGENCY)
    inspection = w.inspect()
    screening = w.screen(inspection, found=presumed_found())
    client = client_for(role, w.labour)
    for method, path, data, act in endpoints(inspection, screening):
        response = call(client, method, path, data)
        allowed = records(role) or (oversees(role) and not act)
        if allowed:
            assert response.status_code in (200, 201), (path, method, response.content)
        else:
            assert response.status_code == 404, (path, method)
            assert (
                call(
                    client,
                    method,
                    path.replace(inspection.public_id, MISSING).replace(screening.public_id, MISSING),
                    data,
                ).status_code
                == 404
            )
    if not records(role):
        assert WorkerScreening.objects.get().status == ScreeningStatus.DRAFT
        assert Inspection.objects.get().workers_interviewed == 6


def test_an_inspector_of_another_agency_gets_404_on_every_object_endpoint():
    w = world()
    inspection = w.inspect()
    screening = w.screen(inspection, found=presumed_found())
    stranger = api(w.other_inspector)
    for method, path, data, _act in endpoints(inspection, screening):
        assert call(stranger, method, path, data).status_code == 404, (method, path)
    assert stranger.get(f"{API}/inspections/").json()["results"] == []
    assert WorkerScreening.objects.get().version == 2 and Notification.objects.count() == 0


def test_the_employer_goes_only_to_the_inspectors_and_the_read_is_audited():
    w = world()
    inspection = w.inspect()
    mine = api(w.inspector).get(f"{API}/inspections/{inspection.public_id}/").json()
    assert mine["employer_name"] == EMPLOYER and mine["findings"] == FINDINGS
    assert mine["employer_identifiers"] == [{"type": "tax_id", "value": TAX_ID}]
    assert (
        AuditEntry.objects.filter(action="inspection.employer.read", target_id=inspection.public_id).count()
        == 1
    )
    coordinator = api(staff(Role.COORDINATOR, w.fund, Scope.NATIONAL))
    theirs = coordinator.get(f"{API}/inspections/{inspection.public_id}/").json()
    assert theirs["sector"] == "a_agriculture_forestry_and_fishing"
    assert not {"employer_name", "employer_identifiers", "findings"} & set(theirs)
    listed = api(w.inspector).get(f"{API}/inspections/").json()["results"]
    assert "employer_name" not in listed[0]


# --- acts ----------------------------------------------------------------------------------------------------


def test_an_inspection_recorded_screened_and_referred_through_the_api():
    w = world()
    client = api(w.inspector)
    created = json_post(client, f"{API}/inspections/", body())
    assert created.status_code == 201
    inspection_id = created.json()["id"]
    started = json_post(client, f"{API}/inspections/{inspection_id}/screenings/", start_body())
    assert started.status_code == 201 and started.json()["pseudonym"].startswith("W-")
    screening_id = started.json()["id"]
    saved = json_post(
        client,
        f"{API}/worker-screenings/{screening_id}/",
        {"version": 1, "found": sorted(presumed_found())},
        "patch",
    )
    assert saved.status_code == 200, saved.content
    assert saved.json()["conclusion"] == "presumed_victim" and saved.json()["version"] == 2
    referred = json_post(
        client,
        f"{API}/worker-screenings/{screening_id}/refer/",
        {
            "version": 2,
            "consent_given": True,
            "owning_agency": w.fund.public_id,
            "identity": {"given_name": "Nodira", "family_name": "Demo", "age_estimate": 28},
        },
    )
    assert referred.status_code == 200, referred.content
    case = Case.objects.get()
    assert referred.json()["case"] == case.reference and referred.json()["status"] == "referred"
    assert case.screenings.get().list_id == "adult_labour"


def test_an_adult_without_consent_through_the_api_leaves_no_person():
    w = world()
    screening = w.screen(found=presumed_found())
    response = json_post(
        api(w.inspector),
        f"{API}/worker-screenings/{screening.public_id}/refer/",
        {
            "version": 2,
            "consent_given": False,
            "identity": {"given_name": "Nodira"},
        },
    )
    assert response.status_code == 200 and response.json()["notification"]
    assert Person.objects.count() == 0 and Notification.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"sector": "z_smuggling"}, "unknown_code"),
        ({"region": "XX-1"}, "unknown_code"),
        ({"workers_present": 3, "workers_interviewed": 4}, "interviewed_above_present"),
        ({"date": (timezone.localdate() + dt.timedelta(days=3)).isoformat()}, "future_date"),
    ],
)
def test_a_bad_inspection_answers_400_with_the_rule_and_saves_nothing(changes, code):
    w = world()
    response = json_post(api(w.inspector), f"{API}/inspections/", body(**changes))
    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["detail"]
    assert Inspection.objects.count() == 0


def test_input_of_the_wrong_shape_answers_400_with_field_errors():
    w = world()
    response = json_post(
        api(w.inspector), f"{API}/inspections/", body(workers_present="many", date="yesterday")
    )
    assert response.status_code == 400 and {"workers_present", "date"} <= set(response.json())
    assert Inspection.objects.count() == 0


def test_an_unknown_indicator_and_a_stale_version_are_refused():
    w = world()
    screening = w.screen(found=negative_found())
    client = api(w.inspector)
    path = f"{API}/worker-screenings/{screening.public_id}/"
    unknown = json_post(client, path, {"version": 2, "found": ["ex_made_up"]}, "patch")
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_code"
    assert "ex_made_up" in unknown.json()["detail"]
    stale = json_post(client, path, {"version": 1, "found": []}, "patch")
    assert stale.status_code == 409 and stale.json()["code"] == "concurrent_edit"
    assert set(WorkerScreening.objects.get().found) == negative_found()


def test_statistics_through_the_api():
    w = world()
    inspection = w.inspect()
    screening = w.screen(inspection, found=presumed_found())
    json_post(
        api(w.inspector),
        f"{API}/worker-screenings/{screening.public_id}/refer/",
        {"version": 2, "consent_given": False},
    )
    analyst = api(staff(Role.ANALYST, w.fund, Scope.NATIONAL))
    data = analyst.get(f"{API}/inspections/stats/", {"year": inspection.date.year}).json()
    assert (data["inspections"], data["workers_screened"], data["presumed_victims"], data["notified"]) == (
        1,
        1,
        1,
        1,
    )
    assert data["by_sector"]["rows"][0]["key"] == "a_agriculture_forestry_and_fishing"
    assert analyst.get(f"{API}/inspections/stats/", {"year": "soon"}).status_code == 400


def test_the_schema_documents_the_inspection_endpoints():
    w = world()
    schema = api(w.inspector).get("/api/schema/", {"format": "json"}).json()
    expected = {
        "/api/v1/inspections/": {"get", "post"},
        "/api/v1/inspections/stats/": {"get"},
        "/api/v1/inspections/{public_id}/": {"get", "patch"},
        "/api/v1/inspections/{public_id}/screenings/": {"get", "post"},
        "/api/v1/worker-screenings/{public_id}/": {"get", "patch"},
        "/api/v1/worker-screenings/{public_id}/complete/": {"post"},
        "/api/v1/worker-screenings/{public_id}/refer/": {"post"},
    }
    for path, methods in expected.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path
    assert "409" in schema["paths"]["/api/v1/worker-screenings/{public_id}/"]["patch"]["responses"]
