"""The CTDC layout: the row of a known case, of a notification; nothing decrypted; who may export (scope and
404); the audit; and the import of CTDC rows as statistics only, with its row report and idempotency."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from opennrm.accounts.models import AgencyKind
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import AgencyFactory, logged_in_client, member
from opennrm.cases import services
from opennrm.cases.choices import DecisionOutcome
from opennrm.cases.models import Case, Notification, Person
from opennrm.cases.services import IntakeData
from opennrm.core.models import AuditEntry
from opennrm.stats import ctdc, imports
from opennrm.stats.models import ImportedStatisticRecord, ImportKind
from opennrm.stats.tasks import run_import
from opennrm.stats.tests.test_imports import URLCONF, url

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLCONF)] if URLCONF else [pytest.mark.django_db]

YEAR = timezone.localdate().year


@pytest.fixture
def fund():
    return AgencyFactory(name="State Fund", kind=AgencyKind.STATE_FUND)


@pytest.fixture
def worker(fund):
    return member(Role.CASE_WORKER, agency=fund)


def girl(worker, fund) -> Case:
    """A 16-year-old girl, sexually exploited in Türkiye, controlled by debt bondage, recruited by family."""
    case = services.refer_person(
        actor=worker,
        referring_agency=fund,
        owning_agency=fund,
        consent_given=False,
        data=IntakeData(
            given_name="Mariam",
            age_estimate=16,
            sex="feminine",
            citizenship="UA",
            exploitation_forms=["sexual_exploitation"],
            exploitation_country="TR",
        ),
    )
    services.update_case(
        actor=worker,
        case=case,
        expected_version=case.version,
        changes={
            "methods_of_control": ["debt_bondage"],
            "sexual_exploitation_types": ["prostitution"],
            "relationship_to_trafficker": "familial",
            "perpetrator_roles": ["kidnapper", "exploiter"],
        },
    )
    return case


def rows_by_year(rows):
    return list(rows)


def test_the_row_of_a_sixteen_year_old_girl(worker, fund):
    girl(worker, fund)
    (row,) = ctdc.ctdc_rows()
    assert list(row) == list(ctdc.COLUMNS)
    expected = {
        "yearOfRegistration": str(YEAR),
        "Datasource": "Case Management",
        "gender": "Female",
        "ageBroad": "9--17",
        "majorityStatus": "Minor",
        "majorityStatusAtExploit": "Minor",
        "majorityEntry": "",
        "citizenship": "UA",
        "meansOfControlDebtBondage": "1",
        "meansOfControlThreats": "0",
        "meansOfControlNotSpecified": "0",
        "meansOfControlConcatenated": "Debt bondage",
        "isForcedLabour": "0",
        "isSexualExploit": "1",
        "isSexAndLabour": "0",
        "typeOfExploitConcatenated": "Sexual exploitation",
        "typeOfLabourAgriculture": "",
        "typeOfLabourNotSpecified": "",
        "typeOfSexProstitution": "1",
        "typeOfSexPornography": "0",
        "typeOfSexConcatenated": "Prostitution",
        "isAbduction": "1",
        "RecruiterRelationship": "Family",
        "recruiterRelationFamily": "1",
        "recruiterRelationFriend": "0",
        "recruiterRelationIntimatePartner": "0",
        "recruiterRelationUnknown": "0",
        "CountryOfExploitation": "TR",
    }
    assert {k: row[k] for k in expected} == expected


def test_forced_labour_without_industry_notifications_and_non_victims(worker, fund):
    case = services.refer_person(
        actor=worker,
        referring_agency=fund,
        owning_agency=fund,
        consent_given=True,
        data=IntakeData(
            given_name="Giorgi", age_estimate=35, sex="masculine", exploitation_forms=["forced_begging"]
        ),
    )
    services.notify_anonymously(
        actor=worker,
        agency=fund,
        first_contact_date=timezone.localdate(),
        sex="masculine",
        age=30,
        citizenship="AM",
        exploitation_forms=["forced_labour"],
        exploitation_country="RU",
    )
    not_victim = services.refer_person(
        actor=worker,
        referring_agency=fund,
        owning_agency=fund,
        consent_given=True,
        data=IntakeData(given_name="Dato", age_estimate=50),
    )
    maker = member(Role.DECISION_MAKER, agency=fund)
    decision = services.request_decision(actor=worker, case=not_victim, route="permanent_group")
    services.decide(actor=maker, decision=decision, outcome=DecisionOutcome.REFUSED, reasons="No indicators.")
    begging, notified = ctdc.ctdc_rows()  # the person found not to be a victim is not counted
    assert (begging["ageBroad"], begging["majorityStatus"], begging["isForcedLabour"]) == (
        "30--38",
        "Adult",
        "1",
    )
    assert (begging["typeOfLabourBegging"], begging["typeOfLabourNotSpecified"]) == ("1", "0")
    assert begging["meansOfControlNotSpecified"] == "1" and begging["meansOfControlDebtBondage"] == ""
    assert begging["recruiterRelationUnknown"] == "1" and begging["recruiterRelationFamily"] == ""
    assert begging["isAbduction"] == "" and begging["typeOfSexProstitution"] == ""
    assert (notified["majorityStatus"], notified["citizenship"], notified["CountryOfExploitation"]) == (
        "Adult",
        "AM",
        "RU",
    )
    assert notified["typeOfLabourNotSpecified"] == "1" and case.pk


def test_the_rows_decrypt_nothing(worker, fund, monkeypatch):
    girl(worker, fund)

    def refuse(*args, **kwargs):
        raise AssertionError("the CTDC rows decrypted a value")

    monkeypatch.setattr("opennrm.core.fields.decrypt_text", refuse)
    assert len(list(ctdc.ctdc_rows())) == 1


def test_every_htcds_value_has_a_ctdc_column():
    from opennrm.cases.choices import htcds_snake_choices

    assert {v for v, _l in htcds_snake_choices("vic_MethodsOfControl")} == set(ctdc.MEANS_FROM_HTCDS)
    assert {v for v, _l in htcds_snake_choices("vic_TypeOfExploitation")} == set(ctdc.FORM_FROM_HTCDS)
    assert {v for v, _l in htcds_snake_choices("vic_TypeOfSexExploitation")} == set(ctdc.SEX_FROM_HTCDS)
    assert set(ctdc.LABOUR_FROM_INDUSTRY) <= {v for v, _l in htcds_snake_choices("vic_ForcedLabourIndustry")}
    assert set(ctdc.RELATION_FROM_HTCDS) == {
        v for v, _l in htcds_snake_choices("vic_RelationshipToTrafficker")
    }


# --- the export page ----------------------------------------------------------------------------------------


def download(client, **data) -> list[dict[str, str]]:
    response = client.post(url("exchange_export_ctdc_csv"), {f"ctdc-{k}": v for k, v in data.items()})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize("role", list(Role))
def test_ctdc_export_answers_stats_export_only(role, worker, fund):
    girl(worker, fund)
    response = logged_in_client(member(role, agency=fund)).post(url("exchange_export_ctdc_csv"))
    assert response.status_code == (200 if Perm.STATS_EXPORT in ROLE_PERMISSIONS[role] else 404)


def test_a_coordinator_exports_within_their_scope(worker, fund):
    girl(worker, fund)
    other = AgencyFactory(name="NGO")
    girl(member(Role.CASE_WORKER, agency=other), other)
    local = member(Role.COORDINATOR, agency=other)
    assert len(download(logged_in_client(local))) == 1
    national = member(Role.COORDINATOR, agency=fund, scope=Scope.NATIONAL)
    assert len(download(logged_in_client(national))) == 2
    assert len(download(logged_in_client(national), agency=other.pk)) == 1


def test_a_ctdc_export_is_audited_with_columns_and_count(worker, fund):
    girl(worker, fund)
    coordinator = member(Role.COORDINATOR, agency=fund, scope=Scope.NATIONAL)
    download(logged_in_client(coordinator))
    entry = AuditEntry.objects.get(action="stats.ctdc_exported")
    assert entry.details["rows"] == 1 and entry.fields == list(ctdc.COLUMNS)
    assert not AuditEntry.objects.filter(action="person.exported").exists()


# --- import ------------------------------------------------------------------------------------------------


def ctdc_file(rows: list[dict[str, str]], extra_columns: tuple[str, ...] = ()) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*ctdc.COLUMNS, *extra_columns], restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def import_ctdc(user, agency, content: bytes):
    job = imports.start_import(
        actor=user, agency=agency, kind=ImportKind.CTDC, upload=SimpleUploadedFile("c.csv", content)
    )
    run_import.call(job.public_id)
    job.refresh_from_db()
    return job


def test_ctdc_rows_import_as_statistics_only_and_export_unchanged(worker, fund):
    girl(worker, fund)
    exported = list(ctdc.ctdc_rows())
    coordinator = member(Role.COORDINATOR, agency=fund)
    Case.objects.all().delete()
    Person.objects.all().delete()
    job = import_ctdc(coordinator, fund, ctdc_file(exported))
    assert (job.saved_rows, job.failed_rows) == (1, 0)
    assert not Case.objects.exists() and not Person.objects.exists() and not Notification.objects.exists()
    record = ImportedStatisticRecord.objects.get()
    assert (record.sex, record.age_group, record.is_child, record.citizenship) == (
        "feminine",
        "9-17",
        True,
        "UA",
    )
    assert record.exploitation_forms == ["sexual_exploitation"] and record.exploitation_country == "TR"
    assert list(ctdc.ctdc_rows()) == exported
    page_rows = download(logged_in_client(coordinator), include_imported="on")
    assert page_rows == exported and download(logged_in_client(coordinator)) == []


def test_a_malformed_ctdc_file_is_reported_and_its_good_rows_saved(fund):
    coordinator = member(Role.COORDINATOR, agency=fund)
    rows = [
        {
            "yearOfRegistration": "2019",
            "gender": "Female",
            "ageBroad": "09--17",
            "majorityStatus": "Minor",
            "citizenship": "UA",
            "meansOfControlDebtBondage": "1",
            "isSexualExploit": "1",
            "Datasource": "Case Management",
        },
        {"yearOfRegistration": "1850", "gender": "Male"},
        {"yearOfRegistration": str(YEAR + 1)},
        {"yearOfRegistration": "2018", "gender": "Femal", "Datasource": "Tbilisi shelter"},
        {"yearOfRegistration": "2018", "gender": "Nino", "citizenship": "GEO"},
        {"yearOfRegistration": "2018", "ageBroad": "9--17", "majorityStatus": "Adult"},
        {"yearOfRegistration": "2018", "isForcedLabour": "2"},
        {
            "yearOfRegistration": "2017",
            "gender": "Male",
            "citizenship": "00",
            "isForcedLabour": "-99",
            "CountryOfExploitation": "XX",
        },
        {
            "yearOfRegistration": "2016",
            "gender": "Male",
            "citizenship": "-99",
            "ageBroad": "48+",
            "isForcedLabour": "1",
        },
        {},
    ]
    content = ctdc_file(rows, extra_columns=("caseId",))
    job = import_ctdc(coordinator, fund, content)
    found = {(i.row, i.field, i.code, i.value) for i in job.issues.all()}
    assert found == {
        (1, "caseId", "unknown_column", ""),
        (3, "yearOfRegistration", "bad_year", "1850"),
        (4, "yearOfRegistration", "bad_year", str(YEAR + 1)),
        (5, "gender", "unknown_value", "Femal"),  # a typo is shown, with what was meant
        (5, "Datasource", "unknown_value", ""),  # free text is neither kept nor shown
        (6, "gender", "unknown_value", ""),  # a name in the gender column is never shown
        (6, "citizenship", "unknown_country", "GEO"),
        (7, "majorityStatus", "inconsistent_age", "Adult"),
        (8, "isForcedLabour", "bad_boolean", "2"),
        (9, "CountryOfExploitation", "unknown_country", "XX"),
    }
    messages = {(i.row, i.field): i.message for i in job.issues.all()}
    assert messages[(5, "gender")].endswith("Did you mean Female?")
    assert messages[(6, "citizenship")].endswith("Did you mean GE?")
    assert (job.saved_rows, job.failed_rows, job.total_rows) == (2, 7, 9)
    saved = {r.year_of_registration: r for r in ImportedStatisticRecord.objects.all()}
    assert saved[2019].age_group == "9-17" and saved[2019].ctdc["ageBroad"] == "9--17"
    assert saved[2016].citizenship == "" and saved[2016].exploitation_forms == ["forced_labour"]
    assert saved[2016].is_child is False

    again = import_ctdc(coordinator, fund, content)
    assert (again.saved_rows, again.skipped_rows) == (0, 2)
    assert ImportedStatisticRecord.objects.count() == 2


def test_ctdc_import_needs_stats_export(worker, fund):
    form_page = logged_in_client(worker).get(url("exchange_import")).content.decode()
    assert 'value="htcds"' in form_page and 'value="ctdc"' not in form_page
    coordinator = member(Role.COORDINATOR, agency=fund)
    response = logged_in_client(coordinator).post(
        url("exchange_import"),
        {"kind": "ctdc", "agency": fund.pk, "file": SimpleUploadedFile("c.csv", ctdc_file([]))},
    )
    assert response.status_code == 302
    job_url = response["Location"]
    assert logged_in_client(coordinator).get(job_url).status_code == 200
    assert logged_in_client(member(Role.COORDINATOR, agency=AgencyFactory())).get(job_url).status_code == 404
    assert logged_in_client(worker).get(job_url).status_code == 404
