"""The screening page: who may screen, the list chosen for the person, the live result (not saved), saving with the
exact instrument version, and the screening section of the case page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role
from opennrm.accounts.tests.factories import logged_in_client, member
from opennrm.cases import screening as instruments
from opennrm.cases import services
from opennrm.cases.choices import CaseStatus
from opennrm.cases.models import Screening
from opennrm.cases.tests.test_services import DELPHI, presumed_found, refer, screen, worker_and_agency

pytestmark = pytest.mark.django_db

STANDING_NOTE = "This conclusion is advice to the decision maker, never the decision."
ILO_11 = "ilo_forced_labour_11_2012"


def edits(role: Role) -> bool:
    return Perm.CASE_EDIT in ROLE_PERMISSIONS[role]


def posted(instrument: instruments.Instrument, list_id: str, found: set[str], **extra: str) -> dict:
    return {
        "instrument": instrument.id,
        "version": instrument.version,
        "list": list_id,
        "found": sorted(found),
        **extra,
    }


# --- who may screen ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_only_case_workers_of_the_agency_open_the_screening_page(role):
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    client = logged_in_client(member(role, agency=agency))
    response = client.get(reverse("cases:screen", args=[case.public_id]))
    assert response.status_code == (200 if edits(role) else 404)


@pytest.mark.parametrize("role", list(Role))
def test_only_case_workers_get_a_preview_or_save(role):
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    instrument, found = presumed_found()
    client = logged_in_client(member(role, agency=agency))
    data = posted(instrument, "adult_labour", found)
    preview = client.post(reverse("cases:screen_preview", args=[case.public_id]), data)
    save = client.post(reverse("cases:screen", args=[case.public_id]), {**data, "action": "save"})
    assert (preview.status_code, save.status_code) == ((200, 302) if edits(role) else (404, 404))
    assert Screening.objects.count() == (1 if edits(role) else 0)


def test_a_case_worker_of_another_agency_gets_404_everywhere():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    instrument, found = presumed_found()
    stranger = logged_in_client(member(Role.CASE_WORKER))
    data = posted(instrument, "adult_labour", found)
    assert stranger.get(reverse("cases:screen", args=[case.public_id])).status_code == 404
    assert stranger.post(reverse("cases:screen_preview", args=[case.public_id]), data).status_code == 404
    assert (
        stranger.post(reverse("cases:screen", args=[case.public_id]), {**data, "action": "save"}).status_code
        == 404
    )
    assert Screening.objects.count() == 0


# --- the page ----------------------------------------------------------------------------------------------------


def test_an_adult_exploited_for_labour_gets_the_adult_labour_list_flagged_unverified():
    worker, agency = worker_and_agency()
    case = refer(worker, agency, age=34)
    page = logged_in_client(worker).get(reverse("cases:screen", args=[case.public_id])).content.decode()
    instrument = instruments.latest(DELPHI)
    adult = instrument.get_list("adult_labour")
    assert STANDING_NOTE in page
    assert "Unverified instrument" in page
    assert escape(instrument.verification.summary.en) in page
    assert "Provenance" in page and escape(instrument.provenance.sources[0].title) in page
    assert escape(adult.title.en) in page
    for dimension in adult.dimensions:
        assert f"<legend>{escape(dimension.label.en)}" in page
    assert f'value="{adult.dimensions[0].indicators[0].id}"' in page
    assert 'hx-post="' + reverse("cases:screen_preview", args=[case.public_id]) + '"' in page
    assert '<p id="screening-live" class="visually-hidden" aria-live="polite"></p>' in page
    child_only = {i.id for i in instrument.get_list("child_labour").indicators} - {
        i.id for i in adult.indicators
    }
    assert not any(f'value="{i}"' in page for i in child_only)


def test_a_child_gets_the_child_list():
    worker, agency = worker_and_agency()
    case = refer(worker, agency, age=14)
    page = logged_in_client(worker).get(reverse("cases:screen", args=[case.public_id])).content.decode()
    assert 'name="list" value="child_labour"' in page


def test_an_unknown_age_offers_both_lists_and_says_so():
    worker, agency = worker_and_agency()
    case = refer(worker, agency, age=None)
    page = logged_in_client(worker).get(reverse("cases:screen", args=[case.public_id])).content.decode()
    assert f"{DELPHI}|{instruments.latest(DELPHI).version}|adult_labour" in page
    assert f"{DELPHI}|{instruments.latest(DELPHI).version}|child_labour" in page
    assert "The age is not known" in page


def test_the_labour_inspectors_list_can_be_chosen_and_shows_it_is_partly_verified():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    ilo = instruments.latest(ILO_11)
    key = f"{ilo.id}|{ilo.version}|adult_forced_labour"
    page = (
        logged_in_client(worker).get(reverse("cases:screen", args=[case.public_id]), {"choice": key}).content
    )
    assert "Partly verified instrument" in page.decode()
    assert 'name="list" value="adult_forced_labour"' in page.decode()


def test_an_empty_list_cannot_conclude():
    worker, agency = worker_and_agency()
    case = refer(worker, agency, forms=("sexual_exploitation",))
    page = logged_in_client(worker).get(reverse("cases:screen", args=[case.public_id])).content.decode()
    assert "no indicators loaded" in page
    assert "Cannot conclude" in page


def test_no_instrument_for_the_form_of_exploitation_says_so():
    worker, agency = worker_and_agency()
    case = refer(worker, agency, forms=("forced_begging",))
    page = logged_in_client(worker).get(reverse("cases:screen", args=[case.public_id])).content.decode()
    assert "No screening instrument is loaded for this form of exploitation" in page
    assert 'name="found"' not in page


# --- live result and saving -----------------------------------------------------------------------------------


def test_the_preview_explains_each_dimension_and_saves_nothing():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    instrument, found = presumed_found()
    response = logged_in_client(worker).post(
        reverse("cases:screen_preview", args=[case.public_id]),
        posted(instrument, "adult_labour", found),
        HTTP_HX_REQUEST="true",
    )
    fragment = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in fragment
    assert "Conclusion: Presumed victim" in fragment
    assert "Presumed victim: the rule for" in fragment
    assert "Positive: 1 strong, 8 medium, 1 weak found" in fragment
    assert "Positive:" in fragment and "Not positive:" in fragment
    assert STANDING_NOTE in fragment
    # the conclusion is also sent to the page's live region, for screen readers
    assert '<p id="screening-live" hx-swap-oob="innerHTML">Conclusion: Presumed victim</p>' in fragment
    assert Screening.objects.count() == 0
    case.refresh_from_db()
    assert case.status == CaseStatus.REFERRED


def test_the_preview_refuses_indicators_of_another_list():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    instrument = instruments.latest(DELPHI)
    response = logged_in_client(worker).post(
        reverse("cases:screen_preview", args=[case.public_id]),
        posted(instrument, "adult_labour", {"not_an_indicator"}),
    )
    assert response.status_code == 200  # htmx swaps only 2xx answers: the message replaces the result
    assert "not in this list" in response.content.decode()
    assert "Conclusion" not in response.content.decode()


def test_check_the_result_without_javascript_shows_it_and_saves_nothing():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    instrument, found = presumed_found()
    response = logged_in_client(worker).post(
        reverse("cases:screen", args=[case.public_id]),
        {**posted(instrument, "adult_labour", found), "action": "preview"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Conclusion: Presumed victim" in page
    assert len(re.findall(r'name="found" value="[^"]+" id="[^"]+" checked', page)) == len(found)
    assert Screening.objects.count() == 0


def test_saving_records_the_exact_instrument_version_and_returns_to_the_case():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    instrument, found = presumed_found()
    client = logged_in_client(worker)
    response = client.post(
        reverse("cases:screen", args=[case.public_id]),
        {
            **posted(instrument, "adult_labour", found),
            "notes": "Passport kept by the employer.",
            "action": "save",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("cases:detail", args=[case.public_id])
    screening = Screening.objects.get(case=case)
    assert (screening.instrument_id, screening.instrument_version, screening.instrument_digest) == (
        instrument.id,
        instrument.version,
        instrument.digest,
    )
    assert set(screening.found) == found
    assert screening.conclusion == "presumed_victim"
    assert screening.notes == "Passport kept by the employer."
    page = client.get(response["Location"]).content.decode()
    assert "The screening was recorded. Conclusion: Presumed victim." in page


def test_an_indicator_not_in_the_list_is_refused_and_nothing_is_saved():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    instrument = instruments.latest(DELPHI)
    response = logged_in_client(worker).post(
        reverse("cases:screen", args=[case.public_id]),
        {**posted(instrument, "adult_labour", {"made_up"}), "action": "save"},
    )
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert Screening.objects.count() == 0


def test_an_instrument_version_that_is_not_loaded_is_refused():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    response = logged_in_client(worker).post(
        reverse("cases:screen", args=[case.public_id]),
        {"instrument": DELPHI, "version": "99.0", "list": "adult_labour", "action": "save"},
    )
    assert response.status_code == 200
    assert "This screening list is not loaded" in response.content.decode()
    assert Screening.objects.count() == 0


def test_screening_after_the_decision_was_requested_shows_the_rule_and_saves_nothing():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    services.request_decision(actor=worker, case=case, route="permanent_group")
    instrument, found = presumed_found()
    client = logged_in_client(worker)
    response = client.post(
        reverse("cases:screen", args=[case.public_id]),
        {**posted(instrument, "adult_labour", found), "action": "save"},
    )
    assert response.status_code == 200
    assert "This case can no longer be screened: its decision was requested." in response.content.decode()
    assert Screening.objects.count() == 0
    htmx = client.post(
        reverse("cases:screen", args=[case.public_id]),
        {**posted(instrument, "adult_labour", found), "action": "save"},
        HTTP_HX_REQUEST="true",
    )
    assert htmx.status_code == 400


# --- the section of the case page ------------------------------------------------------------------------------


def test_the_case_page_lists_past_screenings_with_instrument_version_and_conclusion():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    screen(worker, case)
    page = logged_in_client(worker).get(reverse("cases:detail", args=[case.public_id])).content.decode()
    version = instruments.latest(DELPHI).version
    assert f"{DELPHI}@{version}" in page
    assert "Presumed victim" in page
    assert reverse("cases:screen", args=[case.public_id]) in page


def test_the_case_page_offers_no_screening_link_to_who_may_not_screen():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    coordinator = member(Role.COORDINATOR, agency=agency)
    page = logged_in_client(coordinator).get(reverse("cases:detail", args=[case.public_id])).content.decode()
    assert "Not screened yet." in page
    assert reverse("cases:screen", args=[case.public_id]) not in page
