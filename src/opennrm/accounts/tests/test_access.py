"""Need to know: what each membership grants, in the pages and the API. Out of scope looks like missing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from opennrm.accounts import services
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, MembershipFactory, logged_in_client, member

pytestmark = pytest.mark.django_db

NO_ROLE_NOTICE = "You have no active role in any agency"
MISSING_ID = "aaaaaaaaaaaaaaaaaaaaaaaa"
ROLES = list(Role)


def without_tokens(html: str) -> str:
    """A page with its per-response CSRF tokens and CSP nonces removed, to compare two answers."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)
    html = re.sub(r'"X-CSRFToken": "[^"]*"', "", html)
    return re.sub(r'nonce="[^"]*"', "", html)


def assert_looks_missing(client, path: str) -> None:
    """`path` answers exactly like a path naming an id that does not exist."""
    hidden_id = re.search(r"/agencies/([^/]+)/", path).group(1)
    response, missing = client.get(path), client.get(path.replace(hidden_id, MISSING_ID))
    assert response.status_code == 404
    assert missing.status_code == 404
    # The page repeats its own address (the language switcher returns to it): that is the only difference.
    shown = without_tokens(response.content.decode()).replace(hidden_id, MISSING_ID)
    assert shown == without_tokens(missing.content.decode())


def expired_member(role: Role, agency):
    now = timezone.now()
    return member(
        role, agency=agency, valid_from=now - timedelta(days=30), expires_at=now - timedelta(minutes=1)
    )


# --- Memberships that grant nothing ---------------------------------------------------------------------


def _assert_grants_nothing(user, agency) -> None:
    client = logged_in_client(user)
    home = client.get("/").content.decode()
    assert NO_ROLE_NOTICE in home
    assert agency.name not in home
    assert agency.name not in client.get("/accounts/agencies/").content.decode()
    assert client.get(f"/accounts/agencies/{agency.public_id}/").status_code == 404
    assert client.get(f"/api/v1/agencies/{agency.public_id}/").status_code == 404
    assert client.get(f"/api/v1/agencies/{agency.public_id}/staff/").status_code == 404
    assert client.get("/api/v1/agencies/").json()["results"] == []
    assert client.get("/api/v1/me/").json()["memberships"] == []


@pytest.mark.parametrize("role", [Role.CASE_WORKER, Role.COORDINATOR, Role.AUDITOR])
def test_an_expired_membership_grants_nothing(role):
    agency = AgencyFactory(name="Tbilisi Crisis Centre")
    user = expired_member(role, agency)
    _assert_grants_nothing(user, agency)


@pytest.mark.parametrize("role", [Role.CASE_WORKER, Role.COORDINATOR, Role.AUDITOR])
def test_a_revoked_membership_grants_nothing(role):
    agency = AgencyFactory(name="Tbilisi Crisis Centre")
    user = member(role, agency=agency)
    client = logged_in_client(user)
    assert client.get(f"/accounts/agencies/{agency.public_id}/").status_code == 200
    services.revoke_membership(actor=user, membership=user.memberships.get())
    _assert_grants_nothing(user, agency)


def test_a_membership_not_yet_valid_grants_nothing():
    agency = AgencyFactory(name="Tbilisi Crisis Centre")
    user = member(Role.CASE_WORKER, agency=agency, valid_from=timezone.now() + timedelta(days=1))
    _assert_grants_nothing(user, agency)


def test_a_membership_in_a_deactivated_agency_grants_nothing():
    agency = AgencyFactory(name="Tbilisi Crisis Centre")
    user = member(Role.CASE_WORKER, agency=agency)
    agency.is_active = False
    agency.save()
    _assert_grants_nothing(user, agency)


def test_an_expired_membership_does_not_hide_an_active_one():
    old, current = AgencyFactory(name="Old Shelter"), AgencyFactory(name="Current Fund")
    user = expired_member(Role.CASE_WORKER, old)
    MembershipFactory(user=user, agency=current, role=Role.CASE_WORKER)
    client = logged_in_client(user)
    home = client.get("/").content.decode()
    assert "Current Fund" in home
    assert "Old Shelter" not in home
    assert client.get(f"/accounts/agencies/{current.public_id}/").status_code == 200
    assert client.get(f"/accounts/agencies/{old.public_id}/").status_code == 404


def test_a_membership_expiring_while_logged_in_stops_at_once():
    agency = AgencyFactory()
    user = member(Role.CASE_WORKER, agency=agency)
    client = logged_in_client(user)
    assert client.get(f"/accounts/agencies/{agency.public_id}/").status_code == 200
    membership = user.memberships.get()
    membership.valid_from = timezone.now() - timedelta(days=1)
    membership.expires_at = timezone.now() - timedelta(seconds=1)
    membership.save()
    assert client.get(f"/accounts/agencies/{agency.public_id}/").status_code == 404


# --- Another agency looks like nothing ------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "path",
    ["/accounts/agencies/{id}/", "/api/v1/agencies/{id}/", "/api/v1/agencies/{id}/staff/"],
)
def test_another_agency_answers_exactly_like_a_missing_one(role, path):
    mine, theirs = AgencyFactory(), AgencyFactory(name="Batumi Shelter")
    member(Role.SERVICE_PROVIDER, agency=theirs)
    user = member(role, agency=mine)
    client = logged_in_client(user)
    assert_looks_missing(client, path.format(id=theirs.public_id))


