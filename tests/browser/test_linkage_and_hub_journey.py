"""Record linkage and the regional hub in a real headless Chromium, each person logging in for real (password and
TOTP enrolment). The partners are played by the test with their own real keys.

Duplicates: one woman filed twice, by two agencies, once in Georgian script and once in Latin. A national-scope
case worker follows "Possible duplicates" and sees the pair; on the case page she asks Ukraine whether the person is
known there: the question is shown as sent, and the one message waiting for Ukraine carries no name.

Hub: this instance is the regional hub and Moldova has submitted its figures; an analyst follows "Regional hub" and
sees the countries side by side, on a desktop and on a phone."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases.services import IntakeData, refer_person
from opennrm.cooperation import hub, linkage_service, messaging
from opennrm.cooperation.models import HubSubmission, LinkageQuery, MessageType, OutboxMessage
from opennrm.cooperation.tests import coop_kit as kit
from tests.browser.phone import fits_the_phone
from tests.browser.test_login_journey import SCREENSHOTS
from tests.browser.test_shelter_journey import DESKTOP, PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BORN = dt.date(1994, 3, 17)
GEORGIAN = ("ნინო", "ბერიძე")
LATIN = ("Nino", "Beridze")
# What must never cross the border, in any script or form.
IDENTIFYING = ["ნინო", "ბერიძე", "nino", "beridze", "1994-03-17", "17.03.1994"]
YEAR = timezone.localdate().year - 1  # every quarter of it has ended


# --- duplicates and a question to a partner ------------------------------------------------------------------


@pytest.fixture
def ua(settings: Any, tmp_path: Path) -> kit.PlayedPartner:
    """This instance is GE with keys of the test's own and the regional linkage secret installed; UA is played."""
    kit.isolate_instance(settings, tmp_path)
    settings.OPENNRM_COOP_LINKAGE_SECRET_FILE = str(tmp_path / "linkage_secret")
    linkage_service.write_secret(linkage_service.new_secret())
    return kit.play_partner("UA", "UA")


def refer(agency: Any, names: tuple[str, str]) -> Any:
    return refer_person(
        actor=member(Role.CASE_WORKER, agency=agency),
        referring_agency=agency,
        owning_agency=agency,
        data=IntakeData(
            given_name=names[0], family_name=names[1], date_of_birth=BORN, sex="feminine", citizenship="GE"
        ),
        consent_given=True,
    )


def test_a_case_worker_finds_a_duplicate_across_scripts_and_asks_ukraine(browser, live_server, ua):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    fund = AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND)
    ngo = AgencyFactory(name="Tbilisi NGO")
    georgian = refer(fund, GEORGIAN)
    latin = refer(ngo, LATIN)
    worker = member(
        Role.CASE_WORKER,
        agency=fund,
        scope=Scope.NATIONAL,
        user__first_name="Tamar",
        user__last_name="Worker",
    )

    context, page, problems = log_in(browser, live_server, worker, **DESKTOP)
    page.get_by_role("link", name="Possible duplicates").click()
    page.wait_for_url("**/coop/linkage/duplicates/")
    assert page.get_by_role("heading", level=1).inner_text() == "Possible duplicates across agencies"
    assert "1 pair found among 2 people." in page.locator("#duplicates-summary").inner_text()
    [row] = page.locator("#duplicates tbody tr").all()
    cells = row.locator("td").all_inner_texts()
    assert {cells[0], cells[2]} == {georgian.reference, latin.reference}
    assert {cells[1], cells[3]} == {"State Fund", "Tbilisi NGO"}
    assert cells[4].endswith("%") and 0 < int(cells[4].rstrip("%")) <= 100
    shown = page.locator("main").inner_text()
    assert not [name for name in (*GEORGIAN, *LATIN) if name in shown], "the page shows no name"
    page.screenshot(path=str(SCREENSHOTS / "linkage-duplicates.png"), full_page=True)

    # --- the case page: ask Ukraine whether the person is known there --------------------------------------------
    row.get_by_role("link", name=georgian.reference).click()
    page.wait_for_url(f"**/cases/{georgian.public_id}/")
    panel = page.locator("#linkage-panel")
    assert "Is this person known to a partner country?" in panel.get_by_role("heading").inner_text()
    panel.get_by_role("button", name="Ask NRM UA").click()
    page.wait_for_url(f"**/cases/{georgian.public_id}/#linkage-panel")
    assert "The question was sent to NRM UA." in page.locator(".messages").inner_text()
    panel = page.locator("#linkage-panel")
    assert panel.get_by_role("button", name="Ask NRM UA").is_disabled()
    assert "waiting for the answer" in panel.inner_text()
    queries = panel.locator("#linkage-queries tbody tr")
    assert queries.count() == 1
    asked = queries.first.inner_text()
    assert "NRM UA (Ukraine)" in asked and "Sent, awaiting the answer" in asked
    page.screenshot(path=str(SCREENSHOTS / "linkage-asked.png"), full_page=True)

    # The same case page on a phone: nothing spills sideways.
    page.set_viewport_size(PHONE["viewport"])
    page.reload()
    fits_the_phone(page)
    assert problems == []
    context.close()

    # One question waits for Ukraine, and it carries keyed encodings only: no name, no date of birth.
    [query] = LinkageQuery.objects.all()
    assert (query.case, query.partner) == (georgian, ua.partner)
    [queued] = OutboxMessage.objects.filter(type=MessageType.LINKAGE_QUERY)
    assert queued.partner == ua.partner and queued.subject == str(query.query_id)
    assert set(queued.payload) == {"query_id", "encodings", "threshold", "secret_id"}
    text = json.dumps(queued.payload, ensure_ascii=False).lower()
    assert not [value for value in IDENTIFYING if value.lower() in text]
    assert OutboxMessage.objects.count() == 1


