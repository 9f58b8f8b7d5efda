"""Identification decisions in the pages: requesting one, the decision section of the case page, the decision
makers' queue, deciding, appealing — by role, for another agency, and with the acts the rules refuse."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.template.defaultfilters import date as date_filter
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import logged_in_client, member
from opennrm.cases import services
from opennrm.cases.choices import CaseStatus, ClosureReason, DecisionOutcome
from opennrm.cases.models import Decision
from opennrm.cases.tests.test_services import grant, refer, screen, worker_and_agency
from opennrm.core.models import AuditEntry
from opennrm.core.profiles import active_profile

pytestmark = pytest.mark.django_db

ROLES = list(Role)
REASONS = "Indicators of forced labour confirmed by two interviews."


def may(role: Role, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS[role]


def pending_case(**kwargs):
    worker, agency = worker_and_agency()
    case = refer(worker, agency, **kwargs)
    decision = services.request_decision(actor=worker, case=case, route="permanent_group")
    return worker, agency, case, decision


def decide_data(outcome: str = DecisionOutcome.GRANTED, reasons: str = REASONS) -> dict[str, str]:
    return {
        "outcome": outcome,
        "reasons": reasons,
        "members": "Member A\nMember B\n\nMember C\nMember D\nMember E",
    }


# --- requesting a decision ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_case_workers_request_a_decision(role):
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    client = logged_in_client(member(role, agency=agency))
    url = reverse("cases:request_decision", args=[case.public_id])
    assert client.get(url).status_code == (200 if may(role, Perm.DECISION_REQUEST) else 404)
    response = client.post(url, {"route": "permanent_group"})
    assert response.status_code == (302 if may(role, Perm.DECISION_REQUEST) else 404)
    assert Decision.objects.filter(case=case).count() == (1 if may(role, Perm.DECISION_REQUEST) else 0)


def test_a_case_worker_of_another_agency_cannot_request_a_decision():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    stranger = logged_in_client(member(Role.CASE_WORKER))
    url = reverse("cases:request_decision", args=[case.public_id])
    assert stranger.get(url).status_code == 404
    assert stranger.post(url, {"route": "permanent_group"}).status_code == 404
    assert Decision.objects.count() == 0


def test_requesting_stores_the_48_hour_deadline_and_the_case_page_shows_it():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    client = logged_in_client(worker)
    before = timezone.now()
    response = client.post(
        reverse("cases:request_decision", args=[case.public_id]), {"route": "permanent_group"}
    )
    assert response["Location"] == reverse("cases:detail", args=[case.public_id])
    decision = Decision.objects.get(case=case)
    assert before + dt.timedelta(hours=48) <= decision.deadline_at <= timezone.now() + dt.timedelta(hours=48)
    page = client.get(response["Location"]).content.decode()
    assert "The decision was requested" in page
    assert "Decision pending" in page and "Permanent Group" in page
    assert "48 hours" in page
    assert "left" in page and "OVERDUE" not in page
    with timezone.override(ZoneInfo("Asia/Tbilisi")):  # the profile's local time, whatever the server's
        assert date_filter(timezone.localtime(decision.deadline_at), "DATETIME_FORMAT") in page


def test_the_route_list_is_the_profiles_and_an_unknown_route_is_refused():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    client = logged_in_client(worker)
    url = reverse("cases:request_decision", args=[case.public_id])
    form = client.get(url).content.decode()
    assert 'value="permanent_group"' in form and 'value="law_enforcement"' in form
    response = client.post(url, {"route": "ministry_of_magic"})
    assert response.status_code == 200
    assert "Unknown identification route: ministry_of_magic" in response.content.decode()
    assert Decision.objects.count() == 0
    case.refresh_from_db()
    assert case.status == CaseStatus.REFERRED


def test_a_decision_is_not_requested_on_a_closed_case():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    services.close_case(actor=worker, case=case, reason=ClosureReason.LOST_CONTACT)
    response = logged_in_client(worker).post(
        reverse("cases:request_decision", args=[case.public_id]), {"route": "permanent_group"}
    )
    assert "A decision cannot be requested on a closed case." in response.content.decode()
    assert Decision.objects.count() == 0


def test_an_overdue_decision_says_so_in_words():
    worker, _agency, case, decision = pending_case()
    Decision.objects.filter(pk=decision.pk).update(deadline_at=timezone.now() - dt.timedelta(hours=3))
    page = logged_in_client(worker).get(reverse("cases:detail", args=[case.public_id])).content.decode()
    assert "OVERDUE by 3" in page


@override_settings(OPENNRM_COUNTRY="UA")
def test_a_placeholder_deadline_is_flagged_and_a_status_validity_shown():
    worker, agency = worker_and_agency()
    maker = member(Role.DECISION_MAKER, agency=agency)
    case = refer(worker, agency)
    route = active_profile().authorities[0].key
    decision = services.request_decision(actor=worker, case=case, route=route)
    client = logged_in_client(worker)
    page = client.get(reverse("cases:detail", args=[case.public_id])).content.decode()
    assert "is a placeholder, not yet confirmed" in page
    grant(maker, decision)
    decision.refresh_from_db()
    assert decision.valid_until is not None
    page = client.get(reverse("cases:detail", args=[case.public_id])).content.decode()
    assert "The victim status is valid until" in page


# --- the decision section of the case page --------------------------------------------------------------------


def test_reasons_and_members_are_shown_only_to_who_may_read_identity():
    worker, agency, case, decision = pending_case()
    grant(member(Role.DECISION_MAKER, agency=agency), decision)
    coordinator = member(Role.COORDINATOR, agency=agency)
    mine = logged_in_client(worker).get(reverse("cases:detail", args=[case.public_id])).content.decode()
    theirs = (
        logged_in_client(coordinator).get(reverse("cases:detail", args=[case.public_id])).content.decode()
    )
    assert "Status granted" in mine and "Status granted" in theirs
    assert "Indicators of forced labour confirmed." in mine
    assert "Members who decided: A, B, C, D, E" in mine
    assert "Indicators of forced labour confirmed." not in theirs
    assert "Members who decided" not in theirs
    read = AuditEntry.objects.filter(action="decision.reasons.read")
    assert [entry.actor for entry in read] == [worker.public_id]


def test_a_refusal_offers_the_appeal_and_the_appeal_starts_a_new_clock():
    worker, agency, case, decision = pending_case()
    maker = member(Role.DECISION_MAKER, agency=agency)
    services.decide(
        actor=maker, decision=decision, outcome=DecisionOutcome.REFUSED, reasons="Not enough evidence."
    )
    client = logged_in_client(worker)
    page = client.get(reverse("cases:detail", args=[case.public_id])).content.decode()
    assert reverse("cases:appeal", args=[case.public_id]) in page
    response = client.post(reverse("cases:appeal", args=[case.public_id]))
    assert response.status_code == 302
    appeal = Decision.objects.get(case=case, outcome="")
    assert (appeal.is_appeal, appeal.appeal_of_id, appeal.route) == (True, decision.pk, "permanent_group")
    page = client.get(reverse("cases:detail", args=[case.public_id])).content.decode()
    assert "Appeal pending" in page
    assert reverse("cases:appeal", args=[case.public_id]) not in page


@pytest.mark.parametrize("role", ROLES)
def test_only_case_workers_lodge_an_appeal(role):
    _worker, agency, case, decision = pending_case()
    services.decide(
        actor=member(Role.DECISION_MAKER, agency=agency),
        decision=decision,
        outcome=DecisionOutcome.REFUSED,
        reasons="Not enough evidence.",
    )
    response = logged_in_client(member(role, agency=agency)).post(
        reverse("cases:appeal", args=[case.public_id])
    )
    assert response.status_code == (302 if may(role, Perm.DECISION_REQUEST) else 404)


def test_only_a_refusal_can_be_appealed():
    worker, _agency, case, _decision = pending_case()
    response = logged_in_client(worker).post(reverse("cases:appeal", args=[case.public_id]))
    assert response.status_code == 200
    assert "Only a refusal can be appealed." in response.content.decode()
    assert Decision.objects.filter(case=case).count() == 1


# --- the queue ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_decision_makers_see_the_queue(role):
    _worker, agency, case, _decision = pending_case()
    response = logged_in_client(member(role, agency=agency)).get(reverse("cases:queue"))
    assert response.status_code == (200 if may(role, Perm.DECISION_MAKE) else 404)
    if response.status_code == 200:
        assert case.reference in response.content.decode()


def test_the_queue_is_soonest_first_with_overdue_and_child_cases_flagged_in_words():
    worker, agency = worker_and_agency()
    later = refer(worker, agency)
    overdue = refer(worker, agency, age=15)
    services.request_decision(actor=worker, case=later, route="permanent_group")
    late = services.request_decision(actor=worker, case=overdue, route="law_enforcement")
    Decision.objects.filter(pk=late.pk).update(deadline_at=timezone.now() - dt.timedelta(hours=2))
    maker = member(Role.DECISION_MAKER, scope=Scope.NATIONAL)
    page = logged_in_client(maker).get(reverse("cases:queue")).content.decode()
    assert page.index(overdue.reference) < page.index(later.reference)
    assert "1 decision is overdue." in page
    assert "OVERDUE by 2" in page
    assert "left" in page
    assert 'class="flag-child"' in page[page.index(overdue.reference) : page.index(later.reference)]
    assert 'class="flag-child"' not in page[page.index(later.reference) :]
    assert reverse("cases:detail", args=[overdue.public_id]) in page
    assert reverse("cases:decide", args=[late.public_id]) in page


def test_a_decision_maker_of_another_agency_does_not_see_the_case_in_the_queue():
    _worker, _agency, case, _decision = pending_case()
    stranger = logged_in_client(member(Role.DECISION_MAKER))
    page = stranger.get(reverse("cases:queue")).content.decode()
    assert case.reference not in page
    assert "No decision is waiting." in page


# --- deciding -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_decision_makers_open_and_record_a_decision(role):
    _worker, agency, _case, decision = pending_case()
    client = logged_in_client(member(role, agency=agency))
    url = reverse("cases:decide", args=[decision.public_id])
    allowed = may(role, Perm.DECISION_MAKE)
    assert client.get(url).status_code == (200 if allowed else 404)
    assert client.post(url, decide_data()).status_code == (302 if allowed else 404)
    decision.refresh_from_db()
    assert decision.outcome == (DecisionOutcome.GRANTED if allowed else "")


def test_a_decision_maker_of_another_agency_gets_404():
    _worker, _agency, _case, decision = pending_case()
    stranger = logged_in_client(member(Role.DECISION_MAKER))
    url = reverse("cases:decide", args=[decision.public_id])
    assert stranger.get(url).status_code == 404
    assert stranger.post(url, decide_data()).status_code == 404
    decision.refresh_from_db()
    assert decision.outcome == ""


def test_the_decision_page_shows_the_screening_and_the_facts_and_audits_the_narrative():
    worker, agency = worker_and_agency()
    case = refer(worker, agency, age=16)
    screen(worker, case, list_id="child_labour")
    decision = services.request_decision(actor=worker, case=case, route="permanent_group")
    maker = member(Role.DECISION_MAKER, agency=agency)
    page = logged_in_client(maker).get(reverse("cases:decide", args=[decision.public_id])).content.decode()
    assert "Presumed victim" in page
    assert "Unverified instrument" in page
    assert "advice to the decision maker, never the decision" in page
    assert "passport taken on arrival" in page
    assert "Yes: the best interests of the child come first" in page
    assert "Permanent Group" in page and "48 hours" in page
    assert "Nino" not in page and "Beridze" not in page  # the name is not needed to decide
    entry = AuditEntry.objects.get(action="case.narrative.read")
    assert (entry.actor, entry.fields) == (maker.public_id, ["narrative"])


def test_recording_a_grant_with_its_members():
    _worker, agency, case, decision = pending_case()
    maker = member(Role.DECISION_MAKER, agency=agency)
    client = logged_in_client(maker)
    response = client.post(reverse("cases:decide", args=[decision.public_id]), decide_data())
    assert response["Location"] == reverse("cases:detail", args=[case.public_id])
    decision.refresh_from_db()
    case.refresh_from_db()
    assert decision.members == ["Member A", "Member B", "Member C", "Member D", "Member E"]
    assert (decision.reasons, decision.decided_by_id) == (REASONS, maker.pk)
    assert case.status == CaseStatus.IDENTIFIED
    assert "The decision was recorded." in client.get(response["Location"]).content.decode()


def test_reasons_are_required():
    _worker, agency, _case, decision = pending_case()
    client = logged_in_client(member(Role.DECISION_MAKER, agency=agency))
    response = client.post(reverse("cases:decide", args=[decision.public_id]), decide_data(reasons="   "))
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    decision.refresh_from_db()
    assert decision.outcome == ""


def test_a_second_decision_of_the_same_request_is_refused_and_changes_nothing():
    _worker, agency, case, decision = pending_case()
    client = logged_in_client(member(Role.DECISION_MAKER, agency=agency))
    url = reverse("cases:decide", args=[decision.public_id])
    client.post(url, decide_data())
    response = client.post(url, decide_data(outcome=DecisionOutcome.REFUSED, reasons="Second thoughts."))
    assert response.status_code == 200
    assert "This request was already decided." in response.content.decode()
    decision.refresh_from_db()
    case.refresh_from_db()
    assert (decision.outcome, decision.reasons) == (DecisionOutcome.GRANTED, REASONS)
    assert case.status == CaseStatus.IDENTIFIED
    htmx = client.post(url, decide_data(outcome=DecisionOutcome.REFUSED), HTTP_HX_REQUEST="true")
    assert htmx.status_code == 400


def test_a_decision_after_closure_is_refused_and_changes_nothing():
    worker, agency, case, decision = pending_case()
    maker = member(Role.DECISION_MAKER, agency=agency)
    grant(maker, decision)
    case.refresh_from_db()
    services.close_case(actor=worker, case=case, reason=ClosureReason.ASSISTANCE_COMPLETED)
    response = logged_in_client(maker).post(
        reverse("cases:decide", args=[decision.public_id]), decide_data(outcome=DecisionOutcome.REFUSED)
    )
    assert "This request was already decided." in response.content.decode()
    case.refresh_from_db()
    decision.refresh_from_db()
    assert (case.status, decision.outcome) == (CaseStatus.CLOSED, DecisionOutcome.GRANTED)
