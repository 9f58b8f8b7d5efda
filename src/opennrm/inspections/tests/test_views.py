"""The inspection pages for every role: the list, recording and changing an inspection, screening a worker (the
draft saved at every change, the live result), the referral, and the statistics.

Allowed roles succeed; other roles get 404, like a labour inspector of another agency, like an id that does not
exist.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import logged_in_client
from opennrm.cases import screening as instruments
from opennrm.cases.models import Case, Notification, Person
from opennrm.core.models import AuditEntry
from opennrm.inspections import services
from opennrm.inspections.models import Inspection, ScreeningStatus, WorkerScreening
from opennrm.inspections.tests.factories import (
    EMPLOYER,
    FINDINGS,
    TAX_ID,
    negative_found,
    presumed_found,
    staff,
    world,
)

pytestmark = pytest.mark.django_db

MISSING = "a" * 24
# The scope each role usually has: national for the roles that oversee, agency for the others.
SCOPE = {
    Role.COORDINATOR: Scope.NATIONAL,
    Role.ANALYST: Scope.NATIONAL,
    Role.DECISION_MAKER: Scope.NATIONAL,
    Role.ADMINISTRATOR: Scope.NATIONAL,
    Role.AUDITOR: Scope.NATIONAL,
}
STANDING_NOTE = "This conclusion is advice to the decision maker, never the decision."


def records(role: Role) -> bool:
    return Perm.INSPECTION_RECORD in ROLE_PERMISSIONS[role]


def oversees(role: Role) -> bool:
    return {Perm.STATS_VIEW, Perm.CASE_VIEW} <= ROLE_PERMISSIONS[role] and SCOPE.get(role) == Scope.NATIONAL


def client_for(role: Role, agency) -> object:
    return logged_in_client(staff(role, agency, SCOPE.get(role, Scope.AGENCY)))


def form_data(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "date": (timezone.localdate()).isoformat(),
        "employer_name": EMPLOYER,
        "tax_id": TAX_ID,
        "registration": "",
        "sector": "f_construction",
        "region": "GE-TB",
        "joint_with_police": "on",
        "workers_present": "12",
        "workers_interviewed": "4",
        "findings": FINDINGS,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def posted_found(screening: WorkerScreening, found: set[str], **extra: object) -> dict[str, object]:
    return {"version": screening.version, "found": sorted(found), **extra}


def both_404(client, path: str, hidden: str, method: str = "get", data: dict | None = None) -> None:
    call = getattr(client, method)
    assert call(path, data or {}).status_code == 404
    assert call(path.replace(hidden, MISSING), data or {}).status_code == 404


# --- role matrix: who opens which page ----------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_the_list_for_inspectors_and_national_oversight(role):
    w = world()
    w.inspect()
    response = client_for(role, w.labour).get(reverse("inspections:list"))
    assert response.status_code == (200 if records(role) or oversees(role) else 404)
    if response.status_code == 200:
        assert reverse("inspections:detail", args=[w.inspections[0].public_id]) in response.content.decode()


@pytest.mark.parametrize("role", list(Role))
def test_only_inspectors_record_an_inspection(role):
    w = world()
    client = client_for(role, w.labour)
    get = client.get(reverse("inspections:create"))
    post = client.post(reverse("inspections:create"), form_data())
    assert (get.status_code, post.status_code) == ((200, 302) if records(role) else (404, 404))
    assert Inspection.objects.count() == (1 if records(role) else 0)


def test_a_first_responder_of_another_kind_of_agency_records_no_inspection():
    w = world()
    police = logged_in_client(w.officer)
    assert police.get(reverse("inspections:create")).status_code == 404
    assert police.post(reverse("inspections:create"), form_data()).status_code == 404
    assert police.get(reverse("inspections:list")).status_code == 404


@pytest.mark.parametrize("role", list(Role))
def test_an_inspection_page_for_each_role(role):
    w = world()
    inspection = w.inspect()
    client = client_for(role, w.labour)
    path = reverse("inspections:detail", args=[inspection.public_id])
    if records(role) or oversees(role):
        html = client.get(path).content.decode()
        assert escape("K'akheti") in html
        assert (EMPLOYER in html, FINDINGS in html) == (records(role), records(role))
    else:
        both_404(client, path, inspection.public_id)


@pytest.mark.parametrize("role", list(Role))
def test_acting_on_an_inspection_is_for_its_inspectors_only(role):
    w = world(inspector_scope=Scope.AGENCY)
    inspection = w.inspect()
    screening = w.screen(inspection, found=presumed_found())
    client = client_for(role, w.labour)
    acts = [
        ("get", reverse("inspections:edit", args=[inspection.public_id]), None, inspection.public_id),
        ("get", reverse("inspections:screen", args=[inspection.public_id]), None, inspection.public_id),
        ("get", reverse("inspections:refer", args=[screening.public_id]), None, screening.public_id),
        ("post", reverse("inspections:screening_save", args=[screening.public_id]), {}, screening.public_id),
        (
            "post",
            reverse("inspections:screening", args=[screening.public_id]),
            {"action": "save"},
            screening.public_id,
        ),
    ]
    for method, path, extra, hidden in acts:
        data = (
            posted_found(WorkerScreening.objects.get(pk=screening.pk), presumed_found(), **extra)
            if extra is not None
            else None
        )
        if records(role):
            assert getattr(client, method)(path, data or {}).status_code in (200, 302), path
        else:
            both_404(client, path, hidden, method, data)
    screening_page = client.get(reverse("inspections:screening", args=[screening.public_id]))
    assert screening_page.status_code == (200 if records(role) or oversees(role) else 404)
    if oversees(role):
        assert (
            "hx-post" not in screening_page.content.decode() and "disabled" in screening_page.content.decode()
        )


@pytest.mark.parametrize("role", list(Role))
def test_statistics_for_the_roles_that_see_statistics(role):
    w = world()
    w.inspect()
    response = client_for(role, w.labour).get(reverse("inspections:stats"))
    assert response.status_code == (200 if Perm.STATS_VIEW in ROLE_PERMISSIONS[role] else 404)


def test_an_inspector_of_another_agency_gets_404_on_every_page_of_the_inspection():
    w = world()
    inspection = w.inspect()
    screening = w.screen(inspection, found=presumed_found())
    stranger = logged_in_client(w.other_inspector)
    for name, hidden in (
        ("detail", inspection),
        ("edit", inspection),
        ("screen", inspection),
        ("screening", screening),
        ("refer", screening),
    ):
        both_404(stranger, reverse(f"inspections:{name}", args=[hidden.public_id]), hidden.public_id)
    both_404(
        stranger,
        reverse("inspections:screening_save", args=[screening.public_id]),
        screening.public_id,
        "post",
        posted_found(screening, set()),
    )
    both_404(
        stranger,
        reverse("inspections:refer", args=[screening.public_id]),
        screening.public_id,
        "post",
        {"version": 2, "consent": "yes", "given_name": "X", "owning_agency": w.fund.public_id},
    )
    assert reverse("inspections:detail", args=[inspection.public_id]) not in (
        stranger.get(reverse("inspections:list")).content.decode()
    )
    assert set(WorkerScreening.objects.get(pk=screening.pk).found) == presumed_found()
    assert Case.objects.count() == 0


def test_own_scope_sees_the_inspections_taken_part_in_and_agency_scope_all_of_the_agency():
    w = world()
    colleague_own = staff(Role.FIRST_RESPONDER, w.labour, Scope.OWN)
    colleague_agency = staff(Role.FIRST_RESPONDER, w.labour, Scope.AGENCY)
    alone = w.inspect()
    joint = w.inspect(inspectors=[w.inspector, colleague_own])
    own = logged_in_client(colleague_own)
    assert own.get(reverse("inspections:detail", args=[alone.public_id])).status_code == 404
    assert own.get(reverse("inspections:detail", args=[joint.public_id])).status_code == 200
    agency = logged_in_client(colleague_agency)
    assert agency.get(reverse("inspections:detail", args=[alone.public_id])).status_code == 200


# --- recording an inspection -------------------------------------------------------------------------------


def test_recording_an_inspection_and_reading_its_employer_is_audited():
    w = world()
    client = logged_in_client(w.inspector)
    response = client.post(reverse("inspections:create"), form_data())
    inspection = Inspection.objects.get()
    assert response["Location"] == reverse("inspections:detail", args=[inspection.public_id])
    assert inspection.joint_with_police and inspection.identifiers == [{"type": "tax_id", "value": TAX_ID}]
    html = client.get(response["Location"]).content.decode()
    assert EMPLOYER in html and TAX_ID in html and FINDINGS in html
    read = AuditEntry.objects.get(action="inspection.employer.read")
    assert read.fields == ["employer_name", "employer_identifiers", "findings"]
    assert read.target_id == inspection.public_id


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        (
            {"workers_interviewed": "13"},
            "workers_interviewed",
            "More workers interviewed (13) than present (12).",
        ),
        ({"date": "2099-01-01"}, "date", "cannot be in the future"),
        ({"sector": "z_smuggling"}, "sector", "Select a valid choice"),
        ({"workers_present": "-3"}, "workers_present", "greater than or equal to 0"),
        ({"employer_name": ""}, "employer_name", "This field is required"),
    ],
)
def test_a_bad_inspection_is_refused_on_its_field_and_nothing_is_saved(changes, field, text):
    w = world()
    response = logged_in_client(w.inspector).post(reverse("inspections:create"), form_data(**changes))
    assert response.status_code == 200
    html = response.content.decode()
    assert escape(text) in html or text in html
    assert f'id="id_{field}_error"' in html
    assert Inspection.objects.count() == 0


def test_changing_an_inspection_over_someone_elses_change_is_refused():
    w = world()
    inspection = w.inspect()
    client = logged_in_client(w.inspector)
    path = reverse("inspections:edit", args=[inspection.public_id])
    assert EMPLOYER in client.get(path).content.decode()
    ok = client.post(path, form_data(workers_interviewed="10", version="1"))
    assert ok.status_code == 302
    stale = client.post(path, form_data(workers_interviewed="2", version="1"))
    assert stale.status_code == 200 and "Someone else changed this" in stale.content.decode()
    assert Inspection.objects.get().workers_interviewed == 10


# --- screening a worker -----------------------------------------------------------------------------------------


def test_starting_a_screening_needs_no_name_and_opens_the_chosen_list():
    w = world()
    inspection = w.inspect()
    client = logged_in_client(w.inspector)
    page = client.get(reverse("inspections:screen", args=[inspection.public_id])).content.decode()
    ilo = instruments.latest("ilo_forced_labour_11_2012")
    delphi = instruments.latest("ilo_ec_delphi_2009")
    key = f"{ilo.id}|{ilo.version}|adult_forced_labour"
    assert key in page and f"{delphi.id}|{delphi.version}|child_labour" in page
    assert "given_name" not in page
    response = client.post(
        reverse("inspections:screen", args=[inspection.public_id]),
        {"age": "41", "sex": "feminine", "citizenship": "AZ", "choice": key},
    )
    screening = WorkerScreening.objects.get()
    assert response["Location"] == reverse("inspections:screening", args=[screening.public_id])
    assert (screening.list_id, screening.age, screening.citizenship) == ("adult_forced_labour", 41, "AZ")


def test_a_child_with_an_adult_list_is_refused_on_the_list_field():
    w = world()
    inspection = w.inspect()
    delphi = instruments.latest("ilo_ec_delphi_2009")
    response = logged_in_client(w.inspector).post(
        reverse("inspections:screen", args=[inspection.public_id]),
        {"age": "15", "sex": "feminine", "choice": f"{delphi.id}|{delphi.version}|adult_labour"},
    )
    html = response.content.decode()
    assert response.status_code == 200 and "a child: use a list for children" in html
    assert 'id="id_choice_error"' in html
    assert WorkerScreening.objects.count() == 0


def test_the_screening_page_saves_as_it_is_filled_and_shows_each_dimension():
    w = world()
    screening = w.screen()
    client = logged_in_client(w.inspector)
    path = reverse("inspections:screening", args=[screening.public_id])
    page = client.get(path).content.decode()
    save = reverse("inspections:screening_save", args=[screening.public_id])
    assert f'hx-post="{save}"' in page and 'hx-trigger="change delay:400ms"' in page
    assert STANDING_NOTE in page and "Unverified instrument" in page
    assert 'id="dimension-status-exploitative_conditions"' in page

    response = client.post(save, posted_found(screening, presumed_found()), HTTP_HX_REQUEST="true")
    fragment = response.content.decode()
    assert response.status_code == 200
    assert "Conclusion: Presumed victim" in fragment and "Draft saved" in fragment
    assert re.search(r'id="screening-version" value="2" hx-swap-oob="true"', fragment)
    assert re.search(r'id="dimension-status-deceptive_recruitment" hx-swap-oob="true">.*Positive', fragment)
    assert WorkerScreening.objects.get().conclusion == "presumed_victim"

    # Interrupted: the page reloaded shows every tick and the result as saved.
    page = client.get(path).content.decode()
    for indicator in presumed_found():
        assert re.search(rf'value="{indicator}" id="ind-{indicator}" checked', page)
    assert "Conclusion: Presumed victim" in page and 'id="screening-version" value="2"' in page


def test_a_stale_or_bad_draft_says_it_was_not_saved_and_changes_nothing():
    w = world()
    screening = w.screen(found=negative_found())
    client = logged_in_client(w.inspector)
    save = reverse("inspections:screening_save", args=[screening.public_id])
    stale = client.post(save, {"version": 1, "found": sorted(presumed_found())}, HTTP_HX_REQUEST="true")
    assert "Not saved:" in stale.content.decode() and "Someone else changed this" in stale.content.decode()
    assert 'id="screening-version" value="2"' in stale.content.decode()  # the next tick can be saved
    bad = client.post(save, {"version": 2, "found": ["ex_made_up"]}, HTTP_HX_REQUEST="true")
    assert "Not saved:" in bad.content.decode() and "ex_made_up" in bad.content.decode()
    assert set(WorkerScreening.objects.get().found) == negative_found()


def test_without_javascript_the_draft_is_saved_and_completed_through_the_page():
    w = world()
    screening = w.screen()
    client = logged_in_client(w.inspector)
    path = reverse("inspections:screening", args=[screening.public_id])
    saved = client.post(path, posted_found(screening, negative_found(), action="save"))
    assert saved.status_code == 302 and set(WorkerScreening.objects.get().found) == negative_found()
    done = client.post(path, {"version": 2, "found": sorted(negative_found()), "action": "complete"})
    assert done.status_code == 302 and WorkerScreening.objects.get().status == ScreeningStatus.COMPLETED
    page = client.get(path).content.decode()
    assert "Complete the screening" not in page and "Refer this worker" in page


# --- referral ------------------------------------------------------------------------------------------------


def test_referral_with_consent_creates_the_case_with_the_screening():
    w = world()
    screening = w.screen(found=presumed_found())
    client = logged_in_client(w.inspector)
    path = reverse("inspections:refer", args=[screening.public_id])
    assert "Does the worker agree" in client.get(path).content.decode()
    response = client.post(
        path,
        {
            "version": 2,
            "consent": "yes",
            "given_name": "Aziz",
            "family_name": "Demo",
            "age_estimate": "34",
            "owning_agency": w.fund.public_id,
        },
    )
    case = Case.objects.get()
    assert response["Location"] == reverse("inspections:detail", args=[screening.inspection.public_id])
    detail = client.get(response["Location"]).content.decode()
    assert case.reference in detail and "The police partner was alerted." in detail
    assert case.screenings.get().conclusion == "presumed_victim"


def test_an_adult_who_says_no_is_notified_and_the_name_typed_is_not_kept():
    w = world()
    screening = w.screen(found=presumed_found())
    response = logged_in_client(w.inspector).post(
        reverse("inspections:refer", args=[screening.public_id]),
        {"version": 2, "consent": "no", "given_name": "Aziz", "owning_agency": w.fund.public_id},
    )
    assert response.status_code == 302
    assert Notification.objects.count() == 1 and Person.objects.count() == 0
    assert WorkerScreening.objects.get().status == ScreeningStatus.NOTIFIED


def test_a_referral_without_a_name_is_refused_on_the_name():
    w = world()
    screening = w.screen(found=presumed_found())
    response = logged_in_client(w.inspector).post(
        reverse("inspections:refer", args=[screening.public_id]),
        {"version": 2, "consent": "yes", "given_name": "", "owning_agency": w.fund.public_id},
    )
    html = response.content.decode()
    assert (
        response.status_code == 200
        and "given name to refer them" in html
        and 'id="id_given_name_error"' in html
    )
    assert Case.objects.count() == 0 and Notification.objects.count() == 0


# --- statistics ----------------------------------------------------------------------------------------------


def test_statistics_count_inspections_screenings_and_referrals_by_sector_and_region():
    w = world()
    farm = w.inspect(joint_with_police=True)
    w.inspect(sector="f_construction", region="GE-TB")
    positive = w.screen(farm, found=presumed_found())
    services.refer_worker(
        actor=w.inspector,
        screening=positive,
        consent_given=True,
        identity=services.IntakeData(given_name="Aziz"),
        owning_agency=w.fund,
    )
    negative = w.screen(farm, found=negative_found())
    services.complete_screening(actor=w.inspector, screening=negative, expected_version=2)
    w.screen(farm)  # a draft: not counted as screened
    coordinator = logged_in_client(staff(Role.COORDINATOR, w.fund, Scope.NATIONAL))
    response = coordinator.get(reverse("inspections:stats"), {"year": farm.date.year})
    stats = response.context["stats"]
    assert (stats.inspections, stats.joint, stats.screened, stats.drafts) == (2, 1, 2, 1)
    assert (stats.presumed, stats.referred, stats.notified) == (1, 1, 0)
    sectors = {row.key: row.values for row in stats.by_sector.rows}
    assert sectors["a_agriculture_forestry_and_fishing"]["presumed"] == 1
    assert sectors["f_construction"] == {"inspections": 1, "joint": 0, "interviewed": 6}
    outcomes = {row.key: row.values["cases"] for row in stats.outcomes.rows}
    assert outcomes["screened"] == 1
    html = response.content.decode()
    assert "<caption>Inspections and workers by sector</caption>" in html
    assert '<meter class="stat-bar" min="0" max="1" value="1" aria-hidden="true">' in html
    assert EMPLOYER not in html and "Aziz" not in html


# --- the case page -----------------------------------------------------------------------------------------


def test_the_case_page_says_which_inspection_the_case_came_from_without_the_employer():
    w = world()
    screening = w.screen(found=presumed_found())
    done = services.refer_worker(
        actor=w.inspector,
        screening=screening,
        consent_given=True,
        identity=services.IntakeData(given_name="Aziz"),
        owning_agency=w.fund,
    )
    inspection_link = reverse("inspections:detail", args=[screening.inspection.public_id])
    worker_page = logged_in_client(w.case_worker).get(reverse("cases:detail", args=[done.case.public_id]))
    html = worker_page.content.decode()
    assert "From a labour inspection" in html and screening.pseudonym in html
    assert EMPLOYER not in html and inspection_link not in html  # the case worker does not see inspections
    inspector_page = logged_in_client(w.inspector).get(reverse("cases:detail", args=[done.case.public_id]))
    assert inspection_link in inspector_page.content.decode()
