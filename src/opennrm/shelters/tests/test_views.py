"""The shelter pages for every role, in the shelter's agency and in another one (404), bad input, the case panel
and the over-capacity flow through the forms."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import logged_in_client, member
from opennrm.core.models import AuditEntry
from opennrm.shelters.models import Placement, Shelter
from opennrm.shelters.tests.factories import ADDRESS, ShelterFactory, world

pytestmark = pytest.mark.django_db


def has(role: Role, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS[role]


def expected_pages(role: Role, own: bool) -> set[str]:
    """The pages a member of `role` with agency scope may open, in the shelter's agency (own) or another."""
    operate = own and has(role, Perm.SHELTER_OPERATE)
    oversee = own and has(role, Perm.SHELTER_OVERSEE)
    stats = has(role, Perm.STATS_VIEW)
    pages: set[str] = set()
    if has(role, Perm.SHELTER_OPERATE) or has(role, Perm.SHELTER_OVERSEE) or stats:
        pages.add("list")
    if stats:
        pages.add("national")
    if operate or oversee or stats:
        pages |= {"detail", "occupancy"}
    if operate or oversee:
        pages |= {"address", "residents", "admit", "placement", "transfer"}
    if oversee:
        pages |= {"edit", "extend"}
    if has(role, Perm.SHELTER_OVERSEE):
        pages.add("create")  # a shelter of their own agency (both agencies here are shelter agencies)
    if operate:
        pages.add("discharge")
    return pages


def urls(w, placement: Placement) -> dict[str, tuple[str, str, dict]]:
    s, p = w.shelter.public_id, placement.public_id
    extend = {"decision": "refuse", "reason": "Not needed.", "version": placement.version}
    discharge = {
        "reason": "completed",
        "discharged_on": timezone.localdate().isoformat(),
        "version": placement.version,
    }
    return {
        "list": ("get", reverse("shelters:list"), {}),
        "create": ("get", reverse("shelters:create"), {}),
        "national": ("get", reverse("shelters:national"), {}),
        "detail": ("get", reverse("shelters:detail", args=[s]), {}),
        "occupancy": ("get", reverse("shelters:occupancy", args=[s]), {}),
        "address": ("get", reverse("shelters:address", args=[s]), {}),
        "residents": ("get", reverse("shelters:residents", args=[s]), {}),
        "admit": ("get", reverse("shelters:admit", args=[s]), {}),
        "edit": ("get", reverse("shelters:edit", args=[s]), {}),
        "placement": ("get", reverse("shelters:placement", args=[p]), {}),
        "transfer": ("get", reverse("shelters:transfer", args=[p]), {}),
        "extend": ("post", reverse("shelters:extend", args=[p]), extend),
        "discharge": ("post", reverse("shelters:discharge", args=[p]), discharge),
    }


@pytest.mark.parametrize("own", [True, False], ids=["own_agency", "other_agency"])
@pytest.mark.parametrize("role", list(Role))
def test_every_page_for_every_role_of_this_and_another_agency(role, own):
    w = world()
    placement = w.admit()
    user = member(role, agency=w.agency if own else w.other_agency)
    client = logged_in_client(user)
    allowed = expected_pages(role, own)
    # Acts last: they change the placement.
    for name, (method, url, data) in sorted(urls(w, placement).items(), key=lambda i: i[1][0] == "post"):
        response = getattr(client, method)(url, data)
        if name in allowed:
            assert response.status_code in (200, 302), (name, response.status_code)
        else:
            assert response.status_code == 404, (name, response.status_code)
    if "address" not in allowed:
        assert not AuditEntry.objects.filter(action="shelter.address_read", actor=user.public_id).exists()


def test_a_national_coordinator_and_an_analyst():
    w = world()
    placement = w.admit()
    coordinator = logged_in_client(w.coordinator)
    for name, (method, url, _data) in urls(w, placement).items():
        if method == "get":
            assert coordinator.get(url).status_code == 200, name
    assert coordinator.get(reverse("shelters:create")).status_code == 200
    analyst = logged_in_client(w.analyst)
    for name in ("list", "national", "detail", "occupancy"):
        assert analyst.get(urls(w, placement)[name][1]).status_code == 200, name
    for name in ("address", "residents", "admit", "placement", "transfer", "edit"):
        assert analyst.get(urls(w, placement)[name][1]).status_code == 404, name
    assert analyst.get(reverse("shelters:create")).status_code == 404
    assert logged_in_client(w.staff).get(reverse("shelters:create")).status_code == 404


