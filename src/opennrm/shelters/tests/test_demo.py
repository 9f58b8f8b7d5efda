"""The demo shelters: the Tbilisi and Batumi shelters of the State Fund, with past stays and people placed now
(admitted through the services on accepted shelter referrals), an alert for stays near their limit, and a second
run adds nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from opennrm.cases.demo import build_demo_cases
from opennrm.core.audit import verify_chain
from opennrm.core.models import Alert, AuditEntry
from opennrm.referrals.models import ReferralStatus
from opennrm.shelters.demo import MIN_RESIDENTS, build_demo_shelters
from opennrm.shelters.models import Placement, Shelter

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def demo(settings, tmp_path):
    settings.INSTANCE_DIR = tmp_path  # demo_credentials.json of load_demo
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    build_demo_cases(count=40, seed=7, now=NOW)
    return build_demo_shelters(seed=7, now=NOW)


def test_the_demo_has_both_shelters_with_residents_and_history(demo):
    assert demo == Placement.objects.count()
    shelters = {s.agency.name: s for s in Shelter.objects.select_related("agency")}
    assert set(shelters) == {"State Fund Shelter, Tbilisi", "State Fund Shelter, Batumi"}
    assert shelters["State Fund Shelter, Batumi"].region == "GE-AJ"
    for shelter in shelters.values():
        assert shelter.address.startswith("DEMO ADDRESS")
        current = Placement.objects.filter(shelter=shelter, discharged_at__isnull=True)
        assert current.count() >= MIN_RESIDENTS
        for placement in current:
            # Admitted on an accepted shelter referral to this shelter's agency, through the service.
            assert placement.referral.status == ReferralStatus.ACCEPTED
            assert placement.referral.to_agency_id == shelter.agency_id
            assert placement.admitted_at <= NOW and placement.stay_limit is not None
            assert AuditEntry.objects.filter(
                action="placement.admitted", target_id=placement.public_id
            ).exists()
    past = Placement.objects.filter(discharged_at__isnull=False)
    assert past.exists() and all(p.referral.status == ReferralStatus.COMPLETED for p in past)
    with connection.cursor() as cursor:
        cursor.execute("SELECT address FROM shelters_shelter")
        assert all("Placeholder" not in row[0] for row in cursor.fetchall())
    assert verify_chain().ok


def test_stays_near_their_limit_are_alerted(demo):
    near = Placement.objects.filter(
        discharged_at__isnull=True, stay_limit__lte=(NOW + dt.timedelta(days=7)).date()
    )
    assert near.exists()
    alerted = {a.url for a in Alert.objects.filter(kind="stay_ending")}
    assert alerted == {f"/shelters/placements/{p.public_id}/" for p in near}


def test_a_second_run_adds_nothing(demo):
    before = Placement.objects.count()
    assert build_demo_shelters(seed=7, now=NOW) == 0
    assert Placement.objects.count() == before


def test_the_builder_is_registered_after_the_cases():
    from opennrm.core import demo as registry

    names = [name for name, _builder in registry.builders()]
    assert names.index("shelters") > names.index("cases")
