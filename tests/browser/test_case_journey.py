"""Georgia, the whole life of a case in a real headless Chromium, each person logging in for real (password and
TOTP enrolment): a police officer on a phone refers a woman who consents; the State Fund case worker screens her
(the conclusion shows before saving) and requests a decision of the Permanent Group; a member of the Permanent
Group finds the request in the queue and grants the status before the deadline; the case worker refers her to the
Batumi shelter, which accepts; the state compensation is approved and paid once (a second payment is refused); the
case is closed; and the timeline tells every step."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, member
from opennrm.cases.choices import CaseStatus, ClosureReason, DecisionOutcome, TraffickingStatus
from opennrm.cases.models import Case, Compensation, Decision
from opennrm.referrals.models import Referral, ReferralStatus
from opennrm.referrals.tests.factories import ensure_catalogue
from tests.browser.phone import fits_the_phone
from tests.browser.test_login_journey import SCREENSHOTS
from tests.browser.test_shelter_journey import DESKTOP, PHONE, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFERENCE = re.compile(r"GE-\d{4}-\d{5}")
ILO_11 = "ilo_forced_labour_11_2012|1.0|adult_forced_labour"
INDICATORS = ("Deception", "Retention of identity documents", "Withholding of wages")
PAYMENT_REFERENCE = "TRS-2025-000417"


def message(page) -> str:
    return page.locator(".messages").inner_text()


def test_case_from_referral_to_closure(browser, live_server):
    ensure_catalogue()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    fund = AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND, region="GE-TB")
    group = AgencyFactory(name="Permanent Group", kind=AgencyKind.IDENTIFICATION_AUTHORITY)
    police = AgencyFactory(name="Police ATU", kind=AgencyKind.LAW_ENFORCEMENT)
    batumi = AgencyFactory(name="State Fund Shelter, Batumi", kind=AgencyKind.SHELTER, region="GE-AJ")
    responder = member(
        Role.FIRST_RESPONDER,
        agency=police,
        scope=Scope.OWN,
        user__first_name="Giorgi",
        user__last_name="Police",
    )
    worker = member(Role.CASE_WORKER, agency=fund, user__first_name="Tamar", user__last_name="Worker")
    decider = member(
        Role.DECISION_MAKER,
        agency=group,
        scope=Scope.NATIONAL,
        user__first_name="Eka",
        user__last_name="Member",
    )
    provider = member(
        Role.SERVICE_PROVIDER, agency=batumi, user__first_name="Lela", user__last_name="Shelter"
    )

    # --- 1. the police officer, on a phone, refers the person with her consent ------------------------------
    context, page, police_problems = log_in(browser, live_server, responder, **PHONE)
    page.goto(live_server.url + "/cases/refer/")
    page.get_by_role("radio", name="Yes, the person consents").check()
    page.get_by_label("Given name").fill("Nino")
    page.get_by_label("Family name").fill("Beridze")
    page.get_by_label("Date of birth").fill("1994-03-17")
    page.get_by_label("Sex / gender").select_option("feminine")
    page.get_by_role("checkbox", name="Forced labour", exact=True).check()
    page.get_by_label("What happened").fill(
        "Promised a job in a hotel; worked in a greenhouse, passport taken."
    )
    page.get_by_label("Agency that takes the case").select_option(label="State Fund")
    fits_the_phone(page)
    page.get_by_role("button", name="Refer the person").click()
    page.wait_for_url(re.compile(r".*/cases/(refer/\?received=1|[a-z0-9]{24}/)$"))
    confirmation = page.locator("main").inner_text()
    found = REFERENCE.search(confirmation)
    assert found, f"no reference shown after the referral: {confirmation[:300]}"
    reference = found.group(0)
    case = Case.objects.get(reference=reference)
    assert case.owning_agency == fund and case.referring_agency == police
    assert case.status == CaseStatus.REFERRED
    page.screenshot(path=str(SCREENSHOTS / "journey-referred-phone.png"), full_page=True)
    assert police_problems == []
    context.close()

    # --- 2. the case worker screens the person and requests the decision --------------------------------------
    worker_context, wpage, worker_problems = log_in(browser, live_server, worker, **DESKTOP)
    wpage.goto(live_server.url + "/cases/")
    wpage.get_by_role("link", name=reference, exact=True).click()
    wpage.wait_for_url(f"**/cases/{case.public_id}/")
    assert wpage.get_by_role("heading", level=1).inner_text() == reference
    wpage.locator("#screening-section").get_by_role("link", name="Screen").click()
    wpage.wait_for_url(f"**/cases/{case.public_id}/screen/**")
    wpage.get_by_label("Instrument and list").select_option(ILO_11)
    wpage.get_by_role("button", name="Show this list").click()
    wpage.wait_for_url(re.compile(r".*/screen/\?.*choice="))
    assert "ILO indicators of forced labour" in wpage.locator("#instrument-heading").inner_text()
    for indicator in INDICATORS:
        wpage.get_by_role("checkbox", name=indicator, exact=True).check()
    result = wpage.locator("#screening-result")
    # The live result (htmx preview, nothing saved yet) shows the conclusion.
    result.locator(".conclusion", has_text="Conclusion: Presumed victim").wait_for()
    assert case.screenings.count() == 0, "the preview saves nothing"
    wpage.screenshot(path=str(SCREENSHOTS / "journey-screening.png"), full_page=True)
    wpage.get_by_role("button", name="Save the screening").click()
    wpage.wait_for_url(f"**/cases/{case.public_id}/")
    assert "The screening was recorded. Conclusion: Presumed victim." in message(wpage)
    assert "Presumed victim" in wpage.locator("#screening-section").inner_text()

    decision_section = wpage.locator("#decision-section")
    decision_section.get_by_label("Identification route").select_option(label="Permanent Group")
    decision_section.get_by_role("button", name="Request the decision").click()
    wpage.wait_for_url(f"**/cases/{case.public_id}/")
    assert "The decision was requested; its deadline is shown on the case." in message(wpage)
    pending = Decision.objects.get(case=case)
    assert pending.route == "permanent_group" and pending.outcome == ""
    assert "Identification decision due by" in wpage.locator(".case-header .clock").inner_text()
    section = decision_section.inner_text()
    assert "Decision pending" in section and "Deadline" in section and "Permanent Group" in section
    assert decision_section.locator("time").get_attribute("datetime")
    assert worker_problems == []

    # --- 3. the Permanent Group member grants the status ------------------------------------------------------
    decider_context, dpage, decider_problems = log_in(browser, live_server, decider, **DESKTOP)
    dpage.goto(live_server.url + "/cases/decisions/")
    row = dpage.locator("table.queue tbody tr", has_text=reference)
    assert row.count() == 1
    row.get_by_role("link", name=f"Decide on {reference}").click()
    dpage.wait_for_url(f"**/cases/decisions/{pending.public_id}/")
    assert "Presumed victim" in dpage.locator("main").inner_text()
    dpage.get_by_role("radio", name="Status granted").check()
    dpage.get_by_label("Reasons").fill(
        "Deception, retention of her passport and wages withheld: status granted."
    )
    dpage.get_by_label("Members who decided").fill("Eka Member\nNana Kobakhidze\nDavit Lomidze")
    dpage.get_by_role("button", name="Record the decision").click()
    dpage.wait_for_url(f"**/cases/{case.public_id}/")
    assert "The decision was recorded." in message(dpage)
    assert "Status granted" in dpage.locator("#decision-section").inner_text()
    decided = Decision.objects.get(pk=pending.pk)
    assert decided.outcome == DecisionOutcome.GRANTED
    assert decided.decided_at is not None and decided.decided_at < decided.deadline_at, "decided in time"
    assert decided.members == ["Eka Member", "Nana Kobakhidze", "Davit Lomidze"]
    case.refresh_from_db()
    assert case.status == CaseStatus.IDENTIFIED
    assert case.trafficking_status == TraffickingStatus.ACTUAL
    assert decider_problems == []
    decider_context.close()

    # --- 4. the case worker refers the person to the Batumi shelter, recording her consent --------------------
    wpage.goto(live_server.url + f"/referrals/case/{case.public_id}/new/")
    assert "No consent to a referral is on file" in wpage.locator("#consents").inner_text()
    wpage.get_by_role("combobox", name="Service", exact=True).select_option(label="Shelter")
    wpage.get_by_label("Refer to agency").select_option(label="State Fund Shelter, Batumi (Shelter)")
    wpage.get_by_label("What is needed").fill("A safe place to stay, from today.")
    consent_now = wpage.get_by_label("The person consents now to being referred to this agency")
    consent_now.check()
    wpage.get_by_role("button", name="Send the referral").click()
    wpage.wait_for_url(re.compile(r".*/referrals/[a-z0-9]{24}/$"))
    assert "Referral sent to State Fund Shelter, Batumi." in message(wpage)
    referral = Referral.objects.get(case=case)
    assert referral.to_agency == batumi and referral.status == ReferralStatus.PENDING
    assert worker_problems == []

    # --- 5. the shelter accepts ----------------------------------------------------------------------------------
    provider_context, ppage, provider_problems = log_in(browser, live_server, provider, **DESKTOP)
    ppage.goto(live_server.url + "/referrals/")
    waiting = ppage.locator("section", has=ppage.locator("#pending-heading"))
    waiting.locator("tr", has_text=reference).get_by_role("link").click()
    ppage.wait_for_url(f"**/referrals/{referral.public_id}/")
    ppage.get_by_role("button", name="Accept", exact=True).click()
    ppage.wait_for_url(f"**/referrals/{referral.public_id}/")
    assert "Referral accepted." in message(ppage)
    assert ppage.locator("#referral-status").inner_text() == "Accepted"
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.ACCEPTED
    assert provider_problems == []
    provider_context.close()

    # --- 6. compensation: approved, paid once ----------------------------------------------------------------
    wpage.goto(live_server.url + f"/cases/{case.public_id}/")
    compensation_section = wpage.locator("#compensation-section")
    compensation_section.get_by_role("button", name="Approve 1000 GEL").click()
    wpage.wait_for_url(f"**/cases/{case.public_id}/")
    assert "The compensation was approved." in message(wpage)
    compensation_section.get_by_label("Payment reference").fill(PAYMENT_REFERENCE)
    compensation_section.get_by_role("button", name="Record the payment").click()
    wpage.wait_for_url(f"**/cases/{case.public_id}/")
    assert "The payment was recorded." in message(wpage)
    assert f"payment reference {PAYMENT_REFERENCE}" in compensation_section.inner_text()
    assert compensation_section.get_by_role("button", name="Record the payment").count() == 0
    compensation = Compensation.objects.get(case=case)

    # A second payment, from the payment page itself (a stale tab): refused, with the reason shown.
    wpage.goto(live_server.url + f"/cases/compensation/{compensation.public_id}/pay/")
    assert "This compensation was already paid." in wpage.locator("main").inner_text()
    wpage.get_by_label("Payment reference").fill("TRS-2025-000999")
    wpage.get_by_role("button", name="Record the payment").click()
    wpage.locator(".form-errors", has_text="This compensation was already paid.").wait_for()
    assert Compensation.objects.filter(case=case).count() == 1
    compensation.refresh_from_db()
    assert compensation.paid_at is not None and compensation.payment_reference == PAYMENT_REFERENCE
    assert compensation.paid_by == worker

    # --- 7. the case is closed ---------------------------------------------------------------------------------
    wpage.goto(live_server.url + f"/cases/{case.public_id}/")
    closure = wpage.locator("#closure-section")
    closure.locator("summary", has_text="Close the case").click()
    closure.get_by_label("Reason for closing").select_option(ClosureReason.ASSISTANCE_COMPLETED.value)
    closure.locator("form").get_by_role("button", name="Close the case").click()
    wpage.wait_for_url(f"**/cases/{case.public_id}/")
    assert "The case was closed." in message(wpage)
    assert "Assistance completed" in closure.inner_text()
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.closed_at <= timezone.now()

    # --- 8. the timeline tells every step ------------------------------------------------------------------
    wpage.get_by_role("navigation", name="This case").get_by_role("link", name="Timeline").click()
    wpage.wait_for_url(f"**/cases/{case.public_id}/timeline/")
    entries = wpage.locator("ol.timeline li").all_inner_texts()
    timeline = "\n".join(entries)
    expected = {
        "referred": "Giorgi Police (Police ATU) referred the person to State Fund.",
        "screened": "screened the person (ilo_forced_labour_11_2012 1.0): Presumed victim.",
        "decision requested": "Tamar Worker requested an identification decision (Permanent Group), due by",
        "decided": "Eka Member recorded the decision (Permanent Group): Status granted.",
        "referral sent": "referred the person to State Fund Shelter, Batumi for",
        "referral accepted": "accepted the referral",
        "compensation approved": "Tamar Worker approved the compensation (",
        "compensation paid": "Tamar Worker recorded the payment of the compensation (",
        "closed": "Tamar Worker closed the case: Assistance completed.",
    }
    missing = {step: text for step, text in expected.items() if text not in timeline}
    assert not missing, f"steps missing from the timeline: {missing}\n---\n{timeline}"
    assert "after the deadline" not in timeline
    assert "GEL" in timeline
    wpage.screenshot(path=str(SCREENSHOTS / "journey-timeline.png"), full_page=True)
    assert worker_problems == []
    worker_context.close()
