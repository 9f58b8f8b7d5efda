"""The demo cases: a small build shows a working mechanism (every status, children, overdue decisions, closures,
compensation, services), every case lived through the services at its own dates, and a second run adds nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from opennrm.cases.choices import CaseStatus
from opennrm.cases.demo import _Builder, _fates, build_demo_cases
from opennrm.cases.identity import find_candidates
from opennrm.cases.models import Case, CaseEvent, Compensation, Decision, Notification, Person
from opennrm.core.audit import verify_chain
from opennrm.core.models import AuditEntry

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 10, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def demo(settings, tmp_path):
    settings.INSTANCE_DIR = tmp_path  # demo_credentials.json of load_demo
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    return build_demo_cases(count=40, seed=7, now=NOW)


def test_a_small_demo_has_cases_in_every_status(demo):
    assert demo == 40
    statuses = dict(Case.objects.values_list("status").annotate(n=Count("id")))
    assert set(statuses) == set(CaseStatus.values)
    assert Case.objects.filter(status=CaseStatus.CLOSED).values("closure_reason").distinct().count() >= 2
    assert Case.objects.filter(is_child=True).exists()
    assert Compensation.objects.filter(paid_at__isnull=False).exists()
    assert Decision.objects.filter(is_appeal=True).exists()
    assert Notification.objects.count() == 3
    pending = Decision.objects.filter(outcome="")
    assert pending.filter(deadline_at__lt=NOW).exists()
    assert pending.filter(deadline_at__gte=NOW).exists()
    # Every deadline is the profile's (Georgia: 48 hours) from the moment the decision was really requested.
    for decision in Decision.objects.all():
        assert decision.deadline_at - decision.requested_at == dt.timedelta(hours=48)


def test_each_case_is_lived_through_the_services_at_its_own_dates(demo):
    earliest = (NOW - dt.timedelta(days=3 * 365 + 7)).date()
    for case in Case.objects.all():
        assert earliest <= case.first_contact_date <= NOW.date()
        assert case.first_contact_date <= timezone.localdate(case.created_at)
        assert case.reference.startswith(f"GE-{case.first_contact_date.year}-")
        times = list(CaseEvent.objects.filter(case=case).order_by("id").values_list("at", flat=True))
        kinds = list(CaseEvent.objects.filter(case=case).order_by("id").values_list("kind", flat=True))
        assert kinds[0] == "referred"
        assert times == sorted(times) and times[0] == case.created_at and times[-1] <= NOW
        if case.status == CaseStatus.CLOSED:
            assert kinds[-1] == "closed"
    assert Case.objects.dates("first_contact_date", "year").count() >= 3
    assert verify_chain().ok
    assert AuditEntry.objects.filter(action="case.referred").count() == 40
    # Identity is encrypted and found again through the blind indexes.
    person = next(p for p in Person.objects.order_by("id") if p.documents)
    documents = [d["number"] for d in person.documents]
    assert all(number.startswith("DEMO") for number in documents)
    with connection.cursor() as cursor:
        cursor.execute("SELECT given_name, documents FROM cases_person WHERE id = %s", [person.pk])
        stored = cursor.fetchone()
    assert all(value.startswith("v1:") for value in stored)
    assert person.given_name not in stored[0] and documents[0] not in stored[1]
    found = find_candidates(given_name="x", document_numbers=documents)
    assert [c.case.person_id for c in found] == [person.pk]
    scripts = {
        "georgian"
        if any("\u10d0" <= ch <= "\u10ff" for ch in p.given_name)
        else "cyrillic"
        if any("\u0400" <= ch <= "\u04ff" for ch in p.given_name)
        else "latin"
        for p in Person.objects.all()
    }
    assert {"georgian", "latin"} <= scripts


def test_the_same_seed_plans_the_same_demo():
    def plan(seed):
        builder = _Builder(count=40, seed=seed, now=NOW)
        for fate in _fates(40, builder.rng):
            builder.plan_case(fate)
        return [act.at for act in builder.acts]

    assert plan(7) == plan(7) != plan(8)


def test_running_again_adds_nothing(demo):
    counts = (Case.objects.count(), Notification.objects.count(), AuditEntry.objects.count())
    assert build_demo_cases(count=40, seed=7, now=NOW) == 0
    assert (Case.objects.count(), Notification.objects.count(), AuditEntry.objects.count()) == counts
