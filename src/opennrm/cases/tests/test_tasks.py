"""The overdue-decision task alerts every active coordinator once per overdue decision."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import member
from opennrm.cases import services
from opennrm.cases.tasks import notify_overdue_decisions
from opennrm.cases.tests.test_services import TBILISI, grant, now_is, refer, worker_and_agency
from opennrm.core.models import Alert

pytestmark = pytest.mark.django_db

REQUESTED = dt.datetime(2026, 3, 2, 10, 0, tzinfo=TBILISI)
SINCE = REQUESTED - dt.timedelta(days=30)  # memberships valid from (their default is the real time)


def test_each_coordinator_is_alerted_once_about_an_overdue_decision(monkeypatch):
    now_is(monkeypatch, REQUESTED)
    worker, agency = worker_and_agency()
    coordinators = [
        member(Role.COORDINATOR, scope=Scope.NATIONAL, valid_from=SINCE),
        member(Role.COORDINATOR, agency=agency, valid_from=SINCE),
    ]
    expired = member(
        Role.COORDINATOR,
        valid_from=REQUESTED - dt.timedelta(days=60),
        expires_at=REQUESTED - dt.timedelta(days=1),
    )
    case_worker_only = member(Role.CASE_WORKER, agency=agency, valid_from=SINCE)
    case = refer(worker, agency)
    services.request_decision(actor=worker, case=case, route="permanent_group")

    now_is(monkeypatch, REQUESTED + dt.timedelta(hours=47, minutes=59))
    assert notify_overdue_decisions.call() == 0
    assert Alert.objects.count() == 0

    now_is(monkeypatch, REQUESTED + dt.timedelta(hours=48, minutes=1))
    assert notify_overdue_decisions.call() == 1
    alerts = Alert.objects.filter(kind="decision_overdue")
    assert sorted(a.recipient_id for a in alerts) == sorted(c.pk for c in coordinators)
    assert not Alert.objects.filter(recipient__in=[expired, case_worker_only, worker]).exists()
    alert = alerts.first()
    assert case.reference in alert.text
    assert alert.url == f"/cases/{case.public_id}/"

    now_is(monkeypatch, REQUESTED + dt.timedelta(hours=60))
    assert notify_overdue_decisions.call() == 0  # once per decision
    assert Alert.objects.count() == 2


def test_a_late_decision_made_before_the_task_runs_raises_no_alert(monkeypatch):
    now_is(monkeypatch, REQUESTED)
    worker, agency = worker_and_agency()
    maker = member(Role.DECISION_MAKER, agency=agency)
    member(Role.COORDINATOR, scope=Scope.NATIONAL, valid_from=SINCE)
    case = refer(worker, agency)
    decision = services.request_decision(actor=worker, case=case, route="permanent_group")
    now_is(monkeypatch, REQUESTED + dt.timedelta(hours=50))
    grant(maker, decision)  # late, but decided before the task ran
    assert notify_overdue_decisions.call() == 0
    assert Alert.objects.count() == 0
    assert timezone.now() > decision.deadline_at


def test_only_coordinators_whose_scope_reaches_the_case_are_alerted(monkeypatch):
    now_is(monkeypatch, REQUESTED)
    worker, agency = worker_and_agency()
    other_agency_coordinator = member(Role.COORDINATOR, valid_from=SINCE)  # agency scope, another agency
    case = refer(worker, agency)
    services.request_decision(actor=worker, case=case, route="permanent_group")

    now_is(monkeypatch, REQUESTED + dt.timedelta(hours=49))
    # Nobody who oversees this case can be told yet: nothing is marked, nobody else learns the reference.
    assert notify_overdue_decisions.call() == 0
    assert not Alert.objects.filter(recipient=other_agency_coordinator).exists()

    national = member(Role.COORDINATOR, scope=Scope.NATIONAL, valid_from=SINCE)
    assert notify_overdue_decisions.call() == 1
    assert list(Alert.objects.values_list("recipient_id", flat=True)) == [national.pk]
