"""Moldova (30 days in a shelter, extendable to 6 months): a shelter worker on a phone admits a referred woman on
her accepted shelter referral; a second admission into the full category is refused with the reason shown; time
moves on and the stay-limit check alerts the coordinator, who opens the alert from the home page and extends the
stay. A real headless Chromium, real logins with TOTP."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import formats, timezone, translation

from opennrm.accounts import totp
from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.core.models import Alert, AuditEntry
from opennrm.core.profiles import active_profile
from opennrm.referrals.tests.factories import make_case
from opennrm.shelters.models import Placement, Shelter
from opennrm.shelters.services import stay_terms
from opennrm.shelters.tasks import notify_stays_ending
from opennrm.shelters.tests.factories import World
from tests.browser.phone import fits_the_phone
from tests.browser.test_login_journey import PASSWORD, SCREENSHOTS, watch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
ADDRESS = "DEMO: 5 Hidden Courtyard, Chisinau"


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


def shown(day: dt.date) -> str:
    with translation.override("en"):
        return formats.date_format(day, "SHORT_DATE_FORMAT")


def test_admission_full_category_stay_alert_and_extension(browser, live_server, settings):
    settings.OPENNRM_COUNTRY = "MD"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    country = {"country": "MD", "region": "MD-CU"}
    fund = AgencyFactory(name="Demo Social Assistance Directorate", kind=AgencyKind.STATE_FUND, **country)
    agency = AgencyFactory(
        name="Demo Centre for Assistance and Protection", kind=AgencyKind.SHELTER, **country
    )
    council = AgencyFactory(name="Demo National Committee Secretariat", kind=AgencyKind.MINISTRY, **country)
    shelter = Shelter.objects.create(
        agency=agency,
        name="Chisinau shelter",
        region="MD-CU",
        address=ADDRESS,
        capacity_women=1,
        capacity_men=1,
    )
    case_worker = member(Role.CASE_WORKER, agency=fund)
    provider = member(Role.SERVICE_PROVIDER, agency=agency, user__first_name="Ala", user__last_name="Shelter")
    coordinator = member(
        Role.COORDINATOR,
        agency=council,
        scope=Scope.NATIONAL,
        user__first_name="Ion",
        user__last_name="Coordinator",
    )
    w = World(
        fund=fund,
        agency=agency,
        other_agency=agency,
        shelter=shelter,
        other_shelter=shelter,
        case_worker=case_worker,
        staff=provider,
        other_staff=provider,
        coordinator=coordinator,
        analyst=coordinator,
    )
    first = w.referral(make_case(agency=fund, actor=case_worker, given_name="Maria"))
    second = w.referral(make_case(agency=fund, actor=case_worker, given_name="Elena"))

    # --- the shelter worker, on a phone ------------------------------------------------------------------------
    context, page, problems = log_in(browser, live_server, provider, **PHONE)
    page.goto(live_server.url + "/shelters/")
    page.get_by_role("link", name="Chisinau shelter").click()
    page.wait_for_url(f"**/shelters/{shelter.public_id}/")
    assert ADDRESS not in page.locator("main").inner_text()
    page.get_by_role("link", name="Admit a person").click()
    page.wait_for_url("**/admit/")
    fits_the_phone(page)
    page.get_by_label("Accepted shelter referral").select_option(first.public_id)
    page.get_by_label("Place").select_option("women")
    assert page.get_by_label("Accept over capacity").count() == 0, "staff cannot accept over capacity"
    page.screenshot(path=str(SCREENSHOTS / "shelter-admit-phone.png"), full_page=True)
    page.get_by_role("button", name="Admit").click()
    page.wait_for_url(re.compile(r".*/shelters/placements/[a-z0-9]{24}/$"))
    assert "The person was admitted." in page.locator(".messages").inner_text()
    placement = Placement.objects.get(referral=first)
    admitted = timezone.localdate(placement.admitted_at)
    assert placement.stay_limit == admitted + dt.timedelta(days=30)  # Moldova: 30 days first
    facts = page.locator("#placement-facts").inner_text()
    assert "Maria" in facts and first.case.reference in facts and shown(placement.stay_limit) in facts
    assert "Beridzeshvili" not in facts, "the family name is not the shelter's business"
    fits_the_phone(page)

    # The one place for women is taken: a second admission is refused, with the reason shown.
    page.goto(live_server.url + f"/shelters/{shelter.public_id}/admit/")
    page.get_by_label("Accepted shelter referral").select_option(second.public_id)
    page.get_by_label("Place").select_option("women")
    page.get_by_role("button", name="Admit").click()
    error = page.locator(".error-summary").inner_text()
    assert "Chisinau shelter has no free place for women: 1 of 1 places are taken." in error
    assert Placement.objects.filter(referral=second).count() == 0
    page.screenshot(path=str(SCREENSHOTS / "shelter-admit-full-phone.png"), full_page=True)
    fits_the_phone(page)
    assert problems == []
    context.close()

    # --- time moves on: she was admitted 25 days ago; the hourly check alerts -------------------------------
    moved = placement.admitted_at - dt.timedelta(days=25)
    limit, maximum, _rule = stay_terms(active_profile(), timezone.localdate(moved))
    Placement.objects.filter(pk=placement.pk).update(
        admitted_at=moved, stay_limit=limit, stay_maximum=maximum
    )
    assert notify_stays_ending.call() == 1
    assert Alert.objects.filter(kind="stay_ending", recipient=coordinator).count() == 1

    # --- the coordinator, at a desk -----------------------------------------------------------------------------
    context, page, problems = log_in(browser, live_server, coordinator, **DESKTOP)
    alert_text = f"{first.case.reference}: the shelter stay reaches its limit on {limit.isoformat()}."
    alerts = page.locator("section.alerts")
    assert alert_text in alerts.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "shelter-alert-home.png"), full_page=True)
    alerts.get_by_role("link", name=alert_text).click()
    page.wait_for_url(f"**/shelters/placements/{placement.public_id}/")
    assert shown(limit) in page.locator("#stay-limit").inner_text()
    assert "Maria" not in page.locator("main").inner_text(), "the coordinator sees no identity"
    until = limit + dt.timedelta(days=30)
    page.get_by_role("radio", name="Extend the stay").check()
    page.get_by_label("Extend until").fill(until.isoformat())
    page.get_by_label("Reasons").fill("Criminal proceedings under way; she testifies next month.")
    page.get_by_role("button", name="Record the decision").click()
    page.wait_for_url(f"**/shelters/placements/{placement.public_id}/")
    assert "The stay was extended." in page.locator(".messages").inner_text()
    assert shown(until) in page.locator("#stay-limit").inner_text()
    placement.refresh_from_db()
    assert placement.extended_until == until
    assert AuditEntry.objects.filter(
        action="placement.extension_granted", actor=coordinator.public_id
    ).exists()
    page.screenshot(path=str(SCREENSHOTS / "shelter-extended.png"), full_page=True)

    # National occupancy: one woman placed of one place.
    page.goto(live_server.url + "/shelters/occupancy/")
    assert page.locator("figure.chart svg").is_visible()
    assert "1 / 1" in page.locator("main").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "shelter-national.png"), full_page=True)
    assert ADDRESS not in page.locator("main").inner_text()
    assert problems == []
    context.close()
