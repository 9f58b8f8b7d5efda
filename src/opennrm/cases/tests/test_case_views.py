"""The case page and its sub-pages: who sees what, identity shown on request and audited, optimistic locking on edit,
consent, and the timeline's sentences."""

from __future__ import annotations

import datetime as dt
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, UserFactory, logged_in_client, member
from opennrm.cases import services
from opennrm.cases.models import Case, CaseEvent, Consent, Decision
from opennrm.cases.services import IntakeData, refer_person
from opennrm.cases.views.case import describe_event
from opennrm.core.models import AuditEntry

pytestmark = pytest.mark.django_db

ALL_ROLES = list(Role)
SEES_CASES = {r for r in Role if ROLE_PERMISSIONS[r] & {Perm.CASE_VIEW, Perm.CASE_REFER}}
READS_IDENTITY = {r for r in Role if Perm.CASE_VIEW_IDENTITY in ROLE_PERMISSIONS[r]}
EDITS = {r for r in Role if Perm.CASE_EDIT in ROLE_PERMISSIONS[r]}
PAGES = ["", "edit/", "identity/", "identity/edit/", "consent/", "timeline/"]
ALLOWED = {
    "": SEES_CASES,
    "edit/": EDITS,
    "identity/": READS_IDENTITY,
    "identity/edit/": EDITS & READS_IDENTITY,
    "consent/": SEES_CASES,
    "timeline/": SEES_CASES,
}


@pytest.fixture
def fund():
    return AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND)


def make_case(owner, *, child=False, given="Nino", family="Beridze", document="AB12345", actor=None) -> Case:
    police = AgencyFactory(name=f"Police for {owner.name}", kind=AgencyKind.LAW_ENFORCEMENT)
    actor = actor or member(Role.FIRST_RESPONDER, agency=police, scope=Scope.OWN)
    born = timezone.localdate().replace(year=timezone.localdate().year - (15 if child else 30), day=1)
    return refer_person(
        actor=actor,
        referring_agency=police,
        owning_agency=owner,
        consent_given=not child,
        data=IntakeData(
            given_name=given,
            family_name=family,
            date_of_birth=born,
            document_type="passport",
            document_number=document,
            phone="+995 555 000 111",
            region="GE-TB",
            exploitation_forms=["forced_labour"],
            narrative="Worked without pay in a hotel.",
            guardian="Mother: Maia" if child else "",
        ),
    )


def url(case: Case, page: str = "") -> str:
    return f"/cases/{case.public_id}/{page}"


# --- who may open what ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
@pytest.mark.parametrize("page", PAGES)
def test_each_page_answers_the_roles_of_the_owning_agency(fund, role, page):
    case = make_case(fund)
    client = logged_in_client(member(role, agency=fund))
    expected = 200 if role in ALLOWED[page] else 404
    assert client.get(url(case, page)).status_code == expected


@pytest.mark.parametrize("role", sorted(SEES_CASES))
@pytest.mark.parametrize("page", PAGES)
def test_a_member_of_another_agency_gets_404_like_a_missing_case(fund, role, page):
    case = make_case(fund)
    client = logged_in_client(member(role, agency=AgencyFactory(name="Other NGO")))
    response = client.get(url(case, page))
    missing = client.get(f"/cases/aaaaaaaaaaaaaaaaaaaaaaaa/{page}")
    assert response.status_code == 404 and missing.status_code == 404
    assert case.reference not in response.content.decode()
    assert client.post(url(case, page), {"version": case.version}).status_code in (404, 405)


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_users_are_sent_to_log_in(client, fund, page):
    case = make_case(fund)
    response = client.get(url(case, page))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login")


def test_national_scope_sees_cases_of_every_agency(fund):
    case = make_case(fund)
    decider = member(Role.DECISION_MAKER, agency=AgencyFactory(name="Permanent Group"), scope=Scope.NATIONAL)
    assert logged_in_client(decider).get(url(case)).status_code == 200


