"""Assistance on a case in the pages: support plan, notes, attachments, compensation, closure and reopening — by
role, for another agency, and with the acts the rules refuse (translated message, nothing changed)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import logged_in_client, member
from opennrm.cases import services
from opennrm.cases.choices import CaseStatus, ClosureReason
from opennrm.cases.models import Attachment, Case, Compensation, Note, SupportPlanItem
from opennrm.cases.tests.test_services import grant, refer, worker_and_agency
from opennrm.core.models import AuditEntry

pytestmark = pytest.mark.django_db

ROLES = list(Role)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n"


def may(role: Role, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS[role]


def reads_identity(role: Role) -> bool:
    return may(role, Perm.CASE_VIEW_IDENTITY)


def identified_case():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    grant(
        member(Role.DECISION_MAKER, agency=agency),
        services.request_decision(actor=worker, case=case, route="permanent_group"),
    )
    case.refresh_from_db()
    return worker, agency, case


def detail(client, case: Case) -> str:
    return client.get(reverse("cases:detail", args=[case.public_id])).content.decode()


@pytest.fixture
def stored_files():
    """Deletes the encrypted files a test stored."""
    yield
    for attachment in Attachment.objects.all():
        attachment.file.delete(save=False)


# --- every page, every role -----------------------------------------------------------------------------------


PAGES = [
    # (url name, what the url names, permission, POST data that succeeds)
    ("cases:plan_add", "case", Perm.CASE_EDIT, {"type": "legal", "objective": "Claim unpaid wages"}),
    ("cases:note_add", "case", Perm.CASE_EDIT, {"body": "She prefers calls after 18:00."}),
    ("cases:close", "case", Perm.CASE_EDIT, {"reason": ClosureReason.ASSISTANCE_COMPLETED}),
    ("cases:compensation_approve", "case", Perm.COMPENSATION_APPROVE, {}),
    (
        "cases:plan_complete",
        "item",
        Perm.CASE_EDIT,
        {"actual_end": (dt.date.today() - dt.timedelta(days=2)).isoformat()},
    ),
    ("cases:compensation_pay", "compensation", Perm.COMPENSATION_APPROVE, {"payment_reference": "TRX-1"}),
]


def _target(kind: str, worker, case: Case) -> str:
    if kind == "item":
        return services.add_plan_item(actor=worker, case=case, type="health", objective="Check-up").public_id
    if kind == "compensation":
        return services.approve_compensation(actor=worker, case=case).public_id
    return case.public_id


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "kind", "perm", "data"), PAGES, ids=[p[0] for p in PAGES])
def test_each_page_by_role(name, kind, perm, data, role):
    worker, agency, case = identified_case()
    target = _target(kind, worker, case)
    client = logged_in_client(member(role, agency=agency))
    url = reverse(name, args=[target])
    allowed = may(role, perm)
    assert client.get(url).status_code == (200 if allowed else 404)
    response = client.post(url, data)
    assert response.status_code == (302 if allowed else 404)
    if allowed:
        assert response["Location"] == reverse("cases:detail", args=[case.public_id])


@pytest.mark.parametrize(("name", "kind", "perm", "data"), PAGES, ids=[p[0] for p in PAGES])
def test_each_page_answers_404_to_another_agency(name, kind, perm, data):
    worker, _agency, case = identified_case()
    target = _target(kind, worker, case)
    timeline = case.timeline.count()
    for role in (Role.CASE_WORKER, Role.COORDINATOR):
        stranger = logged_in_client(member(role))
        url = reverse(name, args=[target])
        assert stranger.get(url).status_code == 404
        assert stranger.post(url, data).status_code == 404
    assert case.timeline.count() == timeline


@pytest.mark.parametrize("role", ROLES)
def test_reopening_by_role(role):
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    services.close_case(actor=worker, case=case, reason=ClosureReason.LOST_CONTACT)
    response = logged_in_client(member(role, agency=agency)).post(
        reverse("cases:reopen", args=[case.public_id]), {"reason": "She called back."}
    )
    assert response.status_code == (302 if may(role, Perm.CASE_EDIT) else 404)
    case.refresh_from_db()
    assert case.status == (CaseStatus.REFERRED if may(role, Perm.CASE_EDIT) else CaseStatus.CLOSED)


# --- support plan ---------------------------------------------------------------------------------------------


def test_a_plan_item_is_added_and_completed_and_its_text_shown_to_identity_readers_only():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    client = logged_in_client(worker)
    client.post(
        reverse("cases:plan_add", args=[case.public_id]),
        {
            "type": "legal",
            "objective": "Claim unpaid wages",
            "action": "Refer to legal aid",
            "planned_end": "2026-12-31",
        },
    )
    item = SupportPlanItem.objects.get(case=case)
    assert (item.type, item.objective, item.action, item.planned_end) == (
        "legal",
        "Claim unpaid wages",
        "Refer to legal aid",
        dt.date(2026, 12, 31),
    )
    today = timezone.localdate()
    response = client.post(
        reverse("cases:plan_complete", args=[item.public_id]), {"actual_end": today.isoformat()}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.actual_end == today
    page = detail(client, case)
    assert "Claim unpaid wages" in page and "Legal" in page
    coordinator_page = detail(logged_in_client(member(Role.COORDINATOR, agency=agency)), case)
    assert "Legal" in coordinator_page
    assert "Claim unpaid wages" not in coordinator_page


def test_a_future_actual_end_is_refused_and_nothing_changes():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    item = services.add_plan_item(actor=worker, case=case, type="health", objective="Check-up")
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = logged_in_client(worker).post(
        reverse("cases:plan_complete", args=[item.public_id]), {"actual_end": tomorrow.isoformat()}
    )
    assert response.status_code == 200
    assert "The actual end date cannot be in the future." in response.content.decode()
    item.refresh_from_db()
    assert item.actual_end is None


def test_an_objective_is_required():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    response = logged_in_client(worker).post(
        reverse("cases:plan_add", args=[case.public_id]), {"type": "legal"}
    )
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert SupportPlanItem.objects.count() == 0


# --- notes ----------------------------------------------------------------------------------------------------------


def test_notes_are_shown_newest_first_to_identity_readers_only_and_the_read_is_audited():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    client = logged_in_client(worker)
    for body in ("First contact at the bus station.", "Moved to the Batumi shelter."):
        assert (
            client.post(reverse("cases:note_add", args=[case.public_id]), {"body": body}).status_code == 302
        )
    assert Note.objects.filter(case=case).count() == 2
    page = detail(client, case)
    assert page.index("Moved to the Batumi shelter.") < page.index("First contact at the bus station.")
    assert AuditEntry.objects.filter(action="note.read", actor=worker.public_id).exists()
    for role in (Role.COORDINATOR, Role.SERVICE_PROVIDER):
        other = detail(logged_in_client(member(role, agency=agency)), case)
        assert "Batumi" not in other
        assert "Notes are shown only to those who may read identifying data on this case." in other


def test_an_empty_note_is_refused():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    response = logged_in_client(worker).post(reverse("cases:note_add", args=[case.public_id]), {"body": ""})
    assert response.status_code == 200
    assert "There is a problem" in response.content.decode()
    assert Note.objects.count() == 0


# --- attachments ---------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("stored_files")
@pytest.mark.parametrize("role", ROLES)
def test_uploading_and_downloading_by_role(role):
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    attachment = services.add_attachment(
        actor=worker, case=case, upload=SimpleUploadedFile("statement.pdf", PDF)
    )
    client = logged_in_client(member(role, agency=agency))
    upload = client.post(
        reverse("cases:attachment_add", args=[case.public_id]), {"file": SimpleUploadedFile("more.pdf", PDF)}
    )
    assert upload.status_code == (302 if may(role, Perm.CASE_EDIT) else 404)
    download = client.get(reverse("cases:attachment", args=[attachment.public_id]))
    assert download.status_code == (200 if reads_identity(role) else 404)


@pytest.mark.usefixtures("stored_files")
def test_the_download_is_the_decrypted_file_as_an_attachment_and_is_audited():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    client = logged_in_client(worker)
    page = client.get(reverse("cases:attachment_add", args=[case.public_id])).content.decode()
    assert 'enctype="multipart/form-data"' in page
    client.post(
        reverse("cases:attachment_add", args=[case.public_id]),
        {"file": SimpleUploadedFile("Statement of N.B..pdf", PDF)},
    )
    attachment = Attachment.objects.get(case=case)
    assert "Statement of N.B..pdf" in detail(client, case)
    response = client.get(reverse("cases:attachment", args=[attachment.public_id]))
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert "Statement of N.B..pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"
    entry = AuditEntry.objects.get(action="cases.attachment.read")
    assert (entry.actor, entry.target_id, entry.fields) == (worker.public_id, attachment.public_id, ["file"])


@pytest.mark.usefixtures("stored_files")
def test_another_agency_cannot_download():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    attachment = services.add_attachment(actor=worker, case=case, upload=SimpleUploadedFile("s.pdf", PDF))
    for stranger in (member(Role.CASE_WORKER), member(Role.DECISION_MAKER)):
        assert (
            logged_in_client(stranger)
            .get(reverse("cases:attachment", args=[attachment.public_id]))
            .status_code
            == 404
        )
    assert not AuditEntry.objects.filter(action="cases.attachment.read").exists()


@pytest.mark.usefixtures("stored_files")
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "invoice.pdf",
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 100,
            "Only PDF, JPEG, PNG and plain-text files",
        ),
        ("big.pdf", PDF + b"0" * 3_000, "The file is too large"),
    ],
    ids=["exe-renamed-pdf", "oversized"],
)
def test_a_bad_upload_is_refused_with_the_message_and_nothing_is_stored(name, content, expected):
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    timeline = case.timeline.count()
    with override_settings(OPENNRM_MAX_UPLOAD_BYTES=2_000):
        response = logged_in_client(worker).post(
            reverse("cases:attachment_add", args=[case.public_id]),
            {"file": SimpleUploadedFile(name, content)},
        )
    assert response.status_code == 200
    assert expected in response.content.decode()
    assert Attachment.objects.count() == 0
    assert case.timeline.count() == timeline


# --- compensation -----------------------------------------------------------------------------------------------


def test_compensation_is_offered_only_once_the_status_is_granted():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    client = logged_in_client(worker)
    page = detail(client, case)
    assert "State compensation" in page
    assert reverse("cases:compensation_approve", args=[case.public_id]) not in page
    response = client.post(reverse("cases:compensation_approve", args=[case.public_id]))
    assert "Compensation is paid only once the victim status is granted." in response.content.decode()
    assert Compensation.objects.count() == 0


def test_compensation_is_approved_once_and_paid_once():
    _worker, _agency, case = identified_case()
    client = logged_in_client(member(Role.COORDINATOR, scope=Scope.NATIONAL))
    assert reverse("cases:compensation_approve", args=[case.public_id]) in detail(client, case)
    assert client.post(reverse("cases:compensation_approve", args=[case.public_id])).status_code == 302
    again = client.post(reverse("cases:compensation_approve", args=[case.public_id]))
    assert "Compensation was already approved for this case: it is paid once." in again.content.decode()
    assert Compensation.objects.filter(case=case).count() == 1
    compensation = Compensation.objects.get(case=case)
    pay = reverse("cases:compensation_pay", args=[compensation.public_id])
    assert client.post(pay, {"payment_reference": "TRX-0042"}).status_code == 302
    second = client.post(pay, {"payment_reference": "TRX-0043"})
    assert "This compensation was already paid." in second.content.decode()
    compensation.refresh_from_db()
    assert compensation.payment_reference == "TRX-0042"
    page = detail(client, case)
    assert "1000.00 GEL" in page and "TRX-0042" in page


@override_settings(OPENNRM_COUNTRY="GB")
def test_no_compensation_section_where_the_profile_has_none():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    client = logged_in_client(worker)
    assert "State compensation" not in detail(client, case)
    assert client.get(reverse("cases:compensation_approve", args=[case.public_id])).status_code == 404


# --- closure and reopening -------------------------------------------------------------------------------------


def test_closing_with_a_reason_and_follow_up_then_reopening_with_a_reason():
    worker, _agency, case = identified_case()
    client = logged_in_client(worker)
    follow_up = timezone.localdate() + dt.timedelta(days=60)
    response = client.post(
        reverse("cases:close", args=[case.public_id]),
        {"reason": ClosureReason.RETURNED, "follow_up_date": follow_up.isoformat()},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.closure_reason, case.follow_up_date) == (
        CaseStatus.CLOSED,
        ClosureReason.RETURNED,
        follow_up,
    )
    page = detail(client, case)
    assert "Returned to the country of origin" in page
    assert reverse("cases:reopen", args=[case.public_id]) in page
    response = client.post(reverse("cases:reopen", args=[case.public_id]), {"reason": "Re-trafficking risk."})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.IDENTIFIED
    assert [note.body for note in Note.objects.filter(case=case)] == ["Re-trafficking risk."]


def test_a_case_with_a_pending_decision_is_not_closed():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    services.request_decision(actor=worker, case=case, route="permanent_group")
    client = logged_in_client(worker)
    assert "cannot be closed: the decision comes first" in detail(client, case)
    response = client.post(
        reverse("cases:close", args=[case.public_id]), {"reason": ClosureReason.LOST_CONTACT}
    )
    assert response.status_code == 200
    assert "cannot become" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.DECISION_PENDING


def test_a_follow_up_in_the_past_is_refused():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    response = logged_in_client(worker).post(
        reverse("cases:close", args=[case.public_id]),
        {"reason": ClosureReason.LOST_CONTACT, "follow_up_date": yesterday.isoformat()},
    )
    assert "The follow-up date cannot be in the past." in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.REFERRED


def test_reopening_needs_a_reason_and_an_open_case_is_not_reopened():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    client = logged_in_client(worker)
    response = client.post(reverse("cases:reopen", args=[case.public_id]), {"reason": "Why not."})
    assert "Only a closed case can be reopened." in response.content.decode()
    services.close_case(actor=worker, case=case, reason=ClosureReason.LOST_CONTACT)
    response = client.post(reverse("cases:reopen", args=[case.public_id]), {"reason": ""})
    assert "There is a problem" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED


@pytest.mark.usefixtures("stored_files")
def test_the_sections_of_the_case_page_do_not_query_once_per_row():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    worker, _agency, case = identified_case()
    client = logged_in_client(worker)

    def add_rows() -> None:
        services.add_plan_item(actor=worker, case=case, type="health", objective="Check-up")
        services.add_note(actor=worker, case=case, body="A note.")
        services.add_attachment(actor=worker, case=case, upload=SimpleUploadedFile("s.pdf", PDF))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("cases:detail", args=[case.public_id])).status_code == 200
        return len(captured)

    add_rows()
    queries()  # the first request of a session writes to the session
    one = queries()
    for _ in range(4):
        add_rows()
    assert queries() == one


@pytest.mark.usefixtures("stored_files")
def test_a_closed_case_offers_no_new_note_or_file_and_refuses_them():
    worker, agency = worker_and_agency()
    case = refer(worker, agency)
    services.close_case(actor=worker, case=case, reason=ClosureReason.LOST_CONTACT)
    client = logged_in_client(worker)
    page = detail(client, case)
    assert reverse("cases:note_add", args=[case.public_id]) not in page
    assert reverse("cases:attachment_add", args=[case.public_id]) not in page
    note = client.post(reverse("cases:note_add", args=[case.public_id]), {"body": "Late note."})
    upload = client.post(
        reverse("cases:attachment_add", args=[case.public_id]), {"file": SimpleUploadedFile("s.pdf", PDF)}
    )
    for response in (note, upload):
        assert "A closed case cannot be changed. Reopen it first." in response.content.decode()
    assert (Note.objects.count(), Attachment.objects.count()) == (0, 0)
