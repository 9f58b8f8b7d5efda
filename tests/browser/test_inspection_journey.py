"""A labour inspector on a phone records an inspection, screens two workers (one presumed victim, one not), is
interrupted and loses nothing, and refers the presumed victim in one step; the case worker of the State Fund finds
the case in their list with the screening attached. A real headless Chromium, real logins with TOTP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

import opennrm
from opennrm.accounts import totp
from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases import screening as instruments
from opennrm.cases.models import Case
from opennrm.inspections.models import Inspection, ScreeningStatus, WorkerScreening
from tests.browser.test_login_journey import PASSWORD, SCREENSHOTS, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
EMPLOYER = "Demo Sunrise Greenhouses LLC"


@pytest.fixture
def project_static(settings):
    """The project's own static folder (app.css, htmx), found by the static finders. A no-op once settings.py
    lists it in STATICFILES_DIRS; until then the pages would load without their stylesheet and htmx."""
    if finders.find("opennrm/vendor/htmx.min.js") is None:
        settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, Path(opennrm.__file__).parent / "static"]


def log_in(browser, live_server, user, **device):
    """A first login through the real pages: password, then the authenticator enrolment with a real TOTP code."""
    context = browser.new_context(locale="en-GB", **device)
    page = context.new_page()
    problems = watch(page)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/accounts/2fa/enrol/")
    secret = page.locator("#totp-secret").inner_text().strip()
    page.get_by_label("Six-digit code from your authenticator app").fill(totp.code_for(secret))
    page.get_by_role("button", name="Confirm and log in").click()
    page.wait_for_url(live_server.url + "/")
    return context, page, problems


def fits_the_phone(page) -> None:
    """Nothing wider than the phone: no sideways scrolling, and no zooming out to fit (which a mobile browser does
    when the page is wider than the device, so `innerWidth` alone would not tell)."""
    width = PHONE["viewport"]["width"]
    assert page.evaluate("window.innerWidth") == width
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "no sideways scrolling on a phone"


def positive_ticks() -> list[str]:
    """Two strong (or strong and medium) indicators in one dimension of each kind the adult rule needs."""
    item = instruments.latest("ilo_ec_delphi_2009").get_list("adult_labour")
    ticks: list[str] = []
    for dimension_id in ("deceptive_recruitment", "exploitative_conditions", "coercion_at_destination"):
        dimension = next(d for d in item.dimensions if d.id == dimension_id)
        ordered = sorted(dimension.indicators, key=lambda i: ["strong", "medium", "weak"].index(i.strength))
        ticks += [i.id for i in ordered[:2]]
    return ticks


def wait_saved(page, conclusion: str) -> None:
    page.wait_for_function(
        "([text]) => { const bar = document.querySelector('#conclusion-bar');"
        " return bar && bar.textContent.includes('Draft saved') && bar.textContent.includes(text); }",
        arg=[conclusion],
        timeout=15000,
    )


def start_screening(page, *, age: str, list_key: str) -> None:
    page.get_by_role("link", name="Screen a worker").first.click()
    page.wait_for_url("**/screen/")
    page.get_by_label("Age (estimate)").fill(age)
    page.get_by_label("Sex / gender").select_option("masculine")
    page.get_by_label("Citizenship").select_option("UZ")
    page.locator(f'input[name="choice"][value="{list_key}"]').check()
    fits_the_phone(page)
    page.screenshot(path=str(SCREENSHOTS / "inspection-start-screening-phone.png"), full_page=True)
    page.get_by_role("button", name="Start the screening").click()
    page.wait_for_url("**/inspections/screenings/*/")


def test_an_inspector_screens_two_workers_on_a_phone_and_refers_the_presumed_victim(
    browser, live_server, project_static
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    labour = AgencyFactory(name="Labour Inspection Service", kind=AgencyKind.LABOUR_INSPECTION)
    fund = AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND)
    inspector = member(
        Role.FIRST_RESPONDER,
        agency=labour,
        scope=Scope.AGENCY,
        user__first_name="Mariam",
        user__last_name="Inspector",
    )
    case_worker = member(Role.CASE_WORKER, agency=fund, user__first_name="Nino", user__last_name="Caseworker")
    delphi = instruments.latest("ilo_ec_delphi_2009")
    ilo = instruments.latest("ilo_forced_labour_11_2012")

    # --- the inspector, on a phone ---------------------------------------------------------------------------
    context, page, problems = log_in(browser, live_server, inspector, **PHONE)
    page.goto(live_server.url + "/inspections/")
    page.get_by_role("link", name="Record an inspection").click()
    page.wait_for_url("**/inspections/new/")
    fits_the_phone(page)
    page.get_by_label("Employer").fill(EMPLOYER)
    page.get_by_label("Tax identification number").fill("DEMO-404551234")
    page.get_by_label("Sector").select_option("a_agriculture_forestry_and_fishing")
    page.get_by_label("Region").select_option("GE-KA")
    page.get_by_label("Joint inspection with the police").check()
    page.get_by_label("Workers present").fill("24")
    page.get_by_label("Workers interviewed").fill("5")
    page.get_by_label("Findings").fill("Passports of foreign workers kept in the office.")
    page.screenshot(path=str(SCREENSHOTS / "inspection-form-phone.png"), full_page=True)
    page.get_by_role("button", name="Record the inspection").click()
    page.wait_for_url(re.compile(r".*/inspections/[a-z0-9]{24}/$"))
    assert "The inspection was recorded." in page.locator(".messages").inner_text()
    assert EMPLOYER in page.locator("main").inner_text()
    inspection_url = page.url
    inspection = Inspection.objects.get()
    assert inspection.workers_interviewed == 5 and inspection.joint_with_police

    # First worker: the ILO-EC list for adults; each tick is saved as a draft and the result follows.
    start_screening(page, age="29", list_key=f"{delphi.id}|{delphi.version}|adult_labour")
    fits_the_phone(page)
    first_url = page.url
    ticks = positive_ticks()
    for indicator in ticks:
        page.locator(f"#ind-{indicator}").check()
    wait_saved(page, "Presumed victim")
    status = page.locator("#dimension-status-deceptive_recruitment").inner_text()
    assert status.startswith("Positive"), status
    assert "Positive" in page.locator("#dimension-status-coercion_at_destination").inner_text()
    assert "Not positive" in page.locator("#dimension-status-coercive_recruitment").inner_text()
    fits_the_phone(page)
    page.screenshot(path=str(SCREENSHOTS / "inspection-screening-phone.png"))
    first = WorkerScreening.objects.get()
    assert set(first.found) == set(ticks) and first.conclusion == "presumed_victim"
    assert first.status == ScreeningStatus.DRAFT

    # Interrupted: the page is opened again later; every tick and the result are still there.
    page.goto(live_server.url + "/")
    page.goto(first_url)
    for indicator in ticks:
        assert page.locator(f"#ind-{indicator}").is_checked()
    assert "Conclusion: Presumed victim" in page.locator("#conclusion-bar").inner_text()

    # Referred in one step, with the worker's consent.
    page.get_by_role("link", name="Refer this worker").click()
    page.wait_for_url("**/refer/")
    fits_the_phone(page)
    page.get_by_label("Yes, the worker consents").check()
    page.get_by_label("Given name").fill("Rustam")
    page.get_by_label("Family name").fill("Demo-Tursunov")
    page.get_by_label("Estimated age").fill("29")
    page.screenshot(path=str(SCREENSHOTS / "inspection-refer-phone.png"), full_page=True)
    page.get_by_role("button", name="Refer, or notify anonymously").click()
    page.wait_for_url(inspection_url)
    case = Case.objects.get()
    message = page.locator(".messages").inner_text()
    assert f"case {case.reference}" in message and "The police partner was alerted." in message

    # Second worker: the ILO's 11 indicators, one found: not indicated; the screening is completed.
    start_screening(page, age="45", list_key=f"{ilo.id}|{ilo.version}|adult_forced_labour")
    one = ilo.get_list("adult_forced_labour").indicators[0].id
    page.locator(f"#ind-{one}").check()
    wait_saved(page, "Not indicated")
    page.get_by_role("button", name="Complete the screening").click()
    page.wait_for_selector(".messages")
    assert "is complete" in page.locator(".messages").inner_text()
    page.goto(inspection_url)
    table = page.locator("table.screening-table").inner_text()
    assert case.reference in table and "Presumed victim" in table and "Not indicated" in table
    page.screenshot(path=str(SCREENSHOTS / "inspection-detail-phone.png"), full_page=True)
    second = WorkerScreening.objects.exclude(pk=first.pk).get()
    assert (second.status, second.conclusion, second.list_id) == (
        "completed",
        "not_indicated",
        "adult_forced_labour",
    )
    assert problems == []
    context.close()

    # --- the case worker of the State Fund ----------------------------------------------------------------
    context, page, problems = log_in(browser, live_server, case_worker, **DESKTOP)
    page.goto(live_server.url + "/cases/")
    page.get_by_role("link", name=case.reference).click()
    page.wait_for_url(f"**/cases/{case.public_id}/")
    section = page.locator("#screening-section").inner_text()
    assert "Presumed victim" in section and f"{delphi.id}@{delphi.version}" in section
    main = page.locator("main").inner_text()
    assert "Labour Inspection Service" in main and "State Fund" in main
    origin = page.locator("#inspection-panel").inner_text()
    assert first.pseudonym in origin and "K'akheti" in origin and EMPLOYER not in main
    page.screenshot(path=str(SCREENSHOTS / "inspection-case-for-case-worker.png"), full_page=True)
    assert problems == []
    context.close()
