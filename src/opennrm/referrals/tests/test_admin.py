"""The service catalogue in the admin: administrators only, changes validated and audited, nothing deleted."""

from __future__ import annotations

import pytest

from opennrm.accounts.roles import Role
from opennrm.accounts.tests.factories import logged_in_client, member
from opennrm.core.models import AuditEntry
from opennrm.referrals.models import ServiceType

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", list(Role))
def test_only_administrators_manage_the_catalogue(role):
    client = logged_in_client(member(role))
    shelter = ServiceType.objects.get(country="GE", code="shelter")
    for path in ("/admin/referrals/servicetype/", f"/admin/referrals/servicetype/{shelter.pk}/change/"):
        assert (client.get(path).status_code == 200) == (role == Role.ADMINISTRATOR), path


def change_data(service: ServiceType, **changes) -> dict:
    data = {
        "country": service.country,
        "code": service.code,
        "category": service.category,
        "names": '{"en": "Safe house", "ka": "თავშესაფარი"}',
        "needs": '["given_name", "languages"]',
        "provider_kinds": '["shelter"]',
        "is_active": "on",
    }
    data.update(changes)
    return data


def test_an_administrator_changes_a_service_and_the_change_is_audited():
    admin = member(Role.ADMINISTRATOR)
    client = logged_in_client(admin)
    shelter = ServiceType.objects.get(country="GE", code="shelter")
    response = client.post(f"/admin/referrals/servicetype/{shelter.pk}/change/", change_data(shelter))
    assert response.status_code == 302
    shelter.refresh_from_db()
    assert shelter.names["en"] == "Safe house" and shelter.needs == ["given_name", "languages"]
    entry = AuditEntry.objects.get(action="referrals.servicetype.changed")
    assert entry.actor == admin.public_id and "needs" in entry.details["changed"]


def test_needs_outside_the_provider_fields_are_refused():
    client = logged_in_client(member(Role.ADMINISTRATOR))
    shelter = ServiceType.objects.get(country="GE", code="shelter")
    response = client.post(
        f"/admin/referrals/servicetype/{shelter.pk}/change/",
        change_data(shelter, needs='["given_name", "pin"]'),
    )
    assert response.status_code == 200  # the form again, with the error
    shelter.refresh_from_db()
    assert "pin" not in shelter.needs
    assert client.get(f"/admin/referrals/servicetype/{shelter.pk}/delete/").status_code == 403