def test_the_pages_need_a_login():
    from django.test import Client

    response = Client().get(reverse("shelters:list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- what each one sees -------------------------------------------------------------------------------------


def test_the_staff_see_their_residents_minimum_data_and_nothing_else_of_the_case():
    w = world()
    placement = w.admit()
    page = logged_in_client(w.staff).get(reverse("shelters:residents", args=[w.shelter.public_id]))
    text = page.content.decode()
    assert "Nino" in text and placement.case.reference in text and "Georgian" in text
    for secret in ("Beridzeshvili", "1994", "13AB778421", "+995555010203", "Recruited in Batumi", ADDRESS):
        assert secret not in text
    placement_page = logged_in_client(w.staff).get(reverse("shelters:placement", args=[placement.public_id]))
    text = placement_page.content.decode()
    assert "Nino" in text and "Beridzeshvili" not in text and "Recruited" not in text
    # The case page itself is not linked for the staff.
    assert reverse("cases:detail", args=[placement.case.public_id]) not in text


def test_the_coordinator_sees_the_residents_without_their_names():
    w = world()
    placement = w.admit()
    text = (
        logged_in_client(w.coordinator).get(reverse("shelters:residents", args=[w.shelter.public_id])).content
    )
    assert placement.case.reference.encode() in text and b"Nino" not in text


def test_the_address_page_shows_the_address_and_audits_the_read_and_the_detail_page_does_not():
    w = world()
    client = logged_in_client(w.staff)
    detail = client.get(reverse("shelters:detail", args=[w.shelter.public_id]))
    assert ADDRESS.encode() not in detail.content
    assert not AuditEntry.objects.filter(action="shelter.address_read").exists()
    page = client.get(reverse("shelters:address", args=[w.shelter.public_id]))
    assert ADDRESS.encode() in page.content
    assert AuditEntry.objects.filter(action="shelter.address_read", actor=w.staff.public_id).count() == 1


def test_the_list_and_occupancy_pages_never_show_the_address():
    w = world()
    w.admit()
    client = logged_in_client(w.coordinator)
    for url in (
        reverse("shelters:list"),
        reverse("shelters:national"),
        reverse("shelters:occupancy", args=[w.shelter.public_id]) + "?period=weeks",
        reverse("shelters:national") + "?period=months",
    ):
        response = client.get(url)
        assert response.status_code == 200 and ADDRESS.encode() not in response.content
    national = client.get(reverse("shelters:national")).content.decode()
    assert "<svg" in national and 'id="occupancy-series"' in national


def test_an_unknown_period_falls_back_to_days():
    w = world()
    response = logged_in_client(w.analyst).get(reverse("shelters:national") + "?period=<script>")
    assert response.status_code == 200 and b"<script>" not in response.content


def test_the_case_page_shows_the_shelter_but_never_its_address():
    w = world()
    placement = w.admit()
    page = logged_in_client(w.case_worker).get(reverse("cases:detail", args=[placement.case.public_id]))
    text = page.content.decode()
    assert 'id="shelter-panel"' in text and w.shelter.name in text
    assert ADDRESS not in text and "Hidden Lane" not in text
    # Not linked: the case worker does not see placements.
    assert reverse("shelters:placement", args=[placement.public_id]) not in text


# --- acts through the forms ------------------------------------------------------------------------------------


def test_staff_admit_from_an_accepted_referral_and_a_full_category_is_refused_on_the_form():
    w = world(capacity_men=1)
    first, second = w.referral(), w.referral()
    client = logged_in_client(w.staff)
    url = reverse("shelters:admit", args=[w.shelter.public_id])
    form = client.get(url).content.decode()
    assert first.case.reference in form and "accept_over_capacity" not in form
    today = timezone.localdate().isoformat()
    response = client.post(url, {"referral": first.public_id, "category": "men", "admitted_on": today})
    assert response.status_code == 302
    placement = Placement.objects.get(referral=first)
    assert response["Location"] == reverse("shelters:placement", args=[placement.public_id])
    refused = client.post(url, {"referral": second.public_id, "category": "men", "admitted_on": today})
    assert refused.status_code == 200
    assert "has no free place for men: 1 of 1 places are taken" in refused.content.decode()
    # Ticking "over capacity" is not even possible for staff: the field is ignored.
    refused = client.post(
        url,
        {
            "referral": second.public_id,
            "category": "men",
            "admitted_on": today,
            "accept_over_capacity": "on",
            "over_capacity_reason": "Please",
        },
    )
    assert "has no free place" in refused.content.decode()
    assert Placement.objects.count() == 1


def test_a_coordinator_admits_over_capacity_through_the_form():
    w = world(capacity_men=0)
    referral = w.referral()
    client = logged_in_client(w.coordinator)
    url = reverse("shelters:admit", args=[w.shelter.public_id])
    assert "accept_over_capacity" in client.get(url).content.decode()
    data = {
        "referral": referral.public_id,
        "category": "men",
        "admitted_on": timezone.localdate().isoformat(),
    }
    assert "has no free place" in client.post(url, data).content.decode()
    no_reason = client.post(url, {**data, "accept_over_capacity": "on"})
    assert "Say why the admission is accepted over capacity" in no_reason.content.decode()
    done = client.post(
        url, {**data, "accept_over_capacity": "on", "over_capacity_reason": "Night, nowhere else."}
    )
    assert done.status_code == 302
    assert AuditEntry.objects.filter(action="placement.over_capacity_accepted").count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"category": "elderly"}, "category"),
        ({"referral": "aaaaaaaaaaaaaaaaaaaaaaaa"}, "referral"),
        ({"admitted_on": "not a date"}, "admitted_on"),
    ],
)
def test_bad_admission_input_is_shown_on_the_form(data, field):
    w = world()
    referral = w.referral()
    good = {
        "referral": referral.public_id,
        "category": "women",
        "admitted_on": timezone.localdate().isoformat(),
    }
    response = logged_in_client(w.staff).post(
        reverse("shelters:admit", args=[w.shelter.public_id]), {**good, **data}
    )
    assert response.status_code == 200 and field in response.context["form"].errors
    assert not Placement.objects.exists()


