"""The Django admin: administrators only (by role, not by Django's staff flags), every change audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from opennrm.accounts.models import Agency, AgencyKind, Membership
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, UserFactory, logged_in_client, member
from opennrm.core.models import AuditEntry

pytestmark = pytest.mark.django_db

ADMIN_INDEX_TITLE = "Agencies, users and memberships"


def sees_admin_index(client) -> bool:
    response = client.get("/admin/")
    return response.status_code == 200 and ADMIN_INDEX_TITLE in response.content.decode()


def entry_text(entry: AuditEntry) -> str:
    return " ".join(str(getattr(entry, f.name)) for f in AuditEntry._meta.fields)


@pytest.mark.parametrize("role", list(Role))
def test_only_administrators_get_the_admin(role):
    user = member(role)
    client = logged_in_client(user)
    allowed = role == Role.ADMINISTRATOR
    assert sees_admin_index(client) == allowed
    for path in ("/admin/accounts/agency/", "/admin/accounts/user/", "/admin/accounts/membership/add/"):
        response = client.get(path)
        assert (response.status_code == 200) == allowed, path
    home = client.get("/").content.decode()
    assert ('href="/admin/"' in home) == allowed


def test_django_superuser_and_staff_flags_grant_nothing():
    user = member(Role.CASE_WORKER)
    user.is_staff = True
    user.is_superuser = True
    user.save()
    client = logged_in_client(user)
    assert not sees_admin_index(client)
    assert client.get("/admin/accounts/user/").status_code != 200


def test_an_expired_administrator_membership_grants_no_admin():
    now = timezone.now()
    user = member(Role.ADMINISTRATOR, valid_from=now - timedelta(days=30), expires_at=now - timedelta(days=1))
    assert not sees_admin_index(logged_in_client(user))


def test_the_admin_requires_the_two_factor_login():
    response = logged_in_client(member(Role.ADMINISTRATOR)).get("/admin/")
    assert response.status_code == 200
    response = Client().get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_an_agency_change_in_the_admin_is_audited_by_field_name_not_value():
    admin = member(Role.ADMINISTRATOR)
    agency = AgencyFactory(name="Old Shelter Name", short_name="OSN", region="GE-TB")
    client = logged_in_client(admin)

    form = client.get(f"/admin/accounts/agency/{agency.pk}/change/")
    assert form.status_code == 200
    read = AuditEntry.objects.filter(action="accounts.agency.read", target_id=agency.public_id).get()
    assert "name" in read.fields
    assert "Old Shelter Name" not in entry_text(read)

    response = client.post(
        f"/admin/accounts/agency/{agency.pk}/change/",
        {
            "name": "Secret New Shelter Name",
            "short_name": "OSN",
            "kind": AgencyKind.NGO,
            "country": "GE",
            "region": "GE-TB",
            "is_active": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.name == "Secret New Shelter Name"

    entry = AuditEntry.objects.filter(action="accounts.agency.changed", target_id=agency.public_id).get()
    assert entry.actor == admin.public_id
    assert entry.details["changed"] == ["name"]
    assert "Secret New Shelter Name" not in entry_text(entry)
    assert "Old Shelter Name" not in entry_text(entry)


def test_an_agency_added_in_the_admin_is_audited():
    admin = member(Role.ADMINISTRATOR)
    client = logged_in_client(admin)
    response = client.post(
        "/admin/accounts/agency/add/",
        {
            "name": "New Hotline",
            "kind": AgencyKind.HOTLINE,
            "country": "GE",
            "is_active": "on",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    agency = Agency.objects.get(name="New Hotline")
    entry = AuditEntry.objects.get(action="accounts.agency.created")
    assert entry.target_id == agency.public_id
    assert entry.actor == admin.public_id
    assert "New Hotline" not in entry_text(entry)


def test_a_membership_granted_in_the_admin_is_audited_and_takes_effect():
    admin = member(Role.ADMINISTRATOR)
    newcomer = UserFactory(first_name="Nino", last_name="Beridze")
    agency = AgencyFactory(name="Tbilisi Crisis Centre")
    now = timezone.localtime()
    response = logged_in_client(admin).post(
        "/admin/accounts/membership/add/",
        {
            "user": newcomer.pk,
            "agency": agency.pk,
            "role": Role.CASE_WORKER,
            "scope": Scope.AGENCY,
            "valid_from_0": now.strftime("%Y-%m-%d"),
            "valid_from_1": (now - timedelta(minutes=5)).strftime("%H:%M:%S"),
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    membership = Membership.objects.get(user=newcomer)
    entry = AuditEntry.objects.get(action="accounts.membership.created")
    assert entry.target_id == membership.public_id
    assert "role" in entry.details["changed"]
    assert "Beridze" not in entry_text(entry)
    page = logged_in_client(newcomer).get("/").content.decode()
    assert "Tbilisi Crisis Centre" in page


def test_opening_a_user_in_the_admin_is_audited_as_a_read():
    admin = member(Role.ADMINISTRATOR)
    staff = member(Role.CASE_WORKER, user__first_name="Nino", user__last_name="Beridze")
    response = logged_in_client(admin).get(f"/admin/accounts/user/{staff.pk}/change/")
    assert response.status_code == 200
    read = AuditEntry.objects.get(action="accounts.user.read", target_id=staff.public_id)
    assert {"first_name", "last_name"} <= set(read.fields)
    assert "Beridze" not in entry_text(read)
    membership_read = AuditEntry.objects.get(action="accounts.membership.read")
    assert membership_read.target_id == staff.memberships.get().public_id


def test_nothing_can_be_deleted_from_the_admin():
    admin = member(Role.ADMINISTRATOR)
    agency = AgencyFactory()
    client = logged_in_client(admin)
    response = client.post(f"/admin/accounts/agency/{agency.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Agency.objects.filter(pk=agency.pk).exists()


def test_the_admin_changelist_of_users_is_audited_or_shows_no_identifying_detail():
    """The user list shows names (staff, not victims): opening it must at least not fail for an administrator."""
    admin = member(Role.ADMINISTRATOR)
    member(Role.CASE_WORKER, user__first_name="Nino", user__last_name="Beridze")
    response = logged_in_client(admin).get("/admin/accounts/user/", {"q": "Beridze"})
    assert response.status_code == 200
    assert "Beridze" in response.content.decode()
