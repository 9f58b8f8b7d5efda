"""The REST API: personal tokens (shown once, stored hashed), scoping like the pages, the OpenAPI document."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.test import Client
from django.utils import timezone

from opennrm.accounts import services
from opennrm.accounts.models import ApiToken
from opennrm.accounts.roles import Role
from opennrm.accounts.tests.factories import AgencyFactory, logged_in_client, member
from opennrm.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def create_token_on_profile(client: Client, name: str = "Reporting script") -> str:
    response = client.post("/accounts/profile/", {"name": name, "expires_in_days": 30})
    assert response.status_code == 200
    found = re.search(r'<code class="secret" id="new-token">([^<]+)</code>', response.content.decode())
    assert found, "the new token is shown on the page"
    return found.group(1)


def api(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


# --- Tokens -------------------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_stored_only_hashed():
    user = member(Role.CASE_WORKER)
    client = logged_in_client(user)
    token = create_token_on_profile(client)

    row = ApiToken.objects.filter(user=user).values().get()
    assert row["digest"] != token
    assert len(row["digest"]) == 64
    assert all(token not in str(value) for value in row.values())
    secret_part = token.rsplit("_", 1)[-1]
    assert all(secret_part not in str(value) for value in row.values())

    profile = client.get("/accounts/profile/").content.decode()
    assert token not in profile
    assert "Reporting script" in profile  # listed by name and prefix, never in full
    assert f"onrm_{row['prefix']}" in profile
    assert AuditEntry.objects.filter(action="api_token.created", actor=user.public_id).exists()


def test_a_token_authenticates_as_its_user():
    user = member(Role.CASE_WORKER)
    token = create_token_on_profile(logged_in_client(user))
    response = api(token).get("/api/v1/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == user.username
    assert body["id"] == user.public_id
    assert [m["role"] for m in body["memberships"]] == [Role.CASE_WORKER]
    assert "case.view_identity" in body["memberships"][0]["permissions"]


def test_the_api_refuses_requests_without_credentials():
    response = Client().get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header",
    [
        "Token onrm_deadbeef_notarealtoken",
        "Token not-even-the-format",
        "Token ",
        "Token two parts",
        "Bearer onrm_deadbeef_notarealtoken",
    ],
)
def test_a_malformed_or_unknown_token_is_refused(header):
    member(Role.CASE_WORKER)
    response = Client(HTTP_AUTHORIZATION=header).get("/api/v1/me/")
    assert response.status_code == 401


def test_a_token_with_a_wrong_secret_but_a_real_prefix_is_refused():
    user = member(Role.CASE_WORKER)
    token = create_token_on_profile(logged_in_client(user))
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert api(forged).get("/api/v1/me/").status_code == 401


def test_a_revoked_token_is_refused():
    user = member(Role.CASE_WORKER)
    client = logged_in_client(user)
    token = create_token_on_profile(client)
    assert api(token).get("/api/v1/me/").status_code == 200

    row = ApiToken.objects.get(user=user)
    response = client.post(f"/accounts/profile/tokens/{row.public_id}/revoke/")
    assert response.status_code == 302
    assert api(token).get("/api/v1/me/").status_code == 401
    assert "Reporting script" not in client.get("/accounts/profile/").content.decode()
    assert AuditEntry.objects.filter(action="api_token.revoked", target_id=row.public_id).exists()


def test_a_user_cannot_revoke_someone_elses_token():
    owner, other = member(Role.CASE_WORKER), member(Role.CASE_WORKER)
    token = create_token_on_profile(logged_in_client(owner))
    row = ApiToken.objects.get(user=owner)
    response = logged_in_client(other).post(f"/accounts/profile/tokens/{row.public_id}/revoke/")
    assert response.status_code == 404
    assert api(token).get("/api/v1/me/").status_code == 200


def test_an_expired_token_is_refused():
    user = member(Role.CASE_WORKER)
    token = create_token_on_profile(logged_in_client(user))
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api(token).get("/api/v1/me/").status_code == 401


def test_the_token_of_a_deactivated_user_is_refused():
    user = member(Role.CASE_WORKER)
    token = create_token_on_profile(logged_in_client(user))
    user.is_active = False
    user.save()
    assert api(token).get("/api/v1/me/").status_code == 401


def test_a_token_records_when_it_was_last_used():
    user = member(Role.CASE_WORKER)
    token = create_token_on_profile(logged_in_client(user))
    assert ApiToken.objects.get(user=user).last_used_at is None
    api(token).get("/api/v1/me/")
    assert ApiToken.objects.get(user=user).last_used_at is not None


def test_a_token_cannot_be_created_without_a_name_or_with_a_long_life():
    user = member(Role.CASE_WORKER)
    client = logged_in_client(user)
    client.post("/accounts/profile/", {"name": "", "expires_in_days": 30})
    client.post("/accounts/profile/", {"name": "Forever", "expires_in_days": 10000})
    assert not ApiToken.objects.filter(user=user).exists()


def test_a_token_opens_no_web_page():
    """A leaked API token is not a way around the two-factor login of the web pages."""
    user = member(Role.CASE_WORKER)
    token = create_token_on_profile(logged_in_client(user))
    response = api(token).get("/accounts/profile/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- Scoping ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_a_token_sees_what_its_user_sees_and_nothing_else(role):
    mine, theirs = AgencyFactory(name="Kutaisi Fund Office"), AgencyFactory(name="Batumi Shelter")
    user = member(role, agency=mine)
    client = api(create_token_on_profile(logged_in_client(user)))

    assert [a["name"] for a in client.get("/api/v1/agencies/").json()["results"]] == ["Kutaisi Fund Office"]
    assert client.get(f"/api/v1/agencies/{mine.public_id}/").status_code == 200
    for path in (f"/api/v1/agencies/{theirs.public_id}/", f"/api/v1/agencies/{theirs.public_id}/staff/"):
        response = client.get(path)
        missing = client.get(path.replace(theirs.public_id, "a" * 24))
        assert response.status_code == 404
        assert response.json() == missing.json()
        assert "Batumi" not in response.content.decode()


def test_a_token_loses_access_when_its_users_membership_ends():
    agency = AgencyFactory()
    user = member(Role.CASE_WORKER, agency=agency)
    client = api(create_token_on_profile(logged_in_client(user)))
    assert client.get(f"/api/v1/agencies/{agency.public_id}/").status_code == 200
    services.revoke_membership(actor=user, membership=user.memberships.get())
    assert client.get(f"/api/v1/agencies/{agency.public_id}/").status_code == 404


def test_the_api_is_read_only_for_agencies():
    agency = AgencyFactory(name="Kutaisi Fund Office")
    user = member(Role.ADMINISTRATOR, agency=agency)
    client = api(create_token_on_profile(logged_in_client(user)))
    response = client.patch(
        f"/api/v1/agencies/{agency.public_id}/",
        data=json.dumps({"name": "Renamed"}),
        content_type="application/json",
    )
    assert response.status_code == 405
    agency.refresh_from_db()
    assert agency.name == "Kutaisi Fund Office"


# --- Documentation ------------------------------------------------------------------------------------


def test_the_schema_is_an_openapi_3_document_listing_the_endpoints():
    user = member(Role.CASE_WORKER)
    response = logged_in_client(user).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "OpenNRM API"
    assert {
        "/api/v1/me/",
        "/api/v1/agencies/",
        "/api/v1/agencies/{public_id}/",
        "/api/v1/agencies/{public_id}/staff/",
    } <= set(schema["paths"])


def test_the_docs_page_loads_nothing_from_other_hosts():
    user = member(Role.CASE_WORKER)
    client = logged_in_client(user)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger" in html.lower()
    urls = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', html)
    assert urls, "the page loads its assets"
    assert all(not urlparse(url).netloc for url in urls), urls
    assert not re.search(r"https?://", html)
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert not re.search(r"https?://(?!testserver)", script.content.decode())
