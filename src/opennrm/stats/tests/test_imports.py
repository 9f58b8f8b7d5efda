"""Imports: a malformed file gives a row-level report (row, field, what was wrong; never an identifying value) and
saves its good rows; a re-run saves nothing twice; the pages answer only the users who may import, and 404 to
anyone else (another agency included)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import NoReverseMatch, include, path, reverse
from django.utils import timezone

from opennrm import urls as root_urls
from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, logged_in_client, member
from opennrm.cases.models import Case, Person
from opennrm.core.models import AuditEntry
from opennrm.stats import imports, tasks, urls_exchange
from opennrm.stats import urls as stats_urls
from opennrm.stats.models import ImportedRow, ImportIssue, ImportJob, ImportKind, ImportStatus
from opennrm.stats.tasks import run_import

# Until `stats/urls.py` includes `urls_exchange` (the lead adds the line), these tests mount it themselves.
try:
    reverse("stats:exchange_export")
    URLCONF: str | None = None
except NoReverseMatch:
    URLCONF = __name__
    urlpatterns = [
        path("stats/", include(([*stats_urls.urlpatterns, *urls_exchange.urlpatterns], "stats"))),
        *[p for p in root_urls.urlpatterns if str(getattr(p, "pattern", "")) != "stats/"],
    ]


def url(name: str, *args: str) -> str:
    return reverse(f"stats:{name}", args=args, urlconf=URLCONF)


pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLCONF)] if URLCONF else [pytest.mark.django_db]

TODAY = timezone.localdate()
RECENT = (TODAY - dt.timedelta(days=5)).isoformat()
FUTURE = (TODAY + dt.timedelta(days=30)).isoformat()

HEADER = (
    "prs_FirstName,prs_SecondName,prs_Birthdate,prs_Gender,cas_IncomingReferralDate,con_Consent,"
    "vic_MethodOfControl,x_internal_note,prs_MaritalStatus,hte_Type[1],hte_Country[1]"
)
MALFORMED = [
    # row 2: good
    f"Nino,Beridze,1990-01-01,Feminine,{RECENT},true,DebtBondage,note,Single,Exploitation,TR",
    # row 3: a bad date
    "Lela,Kapanadze,1991-02-02,Feminine,2025-13-01,true,,,,,",
    # row 4: an unknown picklist value (a typo)
    f"Eter,Abashidze,1992-03-03,Femenine,{RECENT},true,,,,,",
    # row 5: a date of birth in the future
    f"Ana,Tsiklauri,{FUTURE},Feminine,{RECENT},true,,,,,",
    # row 6: a required field missing
    f",Gelashvili,1993-04-04,Feminine,{RECENT},true,,,,,",
    # row 7: empty
    ",,,,,,,,,,",
    # row 8: more values than columns
    f"Tamta,Lomidze,1994-05-05,Feminine,{RECENT},true,,,,,,EXTRA",
    # row 9: not UTF-8 (Latin-1 e-acute in the name) -- replaced below
    f"NON_UTF8,Meskhi,1995-06-06,Feminine,{RECENT},true,,,,,",
    # row 10: good, with an event whose type is missing? no: a second good row
    f"Eka,Japaridze,1996-07-07,Masculine,{RECENT},1,,,,,",
    # row 11: a name in a picklist column (shifted data): reported without the value
    f"Salome,Kvaratskhelia,1997-08-08,Salome,{RECENT},true,,,,,",
    # row 12: an adult without consent
    f"Irakli,Gogia,1980-09-09,Masculine,{RECENT},false,,,,,",
    # row 13: an event without its country
    f"Keti,Dolidze,1998-10-10,Feminine,{RECENT},true,,,,Transit,",
    # row 14: born after the first contact
    "Nato,Beridze,2024-01-01,Feminine,2023-06-01,true,,,,,",
]
GOOD_ROWS = 2


def malformed_bytes(rows: list[str] = MALFORMED) -> bytes:
    text = "\r\n".join([HEADER, *rows]) + "\r\n"
    return text.encode("utf-8").replace(b"NON_UTF8", b"Nin\xe9")


@pytest.fixture
def fund():
    return AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND)


@pytest.fixture
def worker(fund):
    return member(Role.CASE_WORKER, agency=fund)


def run(worker, fund, content: bytes, name: str = "cases.csv", kind: str = ImportKind.HTCDS) -> ImportJob:
    job = imports.start_import(actor=worker, agency=fund, kind=kind, upload=SimpleUploadedFile(name, content))
    run_import.call(job.public_id)
    job.refresh_from_db()
    return job


def issues(job: ImportJob) -> dict[tuple[int, str], list[ImportIssue]]:
    found: dict[tuple[int, str], list[ImportIssue]] = {}
    for issue in job.issues.all():
        found.setdefault((issue.row, issue.field), []).append(issue)
    return found


def codes(job: ImportJob) -> set[tuple[int, str, str]]:
    return {(i.row, i.field, i.code) for i in job.issues.all()}


# --- a malformed file --------------------------------------------------------------------------------------


def test_a_malformed_file_is_reported_row_by_row_and_its_good_rows_are_saved(worker, fund):
    job = run(worker, fund, malformed_bytes())
    assert job.status == ImportStatus.DONE
    assert (job.total_rows, job.saved_rows, job.failed_rows, job.skipped_rows) == (12, GOOD_ROWS, 10, 0)
    assert sorted(Case.objects.values_list("person__birth_year", flat=True)) == [1990, 1996]
    assert codes(job) >= {
        (1, "vic_MethodOfControl", "unknown_column"),
        (1, "x_internal_note", "unknown_column"),
        (1, "prs_MaritalStatus", "unmapped_column"),
        (3, "cas_IncomingReferralDate", "bad_date"),
        (4, "prs_Gender", "unknown_value"),
        (5, "prs_Birthdate", "future_date"),
        (6, "prs_FirstName", "required"),
        (8, "", "column_count"),
        (9, "prs_FirstName", "not_utf8"),
        (11, "prs_Gender", "unknown_value"),
        (12, "con_Consent", "consent_required"),
        (13, "hte_Country[1]", "required"),
        (14, "prs_Birthdate", "born_after_contact"),
    }
    assert not any(row == 7 for row, _f, _c in codes(job))  # an empty row is no problem
    found = issues(job)
    # Codes and typos are shown; what could identify someone never is.
    assert found[(3, "cas_IncomingReferralDate")][0].value == "2025-13-01"
    typo = found[(4, "prs_Gender")][0]
    assert typo.value == "Femenine" and "Did you mean Feminine?" in typo.message
    assert found[(1, "vic_MethodOfControl")][0].params["suggestion"] == "vic_MethodsOfControl"
    assert found[(5, "prs_Birthdate")][0].value == ""
    assert found[(11, "prs_Gender")][0].value == ""
    stored = " ".join(f"{i.value} {i.params}" for i in job.issues.all())
    for secret in ("Salome", FUTURE, "Kapanadze", "Tsiklauri", "Nin"):
        assert secret not in stored
    # The saved rows carry what the file said; the unknown column's values were not kept.
    nino = Case.objects.get(person__birth_year=1990)
    assert nino.events.get().country == "TR" and nino.methods_of_control == []


def test_rows_are_saved_through_the_same_encryption_and_audit_as_intake(worker, fund):
    job = run(worker, fund, malformed_bytes())
    case = Case.objects.select_related("person").get(person__birth_year=1990)
    assert case.person.given_name == "Nino" and case.owning_agency == fund and case.created_by == worker
    assert case.person.index_entries.filter(kind="name_dob").exists()
    entry = AuditEntry.objects.get(action="case.imported", target_id=case.public_id)
    assert entry.details["import"] == job.public_id and entry.details["row"] == 2
    assert case.timeline.filter(kind="imported").exists()
    finished = AuditEntry.objects.get(action="stats.import_finished")
    assert finished.details["saved"] == GOOD_ROWS
    assert not job.file  # the uploaded file, which identifies people, is not kept once imported


def test_the_same_file_imported_again_saves_nothing_twice(worker, fund):
    run(worker, fund, malformed_bytes())
    again = run(worker, fund, malformed_bytes())
    assert (again.saved_rows, again.skipped_rows, again.failed_rows) == (0, GOOD_ROWS, 10)
    assert Case.objects.count() == Person.objects.count() == GOOD_ROWS
    skipped = again.issues.filter(code="already_imported")
    assert sorted(skipped.values_list("row", flat=True)) == [2, 10]


def test_a_corrected_file_adds_only_the_corrected_rows(worker, fund):
    run(worker, fund, malformed_bytes())
    fixed = list(MALFORMED)
    fixed[1] = f"Lela,Kapanadze,1991-02-02,Feminine,{RECENT},true,,,,,"
    fixed.insert(0, "")  # rows move down: rows are recognised by content, not by position
    job = run(worker, fund, malformed_bytes(fixed))
    assert (job.saved_rows, job.skipped_rows) == (1, GOOD_ROWS)
    assert Case.objects.count() == GOOD_ROWS + 1


def test_records_with_an_id_are_recognised_by_it(worker, fund):
    line = (
        '{"cas_Id": "ngo-17", "prs_FirstName": "Nino", "cas_IncomingReferralDate": "%s", "con_Consent": true}'
    )
    first = run(worker, fund, (line % RECENT).encode(), "cases.jsonl")
    changed = run(worker, fund, (line % (TODAY - dt.timedelta(days=9)).isoformat()).encode(), "cases.jsonl")
    assert (first.saved_rows, changed.saved_rows, changed.skipped_rows) == (1, 0, 1)
    other_agency = AgencyFactory(name="NGO")
    other_worker = member(Role.CASE_WORKER, agency=other_agency)
    elsewhere = run(other_worker, other_agency, (line % RECENT).encode(), "cases.jsonl")
    assert elsewhere.saved_rows == 1  # an id is recognised within the agency that imported it
    assert ImportedRow.objects.filter(key="id:ngo-17").count() == 2


def test_a_stopped_import_run_again_saves_each_row_once(worker, fund, monkeypatch):
    monkeypatch.setattr(tasks, "BATCH_SIZE", 1)
    original, calls = tasks._run_batch, []

    def crash_on_the_third_batch(job, rows, tally):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        original(job, rows, tally)

    monkeypatch.setattr(tasks, "_run_batch", crash_on_the_third_batch)
    job = imports.start_import(
        actor=worker,
        agency=fund,
        kind=ImportKind.HTCDS,
        upload=SimpleUploadedFile("c.csv", malformed_bytes()),
    )
    with pytest.raises(RuntimeError):
        run_import.call(job.public_id)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and job.file and Case.objects.count() == 1
    assert job.failure == "crashed"

    monkeypatch.setattr(tasks, "_run_batch", original)
    imports.rerun_import(actor=worker, job=job)
    run_import.call(job.public_id)
    job.refresh_from_db()
    assert (job.status, job.saved_rows, job.skipped_rows) == (ImportStatus.DONE, GOOD_ROWS - 1, 1)
    assert Case.objects.count() == GOOD_ROWS


def test_a_finished_import_does_not_run_twice(worker, fund):
    job = run(worker, fund, malformed_bytes())
    assert run_import.call(job.public_id) == {}
    with pytest.raises(Exception, match="cannot be run again"):
        imports.rerun_import(actor=worker, job=job)
    assert Case.objects.count() == GOOD_ROWS


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (b"prs_FirstName,cas_IncomingReferralDate\n\n", "empty.csv", "empty_file"),
        (b"Nino,Beridze,1990-01-01\nEka,Japaridze,1991-01-01\n", "noheader.csv", "no_known_columns"),
        (b'[{"prs_FirstName": "Nino"', "broken.json", "bad_json"),
    ],
)
def test_an_unreadable_file_is_reported_as_a_whole(worker, fund, content, name, code):
    job = run(worker, fund, content, name)
    assert job.status == ImportStatus.DONE and job.saved_rows == 0
    issue = job.issues.get(code=code)
    assert issue.severity == "error" and "Nino" not in issue.value


def test_json_lines_are_reported_line_by_line(worker, fund):
    good = f'{{"prs_FirstName": "Nino", "cas_IncomingReferralDate": "{RECENT}", "con_Consent": true}}'
    content = "\n".join(
        [
            good,
            '{"prs_FirstName": "Eka", "cas_IncomingReferralDate": ',  # cut short
            '["not", "an", "object"]',
            f'{{"prs_FirstName": "Eka", "cas_IncomingReferralDate": "{RECENT}", "con_Consent": true, '
            '"vic_MethodsOfControl": ["DebtBondage", "Debt bondage", "debt_bondage"], "hte": [{"hte_Type": "Exploitation"}]}',
            f'{{"prs_FirstName": "Lela", "cas_IncomingReferralDate": "{RECENT}", "con_Consent": true, '
            '"vic_MethodsOfControl": "DebtBondage;TakesEarnings", "spl": [{"spl_Type": "Health", "spl_Objectives": "x"}]}',
        ]
    ).encode()
    job = run(worker, fund, content, "cases.jsonl")
    assert codes(job) == {(2, "", "bad_json"), (3, "", "not_object"), (4, "hte_Country[1]", "required")}
    assert job.saved_rows == 2
    lela = next(c for c in Case.objects.all() if "takes_earnings" in c.methods_of_control)
    assert lela.methods_of_control == ["debt_bondage", "takes_earnings"] and lela.plan_items.count() == 1


def test_a_semicolon_separated_csv_with_a_bom_is_read(worker, fund):
    content = (
        f"\ufeffprs_FirstName;cas_IncomingReferralDate;con_Consent;prs_Citizenship\nNino;{RECENT};true;GE\n"
    )
    job = run(worker, fund, content.encode())
    assert job.saved_rows == 1 and Case.objects.get().person.citizenship == "GE"


# --- the pages ---------------------------------------------------------------------------------------------

IMPORTS = {r for r in Role if {Perm.CASE_EDIT, Perm.CASE_VIEW_IDENTITY} <= ROLE_PERMISSIONS[r]}
IMPORTS |= {r for r in Role if Perm.STATS_EXPORT in ROLE_PERMISSIONS[r]}


@pytest.mark.parametrize("role", list(Role))
def test_the_import_page_answers_the_roles_that_may_import(role, fund):
    response = logged_in_client(member(role, agency=fund)).get(url("exchange_import"))
    assert response.status_code == (200 if role in IMPORTS else 404)


def test_an_upload_queues_the_job_and_shows_its_page(worker, fund, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    client = logged_in_client(worker)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("exchange_import"),
            {"kind": "htcds", "agency": fund.pk, "file": SimpleUploadedFile("cases.csv", malformed_bytes())},
        )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == url("exchange_import_job", job.public_id)
    queued = DBTaskResult.objects.get()
    assert queued.task_path.endswith("run_import") and queued.args_kwargs["args"] == [job.public_id]
    page = client.get(url("exchange_import_job", job.public_id)).content.decode()
    assert 'hx-trigger="every 2s"' in page and url("exchange_import_progress", job.public_id) in page
    assert "Reload this page" in page
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT file_name FROM stats_importjob")
        (stored,) = cursor.fetchone()
    assert job.file_name == "cases.csv" and "cases" not in stored  # a file name may name a person: encrypted


def test_a_user_may_not_import_for_an_agency_outside_their_scope(worker, fund):
    other = AgencyFactory(name="Other NGO")
    response = logged_in_client(worker).post(
        url("exchange_import"),
        {"kind": "htcds", "agency": other.pk, "file": SimpleUploadedFile("c.csv", malformed_bytes())},
    )
    assert response.status_code == 200 and not ImportJob.objects.exists()
    coordinator = member(Role.COORDINATOR, agency=fund)
    response = logged_in_client(coordinator).post(
        url("exchange_import"),
        {"kind": "htcds", "agency": fund.pk, "file": SimpleUploadedFile("c.csv", malformed_bytes())},
    )
    assert response.status_code == 200 and not ImportJob.objects.exists()  # HTCDS needs identity permission


JOB_PAGES = ["exchange_import_job", "exchange_import_progress", "exchange_import_report"]


@pytest.mark.parametrize("page", JOB_PAGES)
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("case_worker", 200),
        ("national_case_worker", 200),
        ("coordinator", 404),  # identified imports are not a coordinator's
        ("other_agency_case_worker", 404),
        ("first_responder", 404),
        ("analyst", 404),
    ],
)
def test_job_pages_answer_only_who_could_have_started_the_job(worker, fund, page, who, expected):
    job = run(worker, fund, malformed_bytes())
    users = {
        "case_worker": lambda: member(Role.CASE_WORKER, agency=fund),
        "national_case_worker": lambda: member(Role.CASE_WORKER, scope=Scope.NATIONAL),
        "coordinator": lambda: member(Role.COORDINATOR, agency=fund, scope=Scope.NATIONAL),
        "other_agency_case_worker": lambda: member(Role.CASE_WORKER, agency=AgencyFactory()),
        "first_responder": lambda: member(Role.FIRST_RESPONDER, agency=fund),
        "analyst": lambda: member(Role.ANALYST, agency=fund, scope=Scope.NATIONAL),
    }
    response = logged_in_client(users[who]()).get(url(page, job.public_id))
    assert response.status_code == expected


def test_rerun_is_refused_with_404_to_another_agency(worker, fund):
    job = run(worker, fund, malformed_bytes())
    outsider = member(Role.CASE_WORKER, agency=AgencyFactory())
    assert logged_in_client(outsider).post(url("exchange_import_run", job.public_id)).status_code == 404


def test_the_report_is_shown_and_downloadable(worker, fund):
    job = run(worker, fund, malformed_bytes())
    client = logged_in_client(worker)
    page = client.get(url("exchange_import_job", job.public_id)).content.decode()
    assert "Not a date in the form YYYY-MM-DD." in page and "2025-13-01" in page
    assert "hx-trigger" not in page  # finished: no more polling
    report = client.get(url("exchange_import_report", job.public_id))
    assert report["Content-Type"].startswith("text/csv") and report["Cache-Control"] == "no-store"
    text = report.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "Row,Field,Outcome,Problem,Value"
    assert "5,prs_Birthdate,Not saved,The date is in the future.," in text
    assert "Salome" not in text and "Nino" not in text


def test_progress_fragment_polls_while_running_and_reloads_when_done(worker, fund):
    job = imports.start_import(
        actor=worker,
        agency=fund,
        kind=ImportKind.HTCDS,
        upload=SimpleUploadedFile("c.csv", malformed_bytes()),
    )
    client = logged_in_client(worker)
    fragment = client.get(url("exchange_import_progress", job.public_id), HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 2s"' in fragment.content.decode() and "HX-Refresh" not in fragment
    run_import.call(job.public_id)
    done = client.get(url("exchange_import_progress", job.public_id) + "?was=active", HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true" and "hx-trigger" not in done.content.decode()
    assert '<progress max="12" value="12"' in done.content.decode()


def test_a_row_saved_meanwhile_by_another_run_is_skipped_not_duplicated(worker, fund, monkeypatch):
    first = run(
        worker, fund, f"prs_FirstName,cas_IncomingReferralDate,con_Consent\nEka,{RECENT},true\n".encode()
    )
    # Another run saved record "race" after this run looked it up in the ledger, before this run's save.
    ImportedRow.objects.create(job=first, kind=ImportKind.HTCDS, agency=fund, key="id:race", row=2)
    lookups = []

    class LedgerSeenTooEarly:
        class objects:
            @staticmethod
            def filter(**kwargs):
                lookups.append(kwargs)
                if len(lookups) == 1:
                    return ImportedRow.objects.none()
                return ImportedRow.objects.filter(**kwargs)

            @staticmethod
            def create(**kwargs):
                return ImportedRow.objects.create(**kwargs)

    monkeypatch.setattr(tasks, "ImportedRow", LedgerSeenTooEarly)
    content = f"cas_Id,prs_FirstName,cas_IncomingReferralDate,con_Consent\nrace,Nino,{RECENT},true\n".encode()
    job = run(worker, fund, content)
    assert (job.saved_rows, job.skipped_rows, job.failed_rows) == (0, 1, 0)
    assert Case.objects.count() == 1  # the savepoint rolled the duplicate back
    assert job.issues.get().params == {"job": first.public_id, "row": 2}
