"""The national coordinator opens the statistics dashboard in a real headless Chromium, filters it, downloads a
table as CSV and finds in it the figures the page shows; the dashboard fits a phone; then an anonymous visitor opens
the public release page. Real login with TOTP; the page must load without a Content-Security-Policy complaint."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from opennrm.accounts import totp
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import member
from opennrm.stats.tests.dashboard_data import build_world
from tests.browser.phone import fits_the_phone
from tests.browser.test_login_journey import PASSWORD, SCREENSHOTS, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAST_YEAR = timezone.localdate().year - 1


def log_in(browser, live_server, user, **device):
    context = browser.new_context(locale="en-GB", accept_downloads=True, **device)
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


def totals(page, key: str) -> list[str]:
    return [cell.strip() for cell in page.locator(f"#table-{key} tfoot td").all_inner_texts()]


def test_coordinator_filters_the_dashboard_downloads_a_table_and_the_public_sees_releases(
    browser, live_server
):
    world = build_world(cases=18, notifications=6)
    facts = world.facts
    coordinator = member(Role.COORDINATOR, agency=world.agencies["state_fund"], scope=Scope.NATIONAL)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context, page, problems = log_in(
        browser, live_server, coordinator, viewport={"width": 1280, "height": 900}
    )

    # The dashboard: charts drawn on the server, each with the table of its figures under it.
    page.goto(live_server.url + reverse("stats:dashboard"))
    assert page.locator("main h1").inner_text() == "Statistics"
    chart = page.locator("#section-victims figure svg[role=img]")
    assert chart.is_visible() and chart.locator("rect").count() > 3
    assert page.locator("#table-victims").is_visible()
    assert totals(page, "victims")[0] == str(len(facts.cases))
    page.screenshot(path=str(SCREENSHOTS / "stats-dashboard.png"), full_page=False)

    # Filter: last year, women.
    page.get_by_label("Year", exact=True).first.select_option(str(LAST_YEAR))
    page.locator("#id_sex").select_option("feminine")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/stats/?*sex=feminine*")
    chosen = [c for c in facts.cases if c.first_contact.year == LAST_YEAR and c.sex == "feminine"]
    notified = [n for n in facts.notifications if n.first_contact.year == LAST_YEAR and n.sex == "feminine"]
    assert "Feminine" in page.locator("#filter-summary").inner_text()
    assert page.locator("#table-victims tbody th").all_inner_texts() == [
        f"{LAST_YEAR}, quarter {q}" for q in (1, 2, 3, 4)
    ]
    assert totals(page, "victims") == [
        str(len(chosen)),
        str(sum(c.child for c in chosen)),
        str(sum(c.identified for c in chosen)),
        str(len(notified)),
    ]
    page.screenshot(path=str(SCREENSHOTS / "stats-dashboard-filtered.png"), full_page=True)

    # Download the table by age group as CSV: the same figures as on the page, for the same filters.
    on_page = {
        row.locator("th").inner_text(): [cell.strip() for cell in row.locator("td").all_inner_texts()]
        for row in page.locator("#table-age tbody tr").all()
    }
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Presumed and identified victims by age group (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == f"opennrm-ge-age-{LAST_YEAR}-feminine.csv"
    lines = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    assert lines[0][0] == "Age when exploited"
    assert {line[0]: line[1:] for line in lines[1:-1]} == on_page
    assert lines[-1] == [
        "Total",
        str(len(chosen)),
        str(sum(c.identified for c in chosen)),
        str(len(notified)),
    ]
    context.close()

    # On a phone the page does not scroll sideways (wide tables scroll inside themselves).
    phone, phone_page, phone_problems = log_in(
        browser,
        live_server,
        member(Role.ANALYST, agency=world.agencies["ngo"]),
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    phone_page.goto(live_server.url + reverse("stats:dashboard"))
    fits_the_phone(phone_page)
    width = 390  # the phone's screen
    box = phone_page.locator("#section-victims figure svg").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    phone_page.screenshot(path=str(SCREENSHOTS / "stats-dashboard-phone.png"), full_page=False)
    phone.close()

    # An anonymous visitor opens the public release page: no login asked.
    visitor = browser.new_context(locale="en-GB")
    public = visitor.new_page()
    public_problems = watch(public)
    response = public.goto(live_server.url + reverse("public:releases"))
    assert response is not None and response.status == 200
    assert "/accounts/login/" not in public.url
    assert public.locator("h1").inner_text() == "Public releases"
    public.screenshot(path=str(SCREENSHOTS / "public-releases.png"), full_page=False)
    visitor.close()

    assert problems == [] and phone_problems == [] and public_problems == []