@pytest.mark.parametrize("role", ROLES)
def test_the_agency_list_shows_only_the_users_own_agency(role):
    mine = AgencyFactory(name="Kutaisi Fund Office")
    member(Role.SERVICE_PROVIDER, agency=AgencyFactory(name="Batumi Shelter"))
    user = member(role, agency=mine)
    client = logged_in_client(user)
    page = client.get("/accounts/agencies/").content.decode()
    assert "Kutaisi Fund Office" in page
    assert "Batumi Shelter" not in page
    names = [a["name"] for a in client.get("/api/v1/agencies/").json()["results"]]
    assert names == ["Kutaisi Fund Office"]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_its_own_agency_page(role):
    mine = AgencyFactory(name="Kutaisi Fund Office")
    user = member(role, agency=mine)
    client = logged_in_client(user)
    response = client.get(f"/accounts/agencies/{mine.public_id}/")
    assert response.status_code == 200
    assert "Kutaisi Fund Office" in response.content.decode()
    assert client.get(f"/api/v1/agencies/{mine.public_id}/").json()["name"] == "Kutaisi Fund Office"


@pytest.mark.parametrize("role", ROLES)
def test_only_roles_with_staff_oversight_see_the_staff_of_their_agency(role):
    mine = AgencyFactory()
    colleague = member(
        Role.SERVICE_PROVIDER, agency=mine, user__first_name="Eka", user__last_name="Kapanadze"
    )
    user = member(role, agency=mine)
    client = logged_in_client(user)
    allowed = Perm.AGENCY_VIEW_STAFF in ROLE_PERMISSIONS[role]

    page = client.get(f"/accounts/agencies/{mine.public_id}/").content.decode()
    assert ("Eka Kapanadze" in page) == allowed
    response = client.get(f"/api/v1/agencies/{mine.public_id}/staff/")
    if allowed:
        assert response.status_code == 200
        assert colleague.username in {m["user"] for m in response.json()["results"]}
    else:
        assert response.status_code == 404
        assert colleague.username not in response.content.decode()


def test_the_staff_list_leaves_out_expired_and_revoked_memberships():
    mine = AgencyFactory()
    auditor = member(Role.AUDITOR, agency=mine)
    expired_member(Role.CASE_WORKER, mine)
    gone = member(Role.CASE_WORKER, agency=mine)
    services.revoke_membership(actor=auditor, membership=gone.memberships.get())
    current = member(Role.CASE_WORKER, agency=mine)
    users = {
        m["user"]
        for m in logged_in_client(auditor).get(f"/api/v1/agencies/{mine.public_id}/staff/").json()["results"]
    }
    assert users == {auditor.username, current.username}


def test_staff_oversight_in_one_agency_does_not_extend_to_another_agency_of_the_user():
    audited, worked_in = AgencyFactory(), AgencyFactory()
    user = member(Role.AUDITOR, agency=audited)
    MembershipFactory(user=user, agency=worked_in, role=Role.FIRST_RESPONDER)
    client = logged_in_client(user)
    assert client.get(f"/api/v1/agencies/{audited.public_id}/staff/").status_code == 200
    assert client.get(f"/api/v1/agencies/{worked_in.public_id}/staff/").status_code == 404
    assert client.get(f"/accounts/agencies/{worked_in.public_id}/").status_code == 200


# --- National scope -------------------------------------------------------------------------------------


def test_a_national_coordinator_sees_every_agency_and_its_staff():
    agencies = [AgencyFactory(name=f"Agency of region {n}") for n in range(3)]
    shelter_worker = member(Role.SERVICE_PROVIDER, agency=agencies[2])
    coordinator = member(Role.COORDINATOR, agency=agencies[0], scope=Scope.NATIONAL)
    client = logged_in_client(coordinator)
    page = client.get("/accounts/agencies/").content.decode()
    assert all(a.name in page for a in agencies)
    assert {a["name"] for a in client.get("/api/v1/agencies/").json()["results"]} == {
        a.name for a in agencies
    }
    for agency in agencies:
        assert client.get(f"/accounts/agencies/{agency.public_id}/").status_code == 200
    staff = client.get(f"/api/v1/agencies/{agencies[2].public_id}/staff/").json()["results"]
    assert [m["user"] for m in staff] == [shelter_worker.username]


@pytest.mark.parametrize(
    "role", [Role.CASE_WORKER, Role.FIRST_RESPONDER, Role.ANALYST, Role.SERVICE_PROVIDER]
)
def test_national_scope_on_a_role_without_staff_oversight_does_not_open_other_agencies(role):
    mine, theirs = AgencyFactory(), AgencyFactory()
    user = member(role, agency=mine, scope=Scope.NATIONAL)
    client = logged_in_client(user)
    assert client.get(f"/accounts/agencies/{theirs.public_id}/").status_code == 404
    assert client.get(f"/api/v1/agencies/{theirs.public_id}/").status_code == 404


def test_an_agency_scoped_coordinator_sees_only_their_agency():
    mine, theirs = AgencyFactory(), AgencyFactory()
    coordinator = member(Role.COORDINATOR, agency=mine, scope=Scope.AGENCY)
    client = logged_in_client(coordinator)
    assert client.get(f"/accounts/agencies/{theirs.public_id}/").status_code == 404


def test_an_expired_national_membership_does_not_open_every_agency():
    mine, theirs = AgencyFactory(), AgencyFactory()
    now = timezone.now()
    coordinator = member(
        Role.COORDINATOR,
        agency=mine,
        scope=Scope.NATIONAL,
        valid_from=now - timedelta(days=10),
        expires_at=now - timedelta(days=1),
    )
    client = logged_in_client(coordinator)
    assert client.get(f"/accounts/agencies/{theirs.public_id}/").status_code == 404
    assert client.get("/api/v1/agencies/").json()["results"] == []
