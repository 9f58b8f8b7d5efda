"""Georgia and Ukraine, a transnational referral in a real headless Chromium, each person logging in for real
(password and TOTP enrolment). The partner instance (UA) is played by the test with its own real keys.

Sending: a case worker in Batumi, on a phone, tries to refer a woman to Ukraine before she consented (refused, with
the reason shown, nothing queued), records her consent to sharing with Ukraine, then refers her: the case page and
its timeline show the referral sent, and the outbox holds one message to UA with the minimal subset only.

Receiving: UA's referrals are delivered through the real inbox endpoint of the live server; the national focal
point follows "Cross-border referrals", accepts one (a local case is opened, its timeline names UA's reference)
and declines another (a reason is required)."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
from typing import Any

import pytest
from django.utils import timezone

from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases.models import Case, Consent
from opennrm.cases.services import IntakeData, refer_person
from opennrm.cooperation import transnational as tn
from opennrm.cooperation.models import (
    Direction,
    MessageType,
    OutboxMessage,
    TransnationalReferral,
    TransnationalStatus,
)
from opennrm.cooperation.tests import coop_kit as kit
from tests.browser.phone import fits_the_phone
from tests.browser.test_login_journey import SCREENSHOTS
from tests.browser.test_shelter_journey import DESKTOP, PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NARRATIVE = "Recruited in Batumi by a cousin with a false job offer."
PHONE_NUMBER, DOCUMENT = "+995555010203", "13AB778421"
UA_REFERENCE = "UA-2026-00042"


@pytest.fixture
def ua(settings: Any, tmp_path: Any) -> kit.PlayedPartner:
    """This instance is GE with keys of the test's own; UA is played by the test (its own real keys)."""
    kit.isolate_instance(settings, tmp_path)
    return kit.play_partner("UA", "UA")


def message(page) -> str:
    return page.locator(".messages").inner_text()


def queued_to(partner: kit.PlayedPartner) -> list[dict[str, Any]]:
    """The messages waiting in the outbox for the partner (the ORM opens the payload encrypted at rest)."""
    return [
        {"type": queued.type, "payload": queued.payload}
        for queued in OutboxMessage.objects.filter(partner=partner.partner).order_by("created_at")
    ]


