"""Reads: the encrypted, audited address; the resident's minimum data; occupancy now and over time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from opennrm.accounts.access import access_for
from opennrm.core.models import AuditEntry
from opennrm.shelters import selectors
from opennrm.shelters.models import Placement, Shelter
from opennrm.shelters.tests.factories import ADDRESS, ShelterFactory, world

pytestmark = pytest.mark.django_db


def test_the_address_is_encrypted_in_the_database():
    w = world()
    with connection.cursor() as cursor:
        cursor.execute("SELECT address FROM shelters_shelter WHERE id = %s", [w.shelter.pk])
        stored = cursor.fetchone()[0]
    assert "Hidden" not in stored and "Tbilisi" not in stored and len(stored) > len(ADDRESS)


def test_staff_and_coordinators_read_the_address_and_every_read_is_audited():
    w = world()
    assert selectors.read_address(actor=w.staff, shelter=w.shelter) == ADDRESS
    assert selectors.read_address(actor=w.coordinator, shelter=w.shelter, via="api") == ADDRESS
    reads = AuditEntry.objects.filter(action="shelter.address_read", target_id=w.shelter.public_id)
    assert [(e.actor, e.fields, e.details["via"]) for e in reads.order_by("sequence")] == [
        (w.staff.public_id, ["address"], "page"),
        (w.coordinator.public_id, ["address"], "api"),
    ]
    for outsider in (w.other_staff, w.analyst, w.case_worker):
        with pytest.raises(PermissionDenied):
            selectors.read_address(actor=outsider, shelter=w.shelter)
    assert reads.count() == 2


def test_listing_shelters_never_loads_the_address():
    w = world()
    with CaptureQueriesContext(connection) as queries:
        list(selectors.visible_shelters(access_for(w.coordinator)))
    assert "address" not in queries.captured_queries[-1]["sql"]


def test_who_sees_which_shelter():
    w = world()
    assert list(selectors.visible_shelters(access_for(w.staff))) == [w.shelter]
    assert list(selectors.visible_shelters(access_for(w.other_staff))) == [w.other_shelter]
    assert set(selectors.visible_shelters(access_for(w.coordinator))) == {w.shelter, w.other_shelter}
    assert set(selectors.visible_shelters(access_for(w.analyst))) == {w.shelter, w.other_shelter}
    assert not selectors.visible_shelters(access_for(w.case_worker)).exists()
    assert not selectors.visible_placements(access_for(w.analyst)).exists()


def test_the_staff_see_the_minimum_of_a_resident_and_the_read_is_audited():
    w = world()
    placement = w.admit()
    shown = selectors.resident(actor=w.staff, placement=placement)
    assert (shown.given_name, shown.sex, shown.languages) == ("Nino", "feminine", ["ka", "ru"])
    read = AuditEntry.objects.get(action="person.read", actor=w.staff.public_id)
    assert read.fields == ["given_name", "sex", "languages"]
    case_read = AuditEntry.objects.get(action="case.read", actor=w.staff.public_id)
    assert (
        case_read.fields == ["age_group", "is_child"]
        and case_read.details["placement"] == placement.public_id
    )


def test_a_coordinator_sees_the_placement_but_nothing_of_the_person():
    w = world()
    placement = w.admit()
    shown = selectors.resident(actor=w.coordinator, placement=placement)
    assert shown.given_name is None and shown.sex is None
    assert not AuditEntry.objects.filter(action="person.read").exists()


def test_after_leaving_the_staff_no_longer_see_the_person():
    w = world()
    placement = w.admit()
    placement.discharged_at = timezone.now()
    placement.discharge_reason = "completed"
    placement.save()
    assert selectors.resident(actor=w.staff, placement=placement).given_name is None


def test_admissible_referrals_are_accepted_shelter_referrals_of_people_not_placed():
    w = world()
    waiting = w.referral()
    pending = w.referral(accept=False)
    placed = w.admit()
    found = list(selectors.admissible_referrals(w.shelter))
    assert waiting in found and pending not in found and placed.referral not in found


def test_occupancy_now_by_category():
    w = world()
    w.admit(category="women")
    w.admit(category="women")
    w.admit(category="men")
    occupancy = selectors.current_occupancy([w.shelter, w.other_shelter])
    mine = occupancy[w.shelter.pk]
    assert mine.occupied == {"women": 2, "men": 1}
    assert [(r["category"], r["occupied"], r["capacity"], r["free"]) for r in mine.rows] == [
        ("women", 2, 2, 0),
        ("men", 1, 1, 0),
        ("children", 0, 1, 1),
        ("families", 0, 0, 0),
    ]
    assert occupancy[w.other_shelter.pk].total_occupied == 0
    total = selectors.total_occupancy(occupancy.values(), [w.shelter, w.other_shelter])
    assert total.total_occupied == 3 and total.total_capacity == 8


def _stay(w, shelter: Shelter, category: str, admitted: dt.date, left: dt.date | None) -> Placement:
    zone = timezone.get_current_timezone()
    placement = w.admit(shelter=shelter, category=category)
    placement.admitted_at = dt.datetime.combine(admitted, dt.time(15), tzinfo=zone)
    placement.discharged_at = dt.datetime.combine(left, dt.time(10), tzinfo=zone) if left else None
    placement.discharge_reason = "completed" if left else ""
    placement.save()
    return placement


def test_occupancy_over_time_counts_nights_from_the_intervals_in_one_query():
    w = world(capacity_women=5)
    today = timezone.localdate()
    _stay(w, w.shelter, "women", today - dt.timedelta(days=40), today - dt.timedelta(days=25))  # 15 nights
    _stay(w, w.shelter, "women", today - dt.timedelta(days=10), None)  # still there
    _stay(w, w.shelter, "men", today - dt.timedelta(days=5), today - dt.timedelta(days=3))  # 2 nights
    _stay(w, w.other_shelter, "women", today - dt.timedelta(days=2), None)  # another shelter
    with CaptureQueriesContext(connection) as queries:
        days = selectors.occupancy_series(Shelter.objects.filter(pk=w.shelter.pk), period="days", today=today)
    assert len(queries.captured_queries) == 1
    assert len(days) == 30 and days[-1].start == today and days[0].start == today - dt.timedelta(days=29)
    by_day = {b.start: b for b in days}
    assert by_day[today].peak == {"women": 1, "men": 0, "children": 0, "families": 0}
    assert by_day[today - dt.timedelta(days=4)].peak_total == 2  # the man's second night
    assert by_day[today - dt.timedelta(days=3)].peak_total == 1  # he left that day
    assert by_day[today - dt.timedelta(days=26)].peak["women"] == 1  # last night of the first stay
    assert by_day[today - dt.timedelta(days=25)].peak["women"] == 0  # she left that day
    assert by_day[today - dt.timedelta(days=11)].peak_total == 0

    weeks = selectors.occupancy_series(Shelter.objects.filter(pk=w.shelter.pk), period="weeks", today=today)
    assert len(weeks) == 26 and weeks[-1].end == today and weeks[-1].start.weekday() == 0
    months = selectors.occupancy_series(Shelter.objects.all(), period="months", today=today)
    assert len(months) == 12 and months[-1].start == today.replace(day=1)
    assert months[-1].peak_total >= 2  # both shelters together
    assert sum(b.nights for b in months) == 15 + 11 + 2 + 3  # the nights of each stay, today included


def test_an_unknown_period_is_refused():
    with pytest.raises(ValueError, match="years"):
        selectors.occupancy_series(Shelter.objects.all(), period="years")


def test_a_new_shelter_has_empty_history():
    shelter = ShelterFactory()
    series = selectors.occupancy_series(Shelter.objects.filter(pk=shelter.pk), period="weeks")
    assert all(b.peak_total == 0 and b.average_total == 0 for b in series)
