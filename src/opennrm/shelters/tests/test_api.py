"""The shelters API for every role, in the shelter's agency and in another one (404 on objects, 403 on whole
endpoints), bad input, and the acts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role
from opennrm.accounts.tests.factories import logged_in_client, member
from opennrm.core.models import AuditEntry
from opennrm.shelters.models import Placement
from opennrm.shelters.tests.factories import ADDRESS, world

pytestmark = pytest.mark.django_db

API = "/api/v1"


def has(role: Role, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS[role]


def post(client, path, data=None):
    return client.post(path, data or {}, content_type="application/json")


def expected(role: Role, own: bool) -> dict[str, int]:
    """Status per endpoint for a member of `role` (agency scope) of the shelter's agency (own) or another."""
    operate = own and has(role, Perm.SHELTER_OPERATE)
    oversee = own and has(role, Perm.SHELTER_OVERSEE)
    stats = has(role, Perm.STATS_VIEW)
    any_shelter = has(role, Perm.SHELTER_OPERATE) or has(role, Perm.SHELTER_OVERSEE) or stats

    def code(allowed: bool, ok: int = 200, refused: int = 404) -> int:
        return ok if allowed else refused

    return {
        "list": code(any_shelter, refused=403),
        "national": code(stats, refused=403),
        "detail": code(operate or oversee or stats),
        "occupancy": code(operate or oversee or stats),
        "address": code(operate or oversee),
        "residents": code(operate or oversee),
        "placement": code(operate or oversee),
        "admit": code(operate or oversee, ok=201),
        "extension": code(oversee, ok=400),  # Georgia: nothing beyond the maximum (a refused act)
        "transfer": code(operate or oversee, ok=400),  # no other shelter of the agency
        "discharge": code(operate),
    }


@pytest.mark.parametrize("own", [True, False], ids=["own_agency", "other_agency"])
@pytest.mark.parametrize("role", list(Role))
def test_every_endpoint_for_every_role_of_this_and_another_agency(role, own):
    w = world()
    placement = w.admit()
    waiting = w.referral()
    user = member(role, agency=w.agency if own else w.other_agency)
    client = logged_in_client(user)
    s, p = w.shelter.public_id, placement.public_id
    until = (placement.stay_maximum + dt.timedelta(days=5)).isoformat()
    calls = {
        "list": lambda: client.get(f"{API}/shelters/"),
        "national": lambda: client.get(f"{API}/shelters/occupancy/"),
        "detail": lambda: client.get(f"{API}/shelters/{s}/"),
        "occupancy": lambda: client.get(f"{API}/shelters/{s}/occupancy/?period=weeks"),
        "address": lambda: client.get(f"{API}/shelters/{s}/address/"),
        "residents": lambda: client.get(f"{API}/shelters/{s}/residents/"),
        "placement": lambda: client.get(f"{API}/placements/{p}/"),
        "admit": lambda: post(
            client, f"{API}/shelters/{s}/placements/", {"referral": waiting.public_id, "category": "women"}
        ),
        "extension": lambda: post(
            client, f"{API}/placements/{p}/extension/", {"decision": "extend", "until": until, "reason": "x"}
        ),
        "transfer": lambda: post(
            client, f"{API}/placements/{p}/transfer/", {"shelter": w.other_shelter.public_id}
        ),
        "discharge": lambda: post(client, f"{API}/placements/{p}/discharge/", {"reason": "completed"}),
    }
    wanted = expected(role, own)
    for name, call in calls.items():
        response = call()
        assert response.status_code == wanted[name], (name, response.status_code, response.content[:200])
        if response.status_code == 200:
            assert ADDRESS not in response.content.decode() or name == "address"


def test_the_api_needs_credentials():
    w = world()
    assert Client().get(f"{API}/shelters/").status_code == 401
    assert Client().get(f"{API}/shelters/{w.shelter.public_id}/address/").status_code == 401


def test_the_shelter_list_has_places_and_occupancy_but_no_address():
    w = world()
    w.admit(category="men")
    body = logged_in_client(w.staff).get(f"{API}/shelters/").json()
    assert [s["id"] for s in body] == [w.shelter.public_id]
    shelter = body[0]
    assert shelter["places"] == {"women": 2, "men": 1, "children": 1, "families": 0}
    assert shelter["occupied"] == {"women": 0, "men": 1, "children": 0, "families": 0}
    assert "address" not in shelter


def test_the_address_endpoint_audits_the_read():
    w = world()
    body = logged_in_client(w.coordinator).get(f"{API}/shelters/{w.shelter.public_id}/address/").json()
    assert body == {"shelter": w.shelter.public_id, "address": ADDRESS}
    entry = AuditEntry.objects.get(action="shelter.address_read")
    assert entry.actor == w.coordinator.public_id and entry.details == {"via": "api"}


def test_residents_for_staff_carry_the_minimum_and_for_coordinators_nothing_of_the_person():
    w = world()
    placement = w.admit()
    staff = logged_in_client(w.staff).get(f"{API}/shelters/{w.shelter.public_id}/residents/").json()
    assert staff[0]["person"] == {"given_name": "Nino", "sex": "feminine", "languages": ["ka", "ru"]}
    assert staff[0]["placement"]["id"] == placement.public_id and staff[0]["is_child"] is False
    assert "Beridzeshvili" not in str(staff)
    coordinator = (
        logged_in_client(w.coordinator).get(f"{API}/shelters/{w.shelter.public_id}/residents/").json()
    )
    assert coordinator[0]["person"] is None


