"""The services of labour inspections: recording an inspection, screening workers as drafts, and referring a
presumed victim into the mechanism in one step (a case with the screening, an anonymous notification, a child in
their best interests), with the police partner alerted where the profile says so."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone

from opennrm.accounts.access import access_for
from opennrm.accounts.roles import Role
from opennrm.accounts.tests.factories import member
from opennrm.cases import screening as instruments
from opennrm.cases.choices import CaseStatus, ConsentBasis, ConsentPurpose
from opennrm.cases.models import Case, Consent, Notification, Person, Screening
from opennrm.cases.selectors import visible_cases
from opennrm.cases.services import IntakeData
from opennrm.core.errors import ConcurrentEditError, DomainError
from opennrm.core.models import Alert, AuditEntry
from opennrm.core.profiles import LabourInspection, active_profile
from opennrm.inspections import services
from opennrm.inspections.models import Inspection, ScreeningStatus, WorkerScreening
from opennrm.inspections.tests.factories import (
    DELPHI,
    EMPLOYER,
    FINDINGS,
    ILO_11,
    TAX_ID,
    negative_found,
    presumed_found,
    world,
)

pytestmark = pytest.mark.django_db

GIVEN = "Rustam"
FAMILY = "Demo-Tursunov"


def message(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return " ".join(str(m) for m in exc.value.messages)


def raw_row(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # noqa: S608 - test, fixed table names
        return " ".join(str(value) for value in cursor.fetchone())


def identity(**changes: object) -> IntakeData:
    data = IntakeData(given_name=GIVEN, family_name=FAMILY, phone="+995555000111")
    for name, value in changes.items():
        setattr(data, name, value)
    return data


# --- recording an inspection --------------------------------------------------------------------------------


def test_an_inspection_is_recorded_with_the_employer_encrypted_and_audited():
    w = world()
    inspection = w.inspect(joint_with_police=True)
    stored = Inspection.objects.get(pk=inspection.pk)
    assert stored.employer_name == EMPLOYER and stored.findings == FINDINGS
    assert stored.employer_identifiers == [{"type": "tax_id", "value": TAX_ID}]
    row = raw_row("inspections_inspection", inspection.pk)
    assert EMPLOYER not in row and TAX_ID not in row and FINDINGS not in row
    assert list(stored.inspectors.all()) == [w.inspector]
    entry = AuditEntry.objects.get(action="inspection.recorded")
    assert entry.target_id == inspection.public_id
    assert entry.details == {"sector": "a_agriculture_forestry_and_fishing", "region": "GE-KA", "joint": True}
    assert EMPLOYER not in str(entry.details)


@pytest.mark.parametrize(
    ("changes", "code", "text"),
    [
        (
            {"workers_present": 5, "workers_interviewed": 6},
            "interviewed_above_present",
            "More workers interviewed (6) than present (5).",
        ),
        ({"workers_present": -1}, "invalid_count", "whole numbers between 0 and"),
        ({"date": timezone.localdate() + dt.timedelta(days=1)}, "future_date", "cannot be in the future"),
        ({"sector": "z_smuggling"}, "unknown_code", "Unknown sector: z_smuggling"),
        ({"region": "UA-30"}, "unknown_code", "Unknown region: UA-30"),
        ({"employer_name": "  "}, "required", "Enter the name of the employer."),
        ({"employer_identifiers": [{"type": "vat", "value": "1"}]}, "unknown_code", "employer identifier"),
    ],
)
def test_bad_input_is_refused_with_a_translated_message_and_nothing_is_saved(changes, code, text):
    w = world()
    with pytest.raises(DomainError) as exc:
        w.inspect(**changes)
    assert exc.value.code == code
    assert text in message(exc)
    assert Inspection.objects.count() == 0
    assert not AuditEntry.objects.filter(action="inspection.recorded").exists()


def test_only_a_labour_inspection_agency_records_and_only_for_its_members():
    w = world()
    with pytest.raises(DomainError) as exc:
        services.record_inspection(
            actor=w.officer,
            agency=w.police,
            employer_name=EMPLOYER,
            sector="f_construction",
            region="GE-TB",
            date=timezone.localdate(),
            workers_present=3,
            workers_interviewed=1,
        )
    assert exc.value.code == "not_labour_inspection"
    with pytest.raises(PermissionDenied):
        w.inspect(actor=w.other_inspector)
    with pytest.raises(DomainError) as exc:
        w.inspect(inspectors=[w.inspector, w.other_inspector])
    assert exc.value.code == "not_inspector"
    assert Inspection.objects.count() == 0


def test_an_edit_over_someone_elses_is_refused():
    w = world()
    inspection = w.inspect()
    services.update_inspection(
        actor=w.inspector, inspection=inspection, expected_version=1, changes={"workers_interviewed": 9}
    )
    stale = Inspection.objects.get(pk=inspection.pk)
    stale.version = 1
    with pytest.raises(ConcurrentEditError):
        services.update_inspection(
            actor=w.inspector, inspection=stale, expected_version=1, changes={"workers_interviewed": 3}
        )
    assert Inspection.objects.get(pk=inspection.pk).workers_interviewed == 9
    with pytest.raises(DomainError) as exc:
        services.update_inspection(
            actor=w.inspector, inspection=inspection, expected_version=2, changes={"workers_interviewed": 21}
        )
    assert exc.value.code == "interviewed_above_present"


# --- screening workers ---------------------------------------------------------------------------------------


def test_a_worker_is_screened_under_a_pseudonym_without_identity():
    w = world()
    screening = w.screen()
    assert screening.pseudonym.startswith("W-") and len(screening.pseudonym) == 6
    assert screening.status == ScreeningStatus.DRAFT
    assert screening.conclusion == instruments.Conclusion.NOT_INDICATED
    assert (screening.age, screening.age_group, screening.population) == (34, "30-38", "adult")
    latest = instruments.latest(DELPHI)
    assert (screening.instrument_version, screening.instrument_digest) == (latest.version, latest.digest)
    assert not {f.name for f in WorkerScreening._meta.get_fields()} & {
        "given_name",
        "name",
        "phone",
        "documents",
    }


def test_the_draft_is_saved_at_every_change_and_restored_as_it_was():
    w = world()
    screening = w.screen()
    services.save_draft(actor=w.inspector, screening=screening, expected_version=1, found=negative_found())
    services.save_draft(actor=w.inspector, screening=screening, expected_version=2, found=presumed_found())
    # An interrupted inspector comes back: everything is as it was left.
    restored = WorkerScreening.objects.get(pk=screening.pk)
    assert set(restored.found) == presumed_found()
    assert restored.conclusion == instruments.Conclusion.PRESUMED_VICTIM
    assert restored.result["conclusion"] == "presumed_victim"
    positive = {d["id"] for d in restored.result["dimensions"] if d["positive"]}
    assert {"deceptive_recruitment", "exploitative_conditions", "coercion_at_destination"} <= positive
    assert restored.version == 3 and restored.status == ScreeningStatus.DRAFT
    assert (
        AuditEntry.objects.filter(action="inspection.screening_saved", target_id=screening.public_id).count()
        == 2
    )


def test_a_stale_draft_or_an_unknown_indicator_changes_nothing():
    w = world()
    screening = w.screen(found=negative_found())
    stale = WorkerScreening.objects.get(pk=screening.pk)
    services.save_draft(actor=w.inspector, screening=screening, expected_version=2, found=presumed_found())
    with pytest.raises(ConcurrentEditError):
        services.save_draft(actor=w.inspector, screening=stale, expected_version=2, found=set())
    with pytest.raises(DomainError) as exc:
        services.save_draft(actor=w.inspector, screening=screening, expected_version=3, found={"ex_made_up"})
    assert exc.value.code == "unknown_code" and "ex_made_up" in message(exc)
    assert set(WorkerScreening.objects.get(pk=screening.pk).found) == presumed_found()


def test_the_list_must_fit_the_worker_and_be_a_labour_list():
    w = world()
    inspection = w.inspect()
    delphi = instruments.latest(DELPHI)
    cases = [
        ({"list_id": "adult_labour", "age": 15}, "wrong_population"),
        ({"list_id": "child_labour", "age": 30}, "wrong_population"),
        ({"list_id": "adult_sexual", "age": 30}, "not_labour_list"),
        ({"list_id": "no_such_list", "age": 30}, "unknown_instrument"),
    ]
    for changes, code in cases:
        with pytest.raises(DomainError) as exc:
            services.start_screening(
                actor=w.inspector,
                inspection=inspection,
                instrument_id=delphi.id,
                instrument_version=delphi.version,
                sex="feminine",
                **changes,
            )
        assert exc.value.code == code
    assert WorkerScreening.objects.count() == 0


def test_the_ilo_11_indicators_can_be_used_and_count_against_the_threshold():
    w = world()
    ilo = instruments.latest(ILO_11)
    ids = [i.id for i in ilo.get_list("adult_forced_labour").indicators]
    screening = w.screen(instrument=ILO_11, list_id="adult_forced_labour", found=set(ids[:2]))
    assert screening.conclusion == instruments.Conclusion.PRESUMED_VICTIM
    assert screening.result["rule"]["type"] == "count"


def test_a_completed_screening_is_no_longer_changed():
    w = world()
    screening = w.screen(found=negative_found())
    services.complete_screening(actor=w.inspector, screening=screening, expected_version=2)
    assert screening.status == ScreeningStatus.COMPLETED and screening.completed_at is not None
    with pytest.raises(DomainError) as exc:
        services.save_draft(
            actor=w.inspector, screening=screening, expected_version=3, found=presumed_found()
        )
    assert exc.value.code == "not_draft"


# --- referral into the mechanism --------------------------------------------------------------------------------


def test_with_consent_a_case_is_created_with_the_screening_and_the_owning_agency_sees_it():
    w = world()
    screening = w.screen(found=presumed_found())
    done = services.refer_worker(
        actor=w.inspector,
        screening=screening,
        consent_given=True,
        identity=identity(),
        owning_agency=w.fund,
        expected_version=2,
    )
    case = Case.objects.get()
    assert done.case == case and done.status == ScreeningStatus.REFERRED and done.consent_to_referral is True
    assert (case.referring_agency, case.owning_agency, case.created_by) == (w.labour, w.fund, w.inspector)
    assert case.status == CaseStatus.SCREENED and not case.is_child
    assert case.first_contact_date == screening.inspection.date and case.region == "GE-KA"
    assert case.forced_labour_industry == "a_agriculture_forestry_and_fishing"
    assert (
        case.person.given_name == GIVEN and case.person.citizenship == "UZ" and case.person.sex == "masculine"
    )
    recorded = Screening.objects.get(case=case)
    assert (
        recorded.instrument_id,
        recorded.instrument_version,
        recorded.instrument_digest,
        recorded.list_id,
    ) == (screening.instrument_id, screening.instrument_version, screening.instrument_digest, "adult_labour")
    assert set(recorded.found) == presumed_found() and recorded.conclusion == "presumed_victim"
    assert visible_cases(access_for(w.case_worker)).filter(pk=case.pk).exists()
    assert not visible_cases(access_for(w.other_inspector)).filter(pk=case.pk).exists()
    assert AuditEntry.objects.filter(
        action="inspection.worker_referred", target_id=screening.public_id
    ).exists()
    assert GIVEN not in str(list(AuditEntry.objects.values_list("details", flat=True)))


def test_an_adult_who_does_not_consent_is_notified_anonymously_and_no_identity_is_kept():
    w = world()
    screening = w.screen(found=presumed_found())
    done = services.refer_worker(
        actor=w.inspector, screening=screening, consent_given=False, identity=identity(), owning_agency=w.fund
    )
    assert Person.objects.count() == 0 and Case.objects.count() == 0
    notification = Notification.objects.get()
    assert done.notification == notification and done.status == ScreeningStatus.NOTIFIED
    assert done.consent_to_referral is False
    assert (notification.referring_agency, notification.region, notification.age_group) == (
        w.labour,
        "GE-KA",
        "30-38",
    )
    assert notification.exploitation_forms == ["forced_labour"] and notification.citizenship == "UZ"
    assert WorkerScreening.objects.get(pk=screening.pk).age is None  # the age group only, as the notification
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - test: every table of the test database
            assert GIVEN not in str(cursor.fetchall()), table


def test_a_child_is_referred_without_consent_in_their_best_interests():
    w = world()
    screening = w.screen(list_id="child_labour", age=15, found=presumed_found("child_labour"))
    done = services.refer_worker(
        actor=w.inspector,
        screening=screening,
        consent_given=False,
        identity=identity(guardian="Demo guardian, mother"),
        owning_agency=w.fund,
    )
    case = done.case
    assert case is not None and case.is_child and case.age_at_exploitation == 15
    assert set(case.exploitation_forms.values_list("form", flat=True)) == {"forced_labour", "child_labour"}
    consent = Consent.objects.get(case=case, purpose=ConsentPurpose.DATA_PROCESSING)
    assert consent.basis == ConsentBasis.CHILD_BEST_INTERESTS
    assert Notification.objects.count() == 0


def test_a_child_of_unknown_age_needs_an_age_to_be_referred():
    w = world()
    screening = w.screen(list_id="child_labour", age=None, found=presumed_found("child_labour"))
    with pytest.raises(DomainError) as exc:
        services.refer_worker(
            actor=w.inspector,
            screening=screening,
            consent_given=False,
            identity=identity(),
            owning_agency=w.fund,
        )
    assert exc.value.code == "age_required"
    assert Case.objects.count() == 0 and Notification.objects.count() == 0
    done = services.refer_worker(
        actor=w.inspector,
        screening=screening,
        consent_given=False,
        identity=identity(age_estimate=16),
        owning_agency=w.fund,
    )
    assert done.case.is_child


def test_a_referral_needs_a_name_and_an_agency_and_happens_once():
    w = world()
    screening = w.screen(found=presumed_found())
    with pytest.raises(DomainError) as exc:
        services.refer_worker(
            actor=w.inspector,
            screening=screening,
            consent_given=True,
            identity=identity(given_name=" "),
            owning_agency=w.fund,
        )
    assert exc.value.code == "name_required"
    with pytest.raises(DomainError) as exc:
        services.refer_worker(
            actor=w.inspector,
            screening=screening,
            consent_given=True,
            identity=identity(),
            owning_agency=None,
        )
    assert exc.value.code == "agency_required"
    services.refer_worker(
        actor=w.inspector, screening=screening, consent_given=True, identity=identity(), owning_agency=w.fund
    )
    with pytest.raises(DomainError) as exc:
        services.refer_worker(
            actor=w.inspector,
            screening=screening,
            consent_given=True,
            identity=identity(),
            owning_agency=w.fund,
        )
    assert exc.value.code == "already_referred"
    assert Case.objects.count() == 1


def test_a_screening_whose_instrument_changed_is_not_referred():
    w = world()
    screening = w.screen(found=presumed_found())
    WorkerScreening.objects.filter(pk=screening.pk).update(instrument_digest="0" * 64)
    with pytest.raises(DomainError) as exc:
        services.refer_worker(
            actor=w.inspector,
            screening=screening,
            consent_given=True,
            identity=identity(),
            owning_agency=w.fund,
        )
    assert exc.value.code == "instrument_changed"
    assert Case.objects.count() == 0


def test_the_police_partner_is_alerted_where_the_profile_says_so():
    w = world()
    investigator = member(Role.DECISION_MAKER, agency=w.police)  # sees cases: alerted too
    analyst = member(Role.ANALYST, agency=w.police)  # neither refers nor sees cases: not alerted
    assert active_profile().labour_inspection.notify_police_on_referral  # Georgia's default
    referred = services.refer_worker(
        actor=w.inspector,
        screening=w.screen(found=presumed_found()),
        consent_given=True,
        identity=identity(),
        owning_agency=w.fund,
    )
    notified = services.refer_worker(
        actor=w.inspector,
        screening=w.screen(found=presumed_found()),
        consent_given=False,
        identity=None,
        owning_agency=None,
    )
    alerts = Alert.objects.order_by("kind", "recipient_id")
    assert {(a.recipient, a.kind) for a in alerts} == {
        (w.officer, "inspection_referral"),
        (investigator, "inspection_referral"),
        (w.officer, "inspection_notification"),
        (investigator, "inspection_notification"),
    }
    assert not Alert.objects.filter(recipient__in=[analyst, w.case_worker, w.inspector]).exists()
    referral_alert = Alert.objects.filter(kind="inspection_referral").first()
    assert referral_alert.params == {"reference": referred.case.reference, "region": "K'akheti"}
    assert referred.case.reference in referral_alert.text and "K'akheti" in referral_alert.text
    assert (
        GIVEN not in referral_alert.text and EMPLOYER not in referral_alert.text and referral_alert.url == ""
    )
    notification_alert = Alert.objects.filter(kind="inspection_notification").first()
    assert notified.notification.public_id in notification_alert.text
    assert AuditEntry.objects.filter(action="inspection.police_alerted").count() == 2


def test_no_police_alert_where_the_profile_says_not(monkeypatch):
    w = world()
    quiet = dataclasses.replace(
        active_profile(), labour_inspection=LabourInspection(notify_police_on_referral=False)
    )
    monkeypatch.setattr(services, "active_profile", lambda: quiet)
    services.refer_worker(
        actor=w.inspector,
        screening=w.screen(found=presumed_found()),
        consent_given=True,
        identity=identity(),
        owning_agency=w.fund,
    )
    assert Case.objects.count() == 1
    assert Alert.objects.count() == 0
    assert not AuditEntry.objects.filter(action="inspection.police_alerted").exists()