# --- the case page ---------------------------------------------------------------------------------------


def test_the_case_page_shows_the_case_without_identity(fund):
    case = make_case(fund, child=True)
    worker = member(Role.CASE_WORKER, agency=fund)
    html = logged_in_client(worker).get(url(case)).content.decode()
    assert case.reference in html
    assert 'class="badge badge-child"' in html
    assert "Forced labour" in html and "Tbilisi" in html and "State Fund" in html
    assert "Recovery and reflection period" in html
    assert "Show identity" in html
    # Hidden until asked for: no name, no document, no narrative on the page, and no identity read audited.
    for secret in ("Nino", "Beridze", "AB12345", "hotel", "Maia", "555 000"):
        assert secret not in html
    assert not AuditEntry.objects.filter(action__in=["person.read", "case.read"]).exists()


def test_a_pending_decision_shows_its_deadline_and_when_it_is_overdue(fund):
    case = make_case(fund)
    worker = member(Role.CASE_WORKER, agency=fund)
    client = logged_in_client(worker)
    decision = services.request_decision(actor=worker, case=case, route=_route())
    assert "Identification decision due by" in client.get(url(case)).content.decode()
    Decision.objects.filter(pk=decision.pk).update(deadline_at=timezone.now() - timedelta(hours=3))
    assert "Identification decision overdue" in client.get(url(case)).content.decode()


def _route() -> str:
    from opennrm.core.profiles import active_profile

    return active_profile().authorities[0].key


def test_a_coordinator_sees_no_identity_section(fund):
    case = make_case(fund)
    coordinator = member(Role.COORDINATOR, agency=AgencyFactory(name="Council"), scope=Scope.NATIONAL)
    client = logged_in_client(coordinator)
    html = client.get(url(case)).content.decode()
    assert response_ok(html, case)
    assert "Show identity" not in html and 'id="identity-section"' not in html
    assert client.get(url(case, "identity/")).status_code == 404


def response_ok(html: str, case: Case) -> bool:
    return case.reference in html and "Nino" not in html


def test_the_case_page_includes_every_section_in_order(fund):
    case = make_case(fund)
    html = logged_in_client(member(Role.CASE_WORKER, agency=fund)).get(url(case)).content.decode()
    positions = [
        html.index(marker)
        for marker in (
            'id="overview-heading"',
            'id="identity-section"',
            'id="consent-heading"',
            'id="timeline-heading"',
        )
    ]
    assert positions == sorted(positions)


def test_panels_of_other_apps_are_rendered(fund, monkeypatch):
    from opennrm.core import panels

    case = make_case(fund)
    monkeypatch.setattr(panels, "_registry", {})
    panels.register(
        "case_detail", lambda request, obj: panels.Panel(template="cases/_timeline.html", context={}, order=1)
    )
    html = logged_in_client(member(Role.CASE_WORKER, agency=fund)).get(url(case)).content.decode()
    assert html.count('<ol class="timeline"') == 2


# --- identity --------------------------------------------------------------------------------------------


