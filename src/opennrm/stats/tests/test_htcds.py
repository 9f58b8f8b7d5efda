"""HTCDS 2.0 export and import: the round trip keeps every exported field, value for value, in CSV and in JSON;
who may export identified data; the audit of an export; what the mapping writes for known cases."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from opennrm.accounts.models import Agency, AgencyKind, User
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, logged_in_client, member
from opennrm.cases import services
from opennrm.cases.choices import ClosureReason, DecisionOutcome, EventType
from opennrm.cases.models import Case, IdentityIndex, Person, TraffickingEvent
from opennrm.cases.services import IntakeData
from opennrm.core.blind_index import blind_index
from opennrm.core.models import AuditEntry
from opennrm.core.reference import htcds_field
from opennrm.stats import htcds, imports
from opennrm.stats.models import ImportKind, ImportStatus
from opennrm.stats.tasks import run_import
from opennrm.stats.tests.test_imports import URLCONF, url

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLCONF)] if URLCONF else [pytest.mark.django_db]

TODAY = timezone.localdate()


# --- cases with every exported field filled, through the services -----------------------------------------------


def fund_and_worker() -> tuple[Agency, User]:
    fund = AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND)
    return fund, member(Role.CASE_WORKER, agency=fund)


def police() -> Agency:
    return Agency.objects.filter(name="Patrol Police").first() or AgencyFactory(
        name="Patrol Police", kind=AgencyKind.LAW_ENFORCEMENT
    )


def full_case(worker: User, fund: Agency, *, given: str = "Nino", document: str = "AB12345") -> Case:
    """An adult victim with every HTCDS field OpenNRM exports filled, then identified by the Permanent Group."""
    case = services.refer_person(
        actor=worker,
        referring_agency=police(),
        owning_agency=fund,
        consent_given=True,
        data=IntakeData(
            given_name=given,
            family_name="Beridze",
            date_of_birth=dt.date(1995, 4, 12),
            sex="feminine",
            citizenship="GE",
            languages=["ka", "ru"],
            phone="+995 555 000 111",
            document_type="passport",
            document_number=document,
            first_contact_date=TODAY - dt.timedelta(days=40),
            exploitation_forms=["forced_labour", "sexual_exploitation"],
            exploitation_country="TR",
            narrative="Not exported: narrative is not an HTCDS field.",
        ),
    )
    services.update_identity(
        actor=worker,
        case=case,
        expected_version=case.version,
        changes={
            "documents": [
                {"type": "passport", "number": document},
                {"type": "national_id", "number": "01001012345"},
            ],
            "contacts": [
                {"kind": "phone", "value": "+995 555 000 111"},
                {"kind": "phone", "value": "=cmd|' /C calc'!A0"},  # a formula: exported quoted, imported back
                {"kind": "email", "value": "nino@example.org"},
            ],
            "address": "12 Rustaveli Avenue, Tbilisi",
            "other_citizenships": ["UA"],
        },
    )
    case.refresh_from_db()
    services.update_case(
        actor=worker,
        case=case,
        expected_version=case.version,
        changes={
            "forced_labour_industry": "i_accommodation_and_food_service_activities",
            "sexual_exploitation_types": ["prostitution", "private_sexual_services"],
            "methods_of_control": ["debt_bondage", "withholds_documents", "physical_threats"],
            "methods_of_recruitment": ["through_friends_or_social_events"],
            "relationship_to_trafficker": "acquainted",
            "perpetrator_roles": ["recruiter_or_intermediary", "exploiter"],
        },
    )
    TraffickingEvent.objects.create(
        case=case,
        type=EventType.RECRUITMENT,
        country="GE",
        place="Kutaisi",
        date=TODAY - dt.timedelta(days=400),
        details="Offered a job as a waitress.",
    )
    item = services.add_plan_item(
        actor=worker,
        case=case,
        type="health",
        objective="Medical check-up",
        action="Referral to the clinic",
        planned_end=TODAY + dt.timedelta(days=30),
    )
    services.complete_plan_item(actor=worker, item=item, actual_end=TODAY - dt.timedelta(days=1))
    services.add_plan_item(actor=worker, case=case, type="legal", objective="Legal aid for the trial")
    maker = member(Role.DECISION_MAKER, agency=fund)
    decision = services.request_decision(actor=worker, case=case, route="permanent_group")
    services.decide(actor=maker, decision=decision, outcome=DecisionOutcome.GRANTED, reasons="Confirmed.")
    case.refresh_from_db()
    return case


def child_case(worker: User, fund: Agency) -> Case:
    """A 16-year-old referred without consent, in her best interests: con_Consent false, no date of birth."""
    return services.refer_person(
        actor=worker,
        referring_agency=fund,
        owning_agency=fund,
        consent_given=False,
        data=IntakeData(
            given_name="Mariam",
            age_estimate=16,
            sex="feminine",
            citizenship="AZ",
            first_contact_date=TODAY - dt.timedelta(days=3),
            exploitation_forms=["forced_begging"],
        ),
    )


def closed_case(worker: User, fund: Agency, reason: str) -> Case:
    case = services.refer_person(
        actor=worker,
        referring_agency=police(),
        owning_agency=fund,
        consent_given=True,
        data=IntakeData(
            given_name="Giorgi",
            family_name="Kapanadze",
            age_estimate=41,
            sex="masculine",
            first_contact_date=TODAY - dt.timedelta(days=200),
            exploitation_forms=["forced_labour"],
        ),
    )
    services.close_case(actor=worker, case=case, reason=reason)
    case.refresh_from_db()
    return case


def export(client, file_format: str = "csv", **data) -> bytes:
    name = "exchange_export_htcds_csv" if file_format == "csv" else "exchange_export_htcds_jsonl"
    response = client.post(url(name), {f"htcds-{k}": v for k, v in data.items()})
    assert response.status_code == 200, response.content[:500]
    assert response["Cache-Control"] == "no-store"
    return response.content


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def wipe_cases() -> None:
    """A second, empty instance: no case, no person, no blind index (the audit log stays, append-only)."""
    Case.objects.all().delete()
    Person.objects.all().delete()
    assert not IdentityIndex.objects.exists()


def import_file(worker: User, fund: Agency, content: bytes, name: str, *, keep_references: bool = True):
    job = imports.start_import(
        actor=worker,
        agency=fund,
        kind=ImportKind.HTCDS,
        upload=SimpleUploadedFile(name, content),
        keep_references=keep_references,
    )
    run_import.call(job.public_id)
    job.refresh_from_db()
    return job


@pytest.fixture
def exported_instance():
    fund, worker = fund_and_worker()
    cases = [
        full_case(worker, fund),
        full_case(worker, fund, given="Nana", document="CD777"),
        child_case(worker, fund),
        closed_case(worker, fund, ClosureReason.REFERRED_ELSEWHERE),
        closed_case(worker, fund, ClosureReason.DECEASED),
    ]
    return fund, worker, cases


# --- round trip ------------------------------------------------------------------------------------------


def test_csv_round_trip_into_an_empty_instance_keeps_every_exported_field(exported_instance):
    fund, worker, cases = exported_instance
    client = logged_in_client(worker)
    before = export(client, "csv")
    rows = csv_rows(before)
    assert len(rows) == len(cases)
    # Every exported field is filled in at least one record: the comparison below covers them all.
    filled = {name.split("[")[0] for row in rows for name, value in row.items() if value not in ("", "false")}
    assert set(htcds.EXPORTED_FIELDS) <= filled

    wipe_cases()
    job = import_file(worker, fund, before, "htcds.csv")
    assert (job.status, job.saved_rows, job.failed_rows) == (ImportStatus.DONE, len(cases), 0)
    assert not job.issues.exists()  # not even a warning

    after = export(client, "csv")
    assert csv_rows(after) == rows
    assert after == before  # byte for byte, header included


def test_json_round_trip_into_an_empty_instance_keeps_every_exported_field(exported_instance):
    fund, worker, cases = exported_instance
    client = logged_in_client(worker)
    before = export(client, "jsonl")
    records = [json.loads(line) for line in before.decode().splitlines()]
    assert len(records) == len(cases)
    keys = {k for r in records for k, v in r.items() if v not in (None, [], False)}
    keys |= {k for r in records for item in r["hte"] + r["spl"] for k, v in item.items() if v is not None}
    assert set(htcds.EXPORTED_FIELDS) <= keys

    wipe_cases()
    job = import_file(worker, fund, before, "htcds.jsonl")
    assert (job.saved_rows, job.failed_rows) == (len(cases), 0)

    after = export(client, "jsonl")
    assert [json.loads(line) for line in after.decode().splitlines()] == records


def test_imported_people_are_encrypted_and_indexed_like_entered_ones(exported_instance):
    fund, worker, _cases = exported_instance
    client = logged_in_client(worker)
    content = export(client, "csv")
    entered = set(IdentityIndex.objects.values_list("kind", "digest"))
    wipe_cases()
    import_file(worker, fund, content, "htcds.csv")
    # Same blind indexes as at intake: an imported person is found again by document number and by name.
    assert set(IdentityIndex.objects.values_list("kind", "digest")) == entered
    wanted = blind_index("CD777", purpose="person.document", document=True)
    assert IdentityIndex.objects.filter(kind="document", digest=wanted).count() == 1
    # The database holds ciphertext only.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT given_name, date_of_birth, documents FROM cases_person")
        stored = " ".join(" ".join(str(v) for v in row) for row in cursor.fetchall())
    assert "Nana" not in stored and "1995-04-12" not in stored and "CD777" not in stored


def test_import_keeps_statuses_and_consent_bases(exported_instance):
    fund, worker, _cases = exported_instance
    content = export(logged_in_client(worker), "csv")
    wipe_cases()
    import_file(worker, fund, content, "htcds.csv")
    by_name = {c.person.given_name: c for c in Case.objects.select_related("person")}
    assert (
        by_name["Nino"].status == "identified" and by_name["Nino"].identification_route == "permanent_group"
    )
    assert by_name["Mariam"].is_child and by_name["Mariam"].consents.get().basis == "child_best_interests"
    assert {c.closure_reason for c in Case.objects.filter(status="closed")} == {
        "referred_elsewhere",
        "deceased",
    }
    assert by_name["Nino"].events.filter(type="exploitation", country="TR").exists()
    assert set(Case.objects.values_list("owning_agency", flat=True)) == {fund.pk}
    assert by_name["Nino"].referring_agency.name == "Patrol Police"


def test_without_keeping_references_imported_cases_get_new_ones(exported_instance):
    fund, worker, cases = exported_instance
    content = export(logged_in_client(worker), "csv")
    old = {c.reference for c in cases}
    wipe_cases()
    import_file(worker, fund, content, "htcds.csv", keep_references=False)
    assert not old & set(Case.objects.values_list("reference", flat=True))


# --- what is written for known values --------------------------------------------------------------------


def test_record_of_an_identified_adult(exported_instance):
    _fund, worker, cases = exported_instance
    rows = {r["cas_Id"]: r for r in csv_rows(export(logged_in_client(worker), "csv"))}
    row = rows[cases[0].reference]
    assert row["prs_FirstName"] == "Nino" and row["prs_Birthdate"] == "1995-04-12"
    assert row["prs_Gender"] == "Feminine"
    assert (row["prs_PrimaryLanguage"], row["prs_SecondaryLanguage"]) == ("kat", "rus")
    assert row["prs_Citizenship"] == "GE;UA"
    assert row["prs_IdentityNumber"] == "AB12345; 01001012345"
    assert row["prs_HomePhone"] == "'=cmd|' /C calc'!A0"  # never a live formula in a spreadsheet
    assert row["vic_TraffickingStatus"] == "ActualVictimOfTrafficking"
    assert row["vic_TraffickingStatusDecisionMakingOrg"] == "Other"  # Permanent Group: a multi-agency body
    assert row["vic_MethodsOfControl"] == "PhysicalThreats;DebtBondage;WithholdsDocuments"
    assert row["vic_TypeOfExploitation"] == "ForcedLabour;SexualExploitation"
    assert row["vic_ForcedLabourIndustry"] == "I_AccommodationAndFoodServiceActivities"
    assert row["cas_Status"] == "Active" and row["con_Consent"] == "true"
    assert row["cas_ReferringOrganisation"] == "Patrol Police"
    assert (row["hte_Type[1]"], row["hte_Country[1]"], row["hte_City[1]"]) == ("Recruitment", "GE", "Kutaisi")
    assert (row["hte_Type[2]"], row["hte_Country[2]"]) == ("Exploitation", "TR")
    assert row["spl_Type[2]"] == "Legal" and row["spl_PlannedEndDate[2]"] == ""
    assert "narrative" not in " ".join(row.values()).lower()


def test_records_of_closed_and_child_cases(exported_instance):
    _fund, worker, cases = exported_instance
    rows = {r["cas_Id"]: r for r in csv_rows(export(logged_in_client(worker), "csv"))}
    child, referred, deceased = (rows[c.reference] for c in cases[2:])
    assert (child["con_Consent"], child["vic_AgeWhenTrafficked"], child["prs_Birthdate"]) == (
        "false",
        "16",
        "",
    )
    assert (referred["cas_Status"], referred["cas_ReasonForCaseClosure"]) == (
        "ClosedReferred",
        "Referred to another organisation or country",
    )
    assert (deceased["cas_Status"], deceased["prs_Deceased"], deceased["cas_ReasonForCaseClosure"]) == (
        "Closed",
        "true",
        "Deceased",
    )


def test_every_mapped_name_is_an_htcds_field():
    for name in (*htcds.EXPORTED_FIELDS, *htcds.IMPORT_ONLY_FIELDS, *htcds.NOT_EXPORTED):
        assert htcds_field(name).name == name
    assert not set(htcds.EXPORTED_FIELDS) & set(htcds.NOT_EXPORTED)


# --- who may export, and the audit ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_only_case_workers_export_identified_data(role):
    fund, worker = fund_and_worker()
    full_case(worker, fund)
    user = member(role, agency=fund)
    response = logged_in_client(user).post(url("exchange_export_htcds_csv"))
    runs_and_reads = {Perm.CASE_EDIT, Perm.CASE_VIEW_IDENTITY} <= ROLE_PERMISSIONS[role]
    assert response.status_code == (200 if runs_and_reads else 404)
    if runs_and_reads:
        assert len(csv_rows(response.content)) == 1


def test_a_case_worker_exports_only_the_cases_their_agency_owns():
    fund, worker = fund_and_worker()
    full_case(worker, fund)
    other, other_worker = AgencyFactory(name="NGO Tanadgoma"), None
    other_worker = member(Role.CASE_WORKER, agency=other)
    full_case(other_worker, other, given="Eka", document="ZZ1")
    # Referred BY the fund to the NGO: the fund sees it, but only the owner exports it.
    services.refer_person(
        actor=worker,
        referring_agency=fund,
        owning_agency=other,
        consent_given=True,
        data=IntakeData(given_name="Lela", age_estimate=30, first_contact_date=TODAY),
    )
    names = [r["prs_FirstName"] for r in csv_rows(export(logged_in_client(worker), "csv"))]
    assert names == ["Nino"]
    national = member(Role.CASE_WORKER, agency=fund, scope=Scope.NATIONAL)
    assert len(csv_rows(export(logged_in_client(national), "csv"))) == 3


def test_export_filters_by_first_contact_date():
    fund, worker = fund_and_worker()
    full_case(worker, fund)  # first contact 40 days ago
    child_case(worker, fund)  # 3 days ago
    since = (TODAY - dt.timedelta(days=10)).isoformat()
    names = [r["prs_FirstName"] for r in csv_rows(export(logged_in_client(worker), first_contact_from=since))]
    assert names == ["Mariam"]


def test_an_export_is_audited_with_fields_count_and_each_person():
    fund, worker = fund_and_worker()
    cases = [full_case(worker, fund), child_case(worker, fund)]
    export(logged_in_client(worker), "jsonl")
    summary = AuditEntry.objects.get(action="stats.htcds_exported")
    assert summary.actor == worker.public_id
    assert summary.details["cases"] == 2 and summary.details["format"] == "jsonl"
    assert {"prs_FirstName", "prs_Birthdate", "vic_MethodsOfControl", "hte_Country"} <= set(summary.fields)
    reads = AuditEntry.objects.filter(action="person.exported")
    assert sorted(reads.values_list("target_id", flat=True)) == sorted(c.person.public_id for c in cases)
    assert "date_of_birth" in reads.first().fields
    assert "Nino" not in json.dumps(list(AuditEntry.objects.values("details", "fields")))


def test_the_export_page_lists_what_the_user_may_export():
    fund, worker = fund_and_worker()
    full_case(worker, fund)
    page = logged_in_client(worker).get(url("exchange_export")).content.decode()
    assert "HTCDS" in page and "Download CTDC CSV" not in page
    coordinator = member(Role.COORDINATOR, agency=fund, scope=Scope.NATIONAL)
    page = logged_in_client(coordinator).get(url("exchange_export")).content.decode()
    assert "Download CTDC CSV" in page and "Download HTCDS CSV" not in page
    assert logged_in_client(member(Role.ANALYST, agency=fund)).get(url("exchange_export")).status_code == 404


def test_a_get_never_downloads_identified_data():
    fund, worker = fund_and_worker()
    full_case(worker, fund)
    assert logged_in_client(worker).get(url("exchange_export_htcds_csv")).status_code == 405


def test_a_json_round_trip_reports_no_problem_at_all(exported_instance):
    fund, worker, _cases = exported_instance
    content = export(logged_in_client(worker), "jsonl")
    wipe_cases()
    job = import_file(worker, fund, content, "htcds.jsonl")
    assert not job.issues.exists()