def test_an_admission_dated_tomorrow_is_refused_on_the_form():
    w = world()
    referral = w.referral()
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = logged_in_client(w.staff).post(
        reverse("shelters:admit", args=[w.shelter.public_id]),
        {"referral": referral.public_id, "category": "women", "admitted_on": tomorrow},
    )
    assert "admitted_on" in response.context["form"].errors and not Placement.objects.exists()


def test_discharge_before_admission_is_refused_on_the_form():
    w = world()
    placement = w.admit()
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    response = logged_in_client(w.staff).post(
        reverse("shelters:discharge", args=[placement.public_id]),
        {"reason": "completed", "discharged_on": yesterday, "version": placement.version},
    )
    assert response.status_code == 400
    assert "cannot leave before they were admitted" in response.content.decode()
    placement.refresh_from_db()
    assert placement.is_current


def test_a_stale_form_is_refused():
    w = world()
    placement = w.admit()
    response = logged_in_client(w.staff).post(
        reverse("shelters:discharge", args=[placement.public_id]),
        {"reason": "completed", "discharged_on": timezone.localdate().isoformat(), "version": 99},
    )
    assert response.status_code == 400 and "Someone else changed this placement" in response.content.decode()


@override_settings(OPENNRM_COUNTRY="MD")
def test_the_coordinator_extends_a_stay_on_the_placement_page_and_not_beyond_the_maximum():
    w = world()
    placement = w.admit()
    client = logged_in_client(w.coordinator)
    url = reverse("shelters:extend", args=[placement.public_id])
    page = client.get(reverse("shelters:placement", args=[placement.public_id])).content.decode()
    assert 'action="' + url + '"' in page
    beyond = (placement.stay_maximum + dt.timedelta(days=1)).isoformat()
    refused = client.post(url, {"decision": "extend", "until": beyond, "reason": "Trial.", "version": 1})
    assert refused.status_code == 400 and "cannot be extended beyond" in refused.content.decode()
    missing = client.post(url, {"decision": "extend", "until": "", "reason": "Trial.", "version": 1})
    assert missing.status_code == 400 and "Give the date the stay is extended to." in missing.content.decode()
    done = client.post(
        url,
        {"decision": "extend", "until": placement.stay_maximum.isoformat(), "reason": "Trial.", "version": 1},
    )
    assert done.status_code == 302
    placement.refresh_from_db()
    assert placement.extended_until == placement.stay_maximum


