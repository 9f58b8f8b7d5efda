"""The core pages: home, the health check, the audit log (auditors only)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import (
    AgencyFactory,
    MembershipFactory,
    UserFactory,
    logged_in_client,
    member,
)
from opennrm.core import audit, views
from opennrm.core.models import AuditEntry

pytestmark = pytest.mark.django_db


# --- Home -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_home_greets_the_user_and_shows_their_role(role):
    agency = AgencyFactory(name="Tbilisi Crisis Centre")
    user = member(role, agency=agency, user__first_name="Tamar", user__last_name="Gelashvili")
    response = logged_in_client(user).get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Welcome, Tamar Gelashvili" in page
    assert "Tbilisi Crisis Centre" in page
    assert str(role.label) in page


def test_home_lists_every_active_role_with_its_scope():
    fund, shelter = AgencyFactory(name="State Fund"), AgencyFactory(name="Batumi Shelter")
    user = member(Role.COORDINATOR, agency=fund, scope=Scope.NATIONAL)
    MembershipFactory(user=user, agency=shelter, role=Role.SERVICE_PROVIDER)
    page = logged_in_client(user).get("/").content.decode()
    for text in ("State Fund", "Coordinator", "National", "Batumi Shelter", "Service provider", "Agency"):
        assert text in page


def test_home_tells_a_user_without_roles_there_is_nothing_to_see():
    page = logged_in_client(UserFactory()).get("/").content.decode()
    assert "You have no active role in any agency" in page


def test_navigation_shows_only_what_the_role_may_open():
    auditor, worker = member(Role.AUDITOR), member(Role.CASE_WORKER)
    assert 'href="/audit/"' in logged_in_client(auditor).get("/").content.decode()
    assert 'href="/audit/"' not in logged_in_client(worker).get("/").content.decode()


def test_navigation_leads_to_the_cross_border_pages_each_role_may_open(settings):
    from opennrm.accounts.roles import Scope

    settings.OPENNRM_COOP_IS_HUB = True
    focal_point = member(Role.CASE_WORKER, scope=Scope.NATIONAL)
    worker = member(Role.CASE_WORKER)
    analyst = member(Role.ANALYST)
    pages = {u: logged_in_client(u).get("/").content.decode() for u in (focal_point, worker, analyst)}
    assert 'href="/coop/referrals/"' in pages[focal_point]
    assert 'href="/coop/linkage/duplicates/"' in pages[focal_point]
    assert 'href="/coop/referrals/sent/"' in pages[worker]
    assert 'href="/coop/referrals/"' not in pages[worker]
    assert 'href="/coop/linkage/duplicates/"' not in pages[worker]
    assert 'href="/coop/hub/"' in pages[analyst]
    assert "/coop/referrals" not in pages[analyst]
    for user, page in pages.items():
        link = 'href="/coop/referrals/"' if user is focal_point else 'href="/coop/referrals/sent/"'
        if link in page:  # every link shown opens
            assert logged_in_client(user).get(link.split('"')[1]).status_code == 200


# --- Health ---------------------------------------------------------------------------------------------


def test_health_answers_json_without_login():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_health_reveals_no_data():
    member(Role.CASE_WORKER, user__last_name="Beridze", agency=AgencyFactory(name="Hidden Shelter"))
    body = Client().get("/healthz").content.decode()
    assert "Beridze" not in body
    assert "Hidden Shelter" not in body
    assert set(Client().get("/healthz").json()) <= {"status", "database", "version", "country"}


def test_health_reports_a_database_failure():
    class BrokenCursor:
        def __enter__(self):
            raise RuntimeError("database down")

        def __exit__(self, *exc):
            return False

    # Patched only around the request, so the test database's own teardown still has a working cursor.
    with mock.patch.object(views, "connection", mock.Mock(cursor=BrokenCursor)):
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"


# --- Audit log ------------------------------------------------------------------------------------------


def test_an_auditor_with_agency_scope_cannot_read_the_instance_wide_log():
    user = member(Role.AUDITOR, scope=Scope.AGENCY)
    audit.record(actor=user, action="user.login", target=user)
    assert logged_in_client(user).get("/audit/").status_code == 404


@pytest.mark.parametrize("role", list(Role))
def test_only_roles_that_read_the_audit_log_open_it(role):
    user = member(role, scope=Scope.NATIONAL)
    audit.record(actor=user, action="user.login", target=user)
    response = logged_in_client(user).get("/audit/")
    if Perm.AUDIT_VIEW in ROLE_PERMISSIONS[role]:
        assert response.status_code == 200
        assert "user.login" in response.content.decode()
    else:
        assert response.status_code == 404
        assert "user.login" not in response.content.decode()


@pytest.mark.parametrize("role", list(Role))
def test_only_roles_that_verify_the_audit_log_start_a_verification(role):
    user = member(role, scope=Scope.NATIONAL)
    response = logged_in_client(user).post("/audit/")
    requested = AuditEntry.objects.filter(action="audit.verification_requested").exists()
    if Perm.AUDIT_VERIFY in ROLE_PERMISSIONS[role]:
        assert response.status_code == 302
        assert requested
    else:
        assert response.status_code == 404
        assert not requested


def test_the_audit_log_is_refused_when_the_auditor_membership_expired():
    now = timezone.now()
    user = member(Role.AUDITOR, valid_from=now - timedelta(days=30), expires_at=now - timedelta(days=1))
    assert logged_in_client(user).get("/audit/").status_code == 404


def test_the_audit_log_filters_by_action_and_shows_names_of_fields_only():
    auditor = member(Role.AUDITOR, scope=Scope.NATIONAL)
    worker = member(Role.CASE_WORKER, user__last_name="Beridze")
    audit.record(actor=worker, action="user.login", target=worker)
    audit.record_read(actor=worker, target=worker, fields=["last_name"], action="accounts.user.read")
    client = logged_in_client(auditor)
    page = client.get("/audit/", {"action": "accounts."}).content.decode()
    assert "accounts.user.read" in page
    assert "last_name" in page
    assert "Beridze" not in page
    assert "<code>user.login</code>" not in page