def test_showing_the_identity_is_audited_with_the_field_names(fund):
    case = make_case(fund, child=True)
    worker = member(Role.CASE_WORKER, agency=fund)
    response = logged_in_client(worker).get(url(case, "identity/"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Nino" in html and "Beridze" in html and "AB12345" in html and "hotel" in html and "Maia" in html
    assert response["Cache-Control"] == "no-store"
    person_read = AuditEntry.objects.get(action="person.read")
    assert person_read.actor == worker.public_id and person_read.target_id == case.person.public_id
    assert set(person_read.fields) == {
        "given_name",
        "family_name",
        "other_names",
        "date_of_birth",
        "documents",
        "contacts",
        "address",
    }
    case_read = AuditEntry.objects.get(action="case.read")
    assert case_read.fields == ["narrative", "guardian"] and case_read.target_id == case.public_id


def test_the_identity_page_works_without_javascript(fund):
    case = make_case(fund)
    html = (
        logged_in_client(member(Role.CASE_WORKER, agency=fund)).get(url(case, "identity/")).content.decode()
    )
    assert "<html" in html and "Nino" in html and case.reference in html


def test_the_first_responder_who_filed_the_case_may_read_its_identity(fund):
    responder = member(Role.FIRST_RESPONDER, scope=Scope.OWN)
    case = make_case(fund, actor=responder)
    client = logged_in_client(responder)
    assert "Show identity" in client.get(url(case)).content.decode()
    assert "Beridze" in client.get(url(case, "identity/")).content.decode()
    assert client.get(url(case, "edit/")).status_code == 404


def test_the_identity_is_edited_and_indexed(fund):
    case = make_case(fund)
    worker = member(Role.CASE_WORKER, agency=fund)
    client = logged_in_client(worker)
    form = client.get(url(case, "identity/edit/")).content.decode()
    assert 'value="Beridze"' in form and 'value="AB12345"' in form
    assert AuditEntry.objects.filter(action="person.read").count() == 1
    data = _identity_post(case, family_name="Beridze-Kapanadze", doc_number_1="CD 999")
    response = client.post(url(case, "identity/edit/"), data)
    assert response.status_code == 302
    case.person.refresh_from_db()
    assert case.person.family_name == "Beridze-Kapanadze"
    assert [d["number"] for d in case.person.documents] == ["AB12345", "CD 999"]
    entry = AuditEntry.objects.get(action="person.updated")
    assert entry.fields == ["documents", "family_name"]


def _identity_post(case: Case, **overrides) -> dict:
    person = case.person
    data = {
        "version": case.version,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "date_of_birth": person.date_of_birth.isoformat(),
        "sex": person.sex,
        "citizenship": person.citizenship,
        "doc_type_0": "passport",
        "doc_number_0": "AB12345",
        "contact_kind_0": "phone",
        "contact_value_0": "+995 555 000 111",
    }
    data.update(overrides)
    return data


def test_a_future_date_of_birth_is_refused_on_the_identity(fund):
    case = make_case(fund)
    client = logged_in_client(member(Role.CASE_WORKER, agency=fund))
    response = client.post(url(case, "identity/edit/"), _identity_post(case, date_of_birth="2999-01-01"))
    assert response.status_code == 200
    assert "The date of birth cannot be in the future." in response.content.decode()
    case.person.refresh_from_db()
    assert case.person.date_of_birth.year < 2999


# --- editing and optimistic locking ------------------------------------------------------------------


def _edit_post(case: Case, **overrides) -> dict:
    data = {
        "version": case.version,
        "exploitation_forms": ["forced_labour"],
        "region": "GE-TB",
        "narrative": case.narrative,
    }
    data.update(overrides)
    return data


def test_a_case_worker_edits_the_case(fund):
    case = make_case(fund)
    worker = member(Role.CASE_WORKER, agency=fund)
    client = logged_in_client(worker)
    form = client.get(url(case, "edit/")).content.decode()
    assert 'name="version"' in form and "Worked without pay" in form
    response = client.post(
        url(case, "edit/"),
        _edit_post(
            case,
            exploitation_forms=["forced_labour", "sexual_exploitation"],
            methods_of_control=["debt_bondage"],
            case_worker=worker.public_id,
            region="GE-IM",
        ),
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (
        case.region == "GE-IM" and case.methods_of_control == ["debt_bondage"] and case.case_worker == worker
    )
    assert set(case.exploitation_forms.values_list("form", flat=True)) == {
        "forced_labour",
        "sexual_exploitation",
    }
    assert case.version == 2
    assert CaseEvent.objects.filter(case=case, kind="updated").get().data["fields"] == [
        "case_worker",
        "exploitation_forms",
        "methods_of_control",
        "region",
    ]


def test_a_concurrent_edit_is_refused_and_the_first_edit_and_the_input_are_kept(fund):
    case = make_case(fund)
    first, second = member(Role.CASE_WORKER, agency=fund), member(Role.CASE_WORKER, agency=fund)
    loaded = _edit_post(case)  # both load the form at version 1
    assert logged_in_client(first).post(url(case, "edit/"), {**loaded, "region": "GE-IM"}).status_code == 302
    response = logged_in_client(second).post(
        url(case, "edit/"), {**loaded, "region": "GE-KA", "narrative": "My careful notes"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Someone else changed this case while you were editing it." in html
    assert "My careful notes" in html and '<option value="GE-KA" selected>' in html
    assert 'name="version" value="1"' in html  # submitting again would be refused again, not overwrite
    case.refresh_from_db()
    assert case.region == "GE-IM" and case.narrative == "Worked without pay in a hotel." and case.version == 2


def test_a_concurrent_identity_edit_is_refused(fund):
    case = make_case(fund)
    worker = member(Role.CASE_WORKER, agency=fund)
    loaded = _identity_post(case)
    services.update_case(actor=worker, case=case, expected_version=1, changes={"region": "GE-IM"})
    response = logged_in_client(worker).post(url(case, "identity/edit/"), {**loaded, "given_name": "Nina"})
    assert "Someone else changed this case" in response.content.decode()
    case.person.refresh_from_db()
    assert case.person.given_name == "Nino"


def test_an_unknown_code_is_refused_on_edit(fund):
    case = make_case(fund)
    client = logged_in_client(member(Role.CASE_WORKER, agency=fund))
    response = client.post(url(case, "edit/"), _edit_post(case, perpetrator_roles=["mastermind_of_evil"]))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    case.refresh_from_db()
    assert case.version == 1


# --- consent ---------------------------------------------------------------------------------------------


def test_consents_are_listed_recorded_and_withdrawn(fund):
    case = make_case(fund)
    worker = member(Role.CASE_WORKER, agency=fund)
    shelter = AgencyFactory(name="Batumi Shelter", kind=AgencyKind.SHELTER)
    client = logged_in_client(worker)
    html = client.get(url(case, "consent/")).content.decode()
    assert "Processing of personal data" in html and "Given" in html
    response = client.post(url(case, "consent/"), {"purpose": "referral", "given": "yes", "basis": "consent"})
    assert "A consent to a referral names the agency it is for." in response.content.decode()
    response = client.post(
        url(case, "consent/"),
        {"purpose": "referral", "given": "yes", "basis": "consent", "agency": shelter.public_id},
    )
    assert response.status_code == 302
    consent = Consent.objects.get(case=case, purpose="referral")
    assert consent.agency == shelter and consent.recorded_by == worker
    html = client.get(url(case, "consent/")).content.decode()
    assert "Batumi Shelter" in html
    assert client.post(url(case, "consent/"), {"withdraw": consent.public_id}).status_code == 302
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    assert "Withdrawn on" in client.get(url(case, "consent/")).content.decode()


def test_a_reader_cannot_record_consent(fund):
    case = make_case(fund)
    client = logged_in_client(member(Role.COORDINATOR, agency=fund))
    assert "Record a consent" not in client.get(url(case, "consent/")).content.decode()
    consent = Consent.objects.get(case=case)
    assert client.post(url(case, "consent/"), {"withdraw": consent.public_id}).status_code == 404
    consent.refresh_from_db()
    assert consent.withdrawn_at is None


# --- the timeline ----------------------------------------------------------------------------------------


def test_the_timeline_page_tells_what_happened(fund):
    case = make_case(fund)
    worker = member(Role.CASE_WORKER, agency=fund, user__first_name="Tamar", user__last_name="Gelashvili")
    services.add_note(actor=worker, case=case, body="Secret note text")
    html = logged_in_client(worker).get(url(case, "timeline/")).content.decode()
    assert "referred the person to State Fund" in html
    assert "Tamar Gelashvili added a note." in html
    assert "Secret note text" not in html


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (
            "referred",
            {"owning_agency": "State Fund", "child": True},
            "Ana Demo (Police) referred the person to State Fund. The person is a child.",
        ),
        (
            "consent",
            {"purpose": "data_processing", "given": True, "basis": "consent"},
            "recorded consent for: Processing of personal data (Consent of the person).",
        ),
        (
            "consent",
            {"purpose": "referral", "given": False, "basis": "consent"},
            "consent was refused for: Referral to an agency.",
        ),
        ("consent_withdrawn", {"purpose": "research"}, "consent was withdrawn for: Research and statistics"),
        (
            "updated",
            {"fields": ["region", "exploitation_forms"]},
            "changed the case: region, forms of exploitation.",
        ),
        ("identity_updated", {"fields": ["given_name"]}, "changed the identity: given name."),
        (
            "screened",
            {"instrument": "ilo", "version": "1", "conclusion": "presumed_victim"},
            "screened the person (ilo 1): Presumed victim.",
        ),
        (
            "decision_requested",
            {"route": "nowhere", "deadline": "2026-01-02T10:00:00+00:00"},
            "requested an identification decision (nowhere), due by",
        ),
        ("appeal_lodged", {"route": "nowhere", "deadline": ""}, "lodged an appeal (nowhere)"),
        (
            "decided",
            {"outcome": "granted", "route": "x", "within_deadline": False},
            "Status granted, after the deadline.",
        ),
        ("closed", {"reason": "returned"}, "closed the case: Returned to the country of origin."),
        ("reopened", {"status": "referred"}, "reopened the case (now: Referred)."),
        (
            "compensation_approved",
            {"amount": "1000.00", "currency": "GEL"},
            "approved the compensation (1000.00 GEL).",
        ),
        (
            "compensation_paid",
            {"amount": "1000.00", "currency": "GEL"},
            "recorded the payment of the compensation (1000.00 GEL).",
        ),
        ("plan_item_added", {"type": "x"}, "added a support plan item: x."),
        ("plan_item_completed", {"type": "x"}, "completed a support plan item: x."),
        ("note_added", {}, "added a note."),
        ("attachment_added", {"type": "application/pdf", "size": 10}, "attached a file."),
        (
            "referral_sent",
            {"to_agency": "Shelter", "service": "Shelter stay"},
            "referred the person to Shelter for Shelter stay.",
        ),
        ("referral_sent", {}, "sent a referral to a service."),
        ("referral_accepted", {"service": "Shelter stay"}, "accepted the referral for Shelter stay."),
        ("referral_declined", {}, "declined a referral."),
        ("referral_completed", {}, "completed a referral."),
        ("referral_withdrawn", {}, "withdrew a referral."),
        ("service_delivered", {"service": "Legal aid"}, "recorded a service given: Legal aid."),
        ("something_new", {"x": 1}, "Ana Demo (Police): something new."),
    ],
)
def test_every_kind_of_event_reads_as_a_sentence(kind, data, expected):
    actor = UserFactory.build(first_name="Ana", last_name="Demo")
    event = CaseEvent(kind=kind, data=data, actor=actor, agency=AgencyFactory.build(name="Police"))
    assert expected in describe_event(event)


def test_a_system_event_names_the_system():
    assert describe_event(CaseEvent(kind="note_added", data={})) == "The system added a note."


def test_dates_in_events_are_local(fund):
    event = CaseEvent(
        kind="decision_requested",
        data={"route": "", "deadline": dt.datetime(2026, 1, 2, 10, 0, tzinfo=dt.UTC).isoformat()},
    )
    assert "2026" in describe_event(event)


def test_the_edit_form_has_labels_fieldsets_and_no_inline_script(fund):
    case = make_case(fund)
    html = logged_in_client(member(Role.CASE_WORKER, agency=fund)).get(url(case, "edit/")).content.decode()
    assert html.count("<legend>") >= 3
    for name in (
        "forced_labour_industry",
        "relationship_to_trafficker",
        "region",
        "narrative",
        "case_worker",
    ):
        assert re.search(rf'<label for="id_{name}">', html)
    assert "<script>" not in html