def test_staff_move_a_person_to_another_shelter_of_their_agency():
    w = world()
    second = ShelterFactory(agency=w.agency, region=w.shelter.region)
    placement = w.admit()
    client = logged_in_client(w.staff)
    url = reverse("shelters:transfer", args=[placement.public_id])
    form = client.get(url).content.decode()
    assert second.name in form and w.other_shelter.name not in form
    response = client.post(
        url,
        {
            "to_shelter": second.public_id,
            "category": "women",
            "transferred_on": timezone.localdate().isoformat(),
            "version": placement.version,
        },
    )
    new = Placement.objects.get(shelter=second)
    assert response.status_code == 302 and response["Location"] == reverse(
        "shelters:placement", args=[new.public_id]
    )
    old_page = client.get(reverse("shelters:placement", args=[placement.public_id])).content.decode()
    assert "Transferred to another shelter" in old_page
    assert reverse("shelters:placement", args=[new.public_id]) in old_page and ADDRESS not in old_page
    new_page = client.get(reverse("shelters:placement", args=[new.public_id])).content.decode()
    assert "Moved from" in new_page and w.shelter.name in new_page
    # Another agency's shelter cannot be chosen, even by its id.
    other = w.admit(category="children")
    response = client.post(
        reverse("shelters:transfer", args=[other.public_id]),
        {
            "to_shelter": w.other_shelter.public_id,
            "category": "children",
            "transferred_on": timezone.localdate().isoformat(),
            "version": other.version,
        },
    )
    assert response.status_code == 200 and "to_shelter" in response.context["form"].errors


def test_a_coordinator_records_and_changes_a_shelter_and_negative_places_are_refused():
    w = world()
    client = logged_in_client(w.coordinator)
    data = {
        "agency": w.agency.public_id,
        "name": "Gori shelter",
        "region": "GE-SK",
        "address": "3 Quiet Street",
        "capacity_women": "-2",
        "capacity_men": "1",
        "capacity_children": "0",
        "capacity_families": "0",
        "is_active": "on",
    }
    refused = client.post(reverse("shelters:create"), data)
    assert refused.status_code == 200 and "capacity_women" in refused.context["form"].errors
    assert not Shelter.objects.filter(name="Gori shelter").exists()
    done = client.post(reverse("shelters:create"), {**data, "capacity_women": "5"})
    shelter = Shelter.objects.get(name="Gori shelter")
    assert (
        done["Location"] == reverse("shelters:detail", args=[shelter.public_id])
        and shelter.capacity_women == 5
    )
    edit = reverse("shelters:edit", args=[shelter.public_id])
    assert b"3 Quiet Street" in client.get(edit).content
    assert AuditEntry.objects.filter(action="shelter.address_read", details__via="edit").count() == 1
    data.pop("agency")
    client.post(edit, {**data, "capacity_women": "6"})
    shelter.refresh_from_db()
    assert shelter.capacity_women == 6


def test_a_coordinator_with_agency_scope_oversees_only_their_agencys_shelters():
    w = world()
    placement = w.admit(shelter=w.other_shelter)
    local = member(Role.COORDINATOR, agency=w.agency, scope=Scope.AGENCY)
    client = logged_in_client(local)
    assert client.get(reverse("shelters:address", args=[w.shelter.public_id])).status_code == 200
    # Another agency's shelter: its public facts and occupancy (statistics), nothing else.
    assert client.get(reverse("shelters:detail", args=[w.other_shelter.public_id])).status_code == 200
    assert client.get(reverse("shelters:address", args=[w.other_shelter.public_id])).status_code == 404
    assert client.get(reverse("shelters:residents", args=[w.other_shelter.public_id])).status_code == 404
    assert client.get(reverse("shelters:placement", args=[placement.public_id])).status_code == 404


def test_the_home_page_counts_people_placed_stays_ending_and_referrals_waiting():
    w = world()
    placement = w.admit()
    w.referral()
    Placement.objects.filter(pk=placement.pk).update(stay_limit=timezone.localdate() + dt.timedelta(days=2))
    text = logged_in_client(w.staff).get("/").content.decode()
    assert 'id="home-shelters-heading"' in text
    assert "1</strong> person placed now" in text
    assert "1</strong> stay reaches its limit within a week" in text
    assert "1</strong> accepted referral waiting for a place" in text
    analyst = logged_in_client(w.analyst).get("/").content.decode()
    assert "person placed now" in analyst and "waiting for a place" not in analyst
    other = logged_in_client(w.other_staff).get("/").content.decode()
    assert "0</strong> people placed now" in other and "0</strong> accepted referrals waiting" in other
    assert 'id="home-shelters-heading"' not in logged_in_client(w.case_worker).get("/").content.decode()