def test_national_occupancy_over_time():
    w = world()
    w.admit()
    body = logged_in_client(w.analyst).get(f"{API}/shelters/occupancy/?period=months").json()
    assert body["period"] == "months" and len(body["buckets"]) == 12
    assert body["occupied"]["women"] == 1 and body["places"]["women"] == 4
    assert body["buckets"][-1]["peak_total"] == 1
    bad = logged_in_client(w.analyst).get(f"{API}/shelters/occupancy/?period=years")
    assert bad.status_code == 400 and "period" in bad.json()


def test_a_full_category_is_refused_with_its_code_and_a_coordinator_accepts_over_capacity():
    w = world(capacity_children=0)
    referral = w.referral()
    url = f"{API}/shelters/{w.shelter.public_id}/placements/"
    refused = post(logged_in_client(w.staff), url, {"referral": referral.public_id, "category": "children"})
    assert refused.status_code == 400 and refused.json()["code"] == "over_capacity"
    staff_try = post(
        logged_in_client(w.staff),
        url,
        {
            "referral": referral.public_id,
            "category": "children",
            "accept_over_capacity": True,
            "over_capacity_reason": "x",
        },
    )
    assert staff_try.status_code == 400 and staff_try.json()["code"] == "over_capacity_not_allowed"
    done = post(
        logged_in_client(w.coordinator),
        url,
        {
            "referral": referral.public_id,
            "category": "children",
            "accept_over_capacity": True,
            "over_capacity_reason": "Nowhere else tonight.",
        },
    )
    assert done.status_code == 201 and done.json()["over_capacity"] is True


@pytest.mark.parametrize(
    ("data", "status", "field"),
    [
        ({"category": "elderly"}, 400, "category"),
        ({"referral": "aaaaaaaaaaaaaaaaaaaaaaaa"}, 400, "referral"),
        ({"admitted_at": "yesterday"}, 400, "admitted_at"),
    ],
)
def test_bad_admission_input(data, status, field):
    w = world()
    referral = w.referral()
    response = post(
        logged_in_client(w.staff),
        f"{API}/shelters/{w.shelter.public_id}/placements/",
        {"referral": referral.public_id, "category": "women", **data},
    )
    assert response.status_code == status and field in response.json()
    assert not Placement.objects.exists()


def test_discharge_before_admission_and_unknown_reasons_are_refused():
    w = world()
    placement = w.admit()
    client = logged_in_client(w.staff)
    url = f"{API}/placements/{placement.public_id}/discharge/"
    early = (placement.admitted_at - dt.timedelta(hours=2)).isoformat()
    response = post(client, url, {"reason": "completed", "discharged_at": early})
    assert response.status_code == 400 and response.json()["code"] == "before_admission"
    for reason in ("transferred", "evicted"):
        response = post(client, url, {"reason": reason})
        assert response.status_code == 400 and "reason" in response.json()
    stale = post(client, url, {"reason": "completed", "version": 9})
    assert stale.status_code == 409 and stale.json()["code"] == "concurrent_edit"
    done = post(client, url, {"reason": "returned_home", "version": 1})
    assert done.status_code == 200 and done.json()["discharge_reason"] == "returned_home"


@override_settings(OPENNRM_COUNTRY="MD")
def test_the_coordinator_extends_through_the_api():
    w = world()
    placement = w.admit()
    client = logged_in_client(w.coordinator)
    url = f"{API}/placements/{placement.public_id}/extension/"
    until = placement.stay_limit + dt.timedelta(days=30)
    response = post(client, url, {"decision": "extend", "until": until.isoformat(), "reason": "Trial."})
    assert response.status_code == 201
    assert (
        response.json()["granted"] is True
        and response.json()["placement"]["current_limit"] == until.isoformat()
    )
    beyond = post(
        client,
        url,
        {
            "decision": "extend",
            "until": (placement.stay_maximum + dt.timedelta(days=1)).isoformat(),
            "reason": "x",
        },
    )
    assert beyond.status_code == 400 and beyond.json()["code"] == "beyond_maximum"


def test_a_coordinator_transfers_through_the_api_on_an_accepted_referral():
    w = world()
    placement = w.admit()
    client = logged_in_client(w.coordinator)
    url = f"{API}/placements/{placement.public_id}/transfer/"
    refused = post(client, url, {"shelter": w.other_shelter.public_id})
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_referral"
    w.referral(placement.case, agency=w.other_agency)
    done = post(
        client, url, {"shelter": w.other_shelter.public_id, "transferred_at": timezone.now().isoformat()}
    )
    assert done.status_code == 201 and done.json()["shelter"] == w.other_shelter.public_id
    unknown = post(client, f"{API}/placements/{done.json()['id']}/transfer/", {"shelter": "nope"})
    assert unknown.status_code == 400 and "shelter" in unknown.json()


def test_the_schema_documents_every_shelters_endpoint():
    w = world()
    paths = set(logged_in_client(w.staff).get("/api/schema/", {"format": "json"}).json()["paths"])
    assert {
        f"{API}/shelters/",
        f"{API}/shelters/occupancy/",
        f"{API}/shelters/{{public_id}}/",
        f"{API}/shelters/{{public_id}}/address/",
        f"{API}/shelters/{{public_id}}/occupancy/",
        f"{API}/shelters/{{public_id}}/residents/",
        f"{API}/shelters/{{public_id}}/placements/",
        f"{API}/placements/{{public_id}}/",
        f"{API}/placements/{{public_id}}/discharge/",
        f"{API}/placements/{{public_id}}/transfer/",
        f"{API}/placements/{{public_id}}/extension/",
    } <= paths
