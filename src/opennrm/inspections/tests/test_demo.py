"""The demo inspections: a small build shows the inspection at work (inspections in several sectors and regions,
some joint with the police, screenings mostly negative, presumed victims referred or notified, drafts of the last
days, some cases decided), every act through the services at its own date, and a second run adds nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from opennrm.cases.models import Case, Decision, Notification
from opennrm.core.audit import verify_chain
from opennrm.core.models import Alert, AuditEntry
from opennrm.inspections.demo import build_demo_inspections
from opennrm.inspections.models import Inspection, ScreeningStatus, WorkerScreening

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def demo(settings, tmp_path):
    settings.INSTANCE_DIR = tmp_path  # demo_credentials.json of load_demo
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    return build_demo_inspections(months=3, seed=7, now=NOW)


def test_a_small_demo_shows_the_inspection_at_work(demo):
    assert demo == Inspection.objects.count() > 40
    assert Inspection.objects.values("sector").distinct().count() >= 5
    assert Inspection.objects.values("region").distinct().count() >= 5
    assert Inspection.objects.filter(joint_with_police=True).exists()
    screenings = WorkerScreening.objects.all()
    negative = screenings.exclude(conclusion="presumed_victim").count()
    assert negative > 5 * screenings.filter(conclusion="presumed_victim").count() > 0
    assert screenings.filter(status=ScreeningStatus.REFERRED).exists()
    assert screenings.filter(status=ScreeningStatus.NOTIFIED).count() == Notification.objects.count() > 0
    assert screenings.filter(status=ScreeningStatus.DRAFT).exists()
    assert {"ilo_ec_delphi_2009", "ilo_forced_labour_11_2012"} == set(
        screenings.values_list("instrument_id", flat=True).distinct()
    )
    assert (
        Case.objects.filter(referring_agency__kind="labour_inspection").count()
        == screenings.filter(status=ScreeningStatus.REFERRED).count()
    )
    assert Decision.objects.exclude(outcome="").exists()
    assert Alert.objects.filter(kind="inspection_referral").exists()


def test_every_inspection_is_in_the_window_and_lived_at_its_date(demo):
    earliest = (NOW - dt.timedelta(days=95)).date()
    for inspection in Inspection.objects.all():
        assert earliest <= inspection.date <= NOW.date()
        assert timezone.localdate(inspection.created_at) == inspection.date
        assert inspection.employer_name.startswith("Demo ")
        assert all(item["value"].startswith("DEMO") for item in inspection.identifiers)
    assert verify_chain().ok
    assert AuditEntry.objects.filter(action="inspection.recorded").count() == demo


def test_running_again_adds_nothing(demo):
    counts = (Inspection.objects.count(), WorkerScreening.objects.count(), AuditEntry.objects.count())
    assert build_demo_inspections(months=3, seed=7, now=NOW) == 0
    assert (Inspection.objects.count(), WorkerScreening.objects.count(), AuditEntry.objects.count()) == counts