# --- the regional hub -----------------------------------------------------------------------------------------


@pytest.fixture
def moldova(settings: Any, tmp_path: Path) -> kit.PlayedPartner:
    """This instance (GE) is the regional hub; Moldova, played by the test, has submitted YEAR (k-anonymous)."""
    kit.isolate_instance(settings, tmp_path)
    settings.OPENNRM_COUNTRY = "GE"
    settings.OPENNRM_COOP_STATS_K = 5
    settings.OPENNRM_COOP_STATS_EPSILON = None
    settings.OPENNRM_COOP_IS_HUB = True
    settings.OPENNRM_COOP_HUB = ""
    played = kit.play_partner("MD", "MD", base_url="https://md.example.org")
    payload = hub.protected_payload(synthetic_people(), year=YEAR, quarters=4, epsilon=None)
    payload["country"] = "MD"
    sealed = played.seal(type=MessageType.STATS_SUBMISSION, payload=payload)
    assert messaging.receive(kit.body(sealed))[0] == 202
    assert HubSubmission.objects.count() == 1
    return played


def synthetic_people() -> list[dict[str, str]]:
    """Moldova's people as `hub.population` gives them: 39 people over the four quarters of YEAR."""
    people = []
    for quarter, n in ((1, 12), (2, 9), (3, 10), (4, 8)):
        for i in range(n):
            people.append(
                {
                    "quarter": f"{YEAR}-Q{quarter}",
                    "victims": "identified" if i % 2 else "not_identified",
                    "sex": "male" if i % 3 == 0 else "female",
                    "age": "adult",
                    "form": "forced_labour" if i % 3 == 0 else "sexual_exploitation",
                    "citizenship": "national",
                    "cross_border": "not_referred_abroad",
                }
            )
    return people


def test_an_analyst_compares_the_countries_on_the_regional_hub(browser, live_server, moldova):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for device in (DESKTOP, PHONE):
        # One analyst per device: each first login goes through the authenticator enrolment.
        analyst = member(Role.ANALYST, scope=Scope.NATIONAL)
        context, page, problems = log_in(browser, live_server, analyst, **device)
        if device is PHONE:
            fits_the_phone(page)
        page.get_by_role("link", name="Regional hub").click()
        page.wait_for_url("**/coop/hub/**")
        if page.locator("#hub-year").input_value() != str(YEAR):
            page.get_by_role("combobox", name="Year").select_option(str(YEAR))
            page.get_by_role("button", name="Show").click()
            page.wait_for_url(f"**/coop/hub/?year={YEAR}")
        assert page.get_by_role("heading", level=1).inner_text() == "Regional hub"
        countries = page.locator("#hub-countries tbody").inner_text()
        assert "Georgia (GE)" in countries and "Moldova (MD)" in countries
        assert "This instance: computed now from its own cases" in countries
        assert "k-anonymous, k = 5" in countries
        header = page.locator("#hub-table-referred thead th").all_inner_texts()
        assert header[1:] == ["Georgia", "Moldova"], header
        year_total = page.locator("#hub-table-referred tbody tr.total-row td").all_inner_texts()
        assert year_total[1] == "39", year_total  # Moldova's year, exact (k-anonymous)
        if device is PHONE:
            fits_the_phone(page)
            page.screenshot(path=str(SCREENSHOTS / "hub-phone.png"), full_page=True)
        else:
            page.screenshot(path=str(SCREENSHOTS / "hub-desktop.png"), full_page=True)
        assert problems == []
        context.close()