def deliver_to_inbox(
    live_server, partner: kit.PlayedPartner, payload: dict[str, Any]
) -> TransnationalReferral:
    """UA delivers a referral the way a partner does: a sealed envelope POSTed to the live server's inbox."""
    request = urllib.request.Request(  # noqa: S310 - the live server's own http URL
        live_server.url + "/coop/v1/inbox",
        data=kit.body(partner.seal(type=MessageType.REFERRAL, payload=payload)),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        answer = json.loads(response.read())
        assert response.status == 202, answer
    return TransnationalReferral.objects.get(referral_id=payload["referral_id"], direction=Direction.INCOMING)


# --- sending, on a phone --------------------------------------------------------------------------------------


def test_a_case_worker_on_a_phone_refers_a_person_to_ukraine(browser, live_server, ua):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    fund = AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND, region="GE-AJ")
    worker = member(Role.CASE_WORKER, agency=fund, user__first_name="Tamar", user__last_name="Worker")
    data = IntakeData(
        given_name="Nino",
        family_name="Beridzeshvili",
        date_of_birth=dt.date(1994, 3, 17),
        sex="feminine",
        citizenship="GE",
        languages=["ka", "ru"],
        phone=PHONE_NUMBER,
        document_type="passport",
        document_number=DOCUMENT,
        narrative=NARRATIVE,
        exploitation_forms=["forced_labour"],
        exploitation_country="TR",
    )
    case = refer_person(
        actor=worker, referring_agency=fund, owning_agency=fund, data=data, consent_given=True
    )
    arrival = timezone.localdate() + dt.timedelta(days=10)

    context, page, problems = log_in(browser, live_server, worker, **PHONE)
    page.goto(live_server.url + f"/cases/{case.public_id}/")
    panel = page.locator("#transnational-panel")
    assert "This case was not referred to another country." in panel.inner_text()
    fits_the_phone(page)

    # --- without consent to sharing with Ukraine, nothing leaves --------------------------------------------------
    panel.get_by_role("link", name="Refer to another country").click()
    page.wait_for_url(f"**/coop/referrals/case/{case.public_id}/new/")
    assert "No consent to sharing with another country is on file" in page.locator("#consents").inner_text()
    fits_the_phone(page)
    page.get_by_label("Refer to the partner country").select_option("UA")
    page.get_by_role("checkbox", name="Safe accommodation").check()
    page.get_by_role("button", name="Send the referral").click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert "No referral leaves without the person's consent to sharing with Ukraine." in summary.inner_text()
    assert page.get_by_role("checkbox", name="Safe accommodation").is_checked(), "the input is kept"
    fits_the_phone(page)
    assert not OutboxMessage.objects.exists()
    assert not TransnationalReferral.objects.exists()
    assert not Consent.objects.filter(case=case, purpose="cross_border").exists()

    # --- the consent to sharing with Ukraine, on the consent page -----------------------------------------------
    page.goto(live_server.url + f"/cases/{case.public_id}/")
    page.get_by_role("navigation", name="This case").get_by_role("link", name="Consent").click()
    page.wait_for_url(f"**/cases/{case.public_id}/consent/")
    page.get_by_label("Purpose").select_option(label="Sharing with another country")
    page.get_by_role("radio", name="Given").check()
    page.get_by_label("Country (for sharing with another country)").select_option(label="Ukraine")
    fits_the_phone(page)
    page.get_by_role("button", name="Record", exact=True).click()
    page.wait_for_url(f"**/cases/{case.public_id}/consent/")
    assert "The consent was recorded." in message(page)
    consents = page.locator("#consents-heading + p + table").inner_text()
    assert "Sharing with another country" in consents and "Ukraine" in consents
    assert Consent.objects.filter(case=case, purpose="cross_border", country="UA", given=True).count() == 1
    fits_the_phone(page)

    # --- the referral to Ukraine ----------------------------------------------------------------------------------
    page.get_by_role("navigation", name="This case").get_by_role("link", name="Overview").click()
    page.wait_for_url(f"**/cases/{case.public_id}/")
    page.locator("#transnational-panel").get_by_role("link", name="Refer to another country").click()
    page.wait_for_url(f"**/coop/referrals/case/{case.public_id}/new/")
    assert "Ukraine" in page.locator("#consents").inner_text()
    page.get_by_label("Refer to the partner country").select_option("UA")
    page.get_by_role("checkbox", name="Safe accommodation").check()
    page.get_by_role("checkbox", name="Safe return").check()
    page.get_by_label("Planned arrival").fill(arrival.isoformat())
    page.get_by_label("Note for the partner").fill("Arrives by bus at the Sarpi crossing.")
    fits_the_phone(page)
    page.screenshot(path=str(SCREENSHOTS / "transnational-refer-phone.png"), full_page=True)
    page.get_by_role("button", name="Send the referral").click()
    page.wait_for_url(re.compile(r".*/coop/referrals/[a-z0-9]{24}/$"))
    assert "Referral to NRM UA queued" in message(page)
    assert page.locator("#transnational-status").inner_text() == "Sent, awaiting an answer"
    fits_the_phone(page)

    # The case page and its timeline show the referral as sent.
    page.goto(live_server.url + f"/cases/{case.public_id}/")
    panel = page.locator("#transnational-panel")
    assert "To NRM UA (UA)" in panel.inner_text() and "Sent, awaiting an answer" in panel.inner_text()
    page.get_by_role("navigation", name="This case").get_by_role("link", name="Timeline").click()
    page.wait_for_url(f"**/cases/{case.public_id}/timeline/")
    timeline = "\n".join(page.locator("ol.timeline li").all_inner_texts())
    assert (
        "Tamar Worker (State Fund) referred the person to Ukraine (UA) for: Safe accommodation, Safe return."
        in timeline
    )
    fits_the_phone(page)
    assert problems == []
    context.close()

    # One message waits for UA, and it carries the minimal subset only.
    [queued] = queued_to(ua)
    assert queued["type"] == MessageType.REFERRAL
    payload = queued["payload"]
    assert set(payload) == set(tn.PAYLOAD_FIELDS)
    assert payload["person"]["given_name"] == "Nino" and payload["person"]["family_name"] == "Beridzeshvili"
    assert payload["services_needed"] == ["accommodation", "safe_return"]
    assert payload["planned_arrival"] == arrival.isoformat()
    assert (payload["consent"]["country"], payload["sender_reference"]) == ("UA", case.reference)
    text = json.dumps(payload, ensure_ascii=False)
    for kept_here in (NARRATIVE, PHONE_NUMBER, DOCUMENT, "passport"):
        assert kept_here not in text
    assert OutboxMessage.objects.count() == 1


# --- receiving, as the national focal point ---------------------------------------------------------------


