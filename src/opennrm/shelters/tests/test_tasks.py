"""The stay-limit alert: once per limit, to the shelter's staff and the coordinators, when time comes close."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import member
from opennrm.core.models import Alert, AuditEntry
from opennrm.core.scheduler import registered
from opennrm.shelters import services
from opennrm.shelters.tasks import STAY_ALERT_DAYS, notify_stays_ending
from opennrm.shelters.tests.factories import world

pytestmark = pytest.mark.django_db


def at(moment: dt.datetime):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def test_the_check_is_scheduled():
    assert any(p.task.module_path == notify_stays_ending.module_path for p in registered())


@override_settings(OPENNRM_COUNTRY="MD")
def test_the_alert_fires_once_when_time_comes_close_to_the_limit_and_again_after_an_extension():
    w = world()
    agency_coordinator = member(Role.COORDINATOR, agency=w.other_agency, scope=Scope.AGENCY)
    placement = w.admit()
    limit = placement.stay_limit
    noon = dt.time(12, tzinfo=timezone.get_current_timezone())

    # Well before the limit: nothing.
    with at(dt.datetime.combine(limit - dt.timedelta(days=STAY_ALERT_DAYS + 1), noon)):
        assert notify_stays_ending.call() == 0
    assert not Alert.objects.filter(kind="stay_ending").exists()

    # Within the alert window: the shelter's staff and the national coordinator, once.
    with at(dt.datetime.combine(limit - dt.timedelta(days=STAY_ALERT_DAYS - 1), noon)):
        assert notify_stays_ending.call() == 1
        assert notify_stays_ending.call() == 0
    alerts = Alert.objects.filter(kind="stay_ending")
    assert {a.recipient for a in alerts} == {w.staff, w.coordinator}
    assert agency_coordinator not in {a.recipient for a in alerts}
    alert = alerts.first()
    assert alert.params == {"reference": placement.case.reference, "date": limit.isoformat()}
    assert alert.url == f"/shelters/placements/{placement.public_id}/"
    assert placement.case.reference in alert.text and "Hidden Lane" not in alert.text
    assert (
        AuditEntry.objects.filter(action="placement.stay_alert_sent", target_id=placement.public_id).count()
        == 1
    )

    # Extended: a new alert comes before the new limit, once.
    placement.refresh_from_db()
    until = limit + dt.timedelta(days=30)
    services.decide_extension(
        actor=w.coordinator, placement=placement, extend=True, until=until, reason="Trial."
    )
    with at(dt.datetime.combine(limit, noon)):
        assert notify_stays_ending.call() == 0
    with at(dt.datetime.combine(until - dt.timedelta(days=2), noon)):
        assert notify_stays_ending.call() == 1
        assert notify_stays_ending.call() == 0
    assert Alert.objects.filter(kind="stay_ending").count() == 4


def test_a_stay_whose_admission_is_moved_back_is_alerted_and_a_discharged_one_is_not():
    w = world()
    placement = w.admit()
    left = w.admit(category="children")
    services.discharge(actor=w.staff, placement=left, reason="returned_home")
    # Move the stays back in time: admitted nearly three months ago.
    placement.stay_limit = timezone.localdate() + dt.timedelta(days=3)
    placement.save(update_fields=["stay_limit"])
    left.stay_limit = timezone.localdate()
    left.save(update_fields=["stay_limit"])
    assert notify_stays_ending.call() == 1
    assert set(Alert.objects.filter(kind="stay_ending").values_list("url", flat=True)) == {
        f"/shelters/placements/{placement.public_id}/"
    }


@override_settings(OPENNRM_COUNTRY="UA")
def test_no_alert_without_a_limit():
    w = world()
    w.admit()
    with at(timezone.now() + dt.timedelta(days=3650)):
        assert notify_stays_ending.call() == 0