def test_the_focal_point_accepts_one_referral_from_ukraine_and_declines_another(browser, live_server, ua):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    fund = AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND)
    ministry = AgencyFactory(name="Ministry of Internal Affairs", kind=AgencyKind.MINISTRY)
    focal = member(
        Role.CASE_WORKER,
        agency=ministry,
        scope=Scope.NATIONAL,
        user__first_name="Eka",
        user__last_name="Focal",
    )
    first = deliver_to_inbox(live_server, ua, kit.incoming_referral_payload("Olena", "Kovalenko"))
    second = deliver_to_inbox(live_server, ua, kit.incoming_referral_payload("Iryna", "Shevchenko"))
    assert first.status == second.status == TransnationalStatus.RECEIVED

    context, page, problems = log_in(browser, live_server, focal, **DESKTOP)
    page.get_by_role("link", name="Cross-border referrals").click()
    page.wait_for_url("**/coop/referrals/")
    waiting = page.locator("section", has=page.locator("#waiting-heading"))
    assert "(2)" in waiting.locator("h2").inner_text()

    # --- accept the first: a local case is opened ----------------------------------------------------------------
    waiting.locator("tr", has_text="Olena Kovalenko").get_by_role("link").click()
    page.wait_for_url(f"**/coop/referrals/{first.public_id}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Referral from NRM UA (UA)"
    crossed = page.locator("section", has=page.locator("#crossed-heading")).inner_text()
    assert (
        "Olena" in crossed and "Kovalenko" in crossed and "Arrives by bus at the Sarpi crossing." in crossed
    )
    assert page.get_by_role("heading", name="Note from the partner").count() == 1
    page.get_by_label("Agency that runs the case here").select_option(label="State Fund")
    page.screenshot(path=str(SCREENSHOTS / "transnational-received.png"), full_page=True)
    page.get_by_role("button", name="Accept and open a case").click()
    page.wait_for_url(re.compile(r".*/cases/[a-z0-9]{24}/$"))
    first.refresh_from_db()
    assert first.status == TransnationalStatus.ACCEPTED and first.case is not None
    case = first.case
    assert page.url.endswith(f"/cases/{case.public_id}/")
    assert f"Referral accepted: case {case.reference} was opened and the partner was told." in message(page)
    assert case.owning_agency == fund
    assert (case.person.given_name, case.person.family_name) == ("Olena", "Kovalenko")
    page.get_by_role("navigation", name="This case").get_by_role("link", name="Timeline").click()
    page.wait_for_url(f"**/cases/{case.public_id}/timeline/")
    timeline = "\n".join(page.locator("ol.timeline li").all_inner_texts())
    assert (
        f"Eka Focal (Ministry of Internal Affairs) accepted the referral received from Ukraine (UA) and opened this case; their reference "
        f"{UA_REFERENCE}." in timeline
    ), timeline
    [answer] = queued_to(ua)
    assert answer["type"] == MessageType.REFERRAL_RESPONSE
    assert (answer["payload"]["decision"], answer["payload"]["receiver_reference"]) == (
        "accepted",
        case.reference,
    )

    # --- decline the second: a reason is required ----------------------------------------------------------------
    page.get_by_role("link", name="Cross-border referrals").click()
    page.wait_for_url("**/coop/referrals/")
    waiting = page.locator("section", has=page.locator("#waiting-heading"))
    assert waiting.locator("tr", has_text="Olena Kovalenko").count() == 0
    waiting.locator("tr", has_text="Iryna Shevchenko").get_by_role("link").click()
    page.wait_for_url(f"**/coop/referrals/{second.public_id}/")
    page.get_by_role("button", name="Decline", exact=True).click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    assert "Why the referral is declined" in summary.inner_text()
    second.refresh_from_db()
    assert second.status == TransnationalStatus.RECEIVED
    page.get_by_label("Why the referral is declined").fill("We have no place for her in Tbilisi now.")
    page.get_by_role("button", name="Decline", exact=True).click()
    page.wait_for_url(f"**/coop/referrals/{second.public_id}/")
    assert "Referral declined; the partner is told why." in message(page)
    assert page.locator("#transnational-status").inner_text() == "Declined"
    assert "We have no place for her in Tbilisi now." in page.locator("main").inner_text()
    second.refresh_from_db()
    assert (second.status, second.case) == (TransnationalStatus.DECLINED, None)
    assert Case.objects.count() == 1
    answers = [m["payload"] for m in queued_to(ua)]
    assert sorted(a["decision"] for a in answers) == ["accepted", "declined"]

    # The same referral page on a phone: nothing spills sideways.
    page.set_viewport_size(PHONE["viewport"])
    page.reload()
    fits_the_phone(page)
    page.get_by_role("link", name="Cross-border referrals").click()
    page.wait_for_url("**/coop/referrals/")
    fits_the_phone(page)
    assert problems == []
    context.close()
