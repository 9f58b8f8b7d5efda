"""Writes of the inspections app: one function per act, atomic, audited.

Every service checks its rules before writing and raises `DomainError` (a translated message) when an act is not
allowed; each runs in one transaction, so a refused act changes nothing. Who may act is checked by the views and
the API through `selectors` (an inspection the user may not act on answers 404); `record_inspection` also checks
that the actor records for a labour inspection agency they belong to.

A worker screening is saved as a draft at every change (`save_draft`): the indicators found, and the result and
conclusion `cases.screening.evaluate` gives for them. `refer_worker` then, in one step, either refers the worker
into the mechanism (`cases.services.refer_person`, with the same instrument version and indicators recorded on
the new case by `record_screening`), or, for an adult who does not consent, files an anonymous notification
(`notify_anonymously`: no identity is kept anywhere). Where the country profile says so
(`labour_inspection.notify_police_on_referral`), the police partner is alerted with the case reference (or the
notification's id) and the region only.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.access import access_for
from opennrm.accounts.models import Agency, AgencyKind, Membership, User
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm
from opennrm.cases import choices
from opennrm.cases import screening as instruments
from opennrm.cases import services as case_services
from opennrm.cases.services import IntakeData
from opennrm.core import audit
from opennrm.core.errors import ConcurrentEditError, DomainError
from opennrm.core.models import Alert
from opennrm.core.profiles import active_profile
from opennrm.core.reference import is_valid_country
from opennrm.inspections.models import EmployerIdentifier, Inspection, ScreeningStatus, WorkerScreening

CHILD_AGE = case_services.CHILD_AGE
MAX_WORKERS = 100_000
LABOUR_FORMS = frozenset({"forced_labour", "child_labour"})
# No letters or digits that read alike (0/O, 1/I/L, 2/Z, 5/S, 8/B).
PSEUDONYM_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
PSEUDONYM_LENGTH = 4

INSPECTION_EDITABLE = frozenset(
    {
        "employer_name",
        "employer_identifiers",
        "sector",
        "region",
        "date",
        "joint_with_police",
        "workers_present",
        "workers_interviewed",
        "findings",
        "inspectors",
    }
)


# --- checks ---------------------------------------------------------------------------------------------------


def _check_sector(sector: str) -> str:
    if not choices.is_valid("vic_ForcedLabourIndustry", sector or ""):
        raise DomainError(_("Unknown sector: %(code)s") % {"code": sector or "—"}, code="unknown_code")
    return sector


def _check_region(region: str) -> str:
    region = (region or "").upper()
    if not region:
        raise DomainError(_("Choose the region of the workplace."), code="required")
    if region not in {code for code, _name in active_profile().region_choices()}:
        raise DomainError(_("Unknown region: %(code)s") % {"code": region}, code="unknown_code")
    return region


def _check_date(date: dt.date | None) -> dt.date:
    if date is None:
        raise DomainError(_("Enter the date of the inspection."), code="required")
    if date > timezone.localdate():
        raise DomainError(_("The date of the inspection cannot be in the future."), code="future_date")
    if date.year < 2000:
        raise DomainError(_("The date of the inspection is too far in the past."), code="invalid_date")
    return date


def _check_counts(present: Any, interviewed: Any) -> tuple[int, int]:
    for value in (present, interviewed):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WORKERS:
            raise DomainError(
                _("The numbers of workers must be whole numbers between 0 and %(max)d.")
                % {"max": MAX_WORKERS},
                code="invalid_count",
            )
    if interviewed > present:
        raise DomainError(
            _("More workers interviewed (%(interviewed)d) than present (%(present)d).")
            % {"interviewed": interviewed, "present": present},
            code="interviewed_above_present",
        )
    return present, interviewed


def _check_employer(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Enter the name of the employer."), code="required")
    if len(name) > 200:
        raise DomainError(_("The employer's name is too long (at most 200 characters)."), code="too_long")
    return name


def _check_identifiers(identifiers: Iterable[Any]) -> list[dict[str, str]]:
    cleaned: list[dict[str, str]] = []
    for item in identifiers or ():
        if not isinstance(item, dict):
            raise DomainError(_("An employer identifier needs a type and a value."), code="invalid")
        kind, value = str(item.get("type", "")), str(item.get("value", "")).strip()
        if not value:
            continue
        if kind not in EmployerIdentifier.values:
            raise DomainError(
                _("Unknown kind of employer identifier: %(code)s") % {"code": kind}, code="unknown_code"
            )
        if len(value) > 64:
            raise DomainError(
                _("An employer identifier is too long (at most 64 characters)."), code="too_long"
            )
        cleaned.append({"type": kind, "value": value})
    return cleaned


def _check_agency(actor: User, agency: Agency) -> None:
    if agency.kind != AgencyKind.LABOUR_INSPECTION:
        raise DomainError(
            _("Only a labour inspection agency records inspections."), code="not_labour_inspection"
        )
    if agency.pk not in access_for(actor).agency_ids_with(Perm.INSPECTION_RECORD):
        raise PermissionDenied


def _inspector_roles() -> list[str]:
    return [role for role, perms in ROLE_PERMISSIONS.items() if Perm.INSPECTION_RECORD in perms]


def _check_inspectors(agency: Agency, inspectors: Iterable[User]) -> list[User]:
    people = list({user.pk: user for user in inspectors}.values())
    if not people:
        raise DomainError(_("Name at least one inspector."), code="required")
    members = set(
        Membership.objects.active()
        .filter(agency=agency, role__in=_inspector_roles(), user__in=people)
        .values_list("user_id", flat=True)
    )
    strangers = [user for user in people if user.pk not in members]
    if strangers:
        raise DomainError(
            _("Not an inspector of %(agency)s: %(names)s")
            % {
                "agency": agency.name,
                "names": ", ".join(u.get_full_name() or u.get_username() for u in strangers),
            },
            code="not_inspector",
        )
    return people


def _check_worker(age: int | None, sex: str, citizenship: str) -> tuple[int | None, str, str]:
    if age is not None and (isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 120):
        raise DomainError(_("The age must be between 0 and 120."), code="invalid_age")
    if not choices.is_valid("prs_Gender", sex or ""):
        raise DomainError(
            _("Unknown code for %(field)s: %(codes)s") % {"field": _("sex / gender"), "codes": sex},
            code="unknown_code",
        )
    citizenship = (citizenship or "").upper()
    if citizenship and not is_valid_country(citizenship):
        raise DomainError(
            _("Unknown country code for %(field)s: %(code)s")
            % {"field": _("citizenship"), "code": citizenship},
            code="unknown_code",
        )
    return age, sex, citizenship


def labour_list(
    instrument_id: str, version: str, list_id: str, *, digest: str | None = None
) -> tuple[instruments.Instrument, instruments.InstrumentList]:
    """The instrument version and its list, if loaded and meant for labour exploitation; else `DomainError`.
    With `digest` (as stored on a screening), also that the loaded file is exactly the one the screening used."""
    try:
        instrument = instruments.get_instrument(instrument_id, version, digest=digest)
        item = instrument.get_list(list_id)
    except instruments.InstrumentConflictError:
        raise DomainError(
            _(
                "The screening instrument %(instrument)s version %(version)s changed on this platform since this "
                "screening was started. Start a new screening."
            )
            % {"instrument": instrument_id, "version": version},
            code="instrument_changed",
        ) from None
    except (LookupError, ValueError):
        raise DomainError(
            _("This screening list is not loaded on this platform: %(list)s.")
            % {"list": f"{instrument_id} {version} {list_id}"},
            code="unknown_instrument",
        ) from None
    if not LABOUR_FORMS & set(item.forms_of_exploitation):
        raise DomainError(
            _("This list is not for labour exploitation: choose a labour list."), code="not_labour_list"
        )
    return instrument, item


def _evaluate(
    instrument: instruments.Instrument, item: instruments.InstrumentList, found: Iterable[str]
) -> instruments.ScreeningResult:
    found = {str(indicator) for indicator in found}
    unknown = sorted(found - {indicator.id for indicator in item.indicators})
    if unknown:
        raise DomainError(
            _("Unknown indicator for this list: %(ids)s") % {"ids": ", ".join(unknown)}, code="unknown_code"
        )
    return instruments.evaluate(instrument=instrument, list_id=item.id, found=found)


def _bump(
    model: type[Inspection] | type[WorkerScreening], obj: Inspection | WorkerScreening, expected: int
) -> None:
    updated = model.objects.filter(pk=obj.pk, version=expected).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    if updated != 1:
        raise ConcurrentEditError(
            _(
                "Someone else changed this while you were working on it, or an earlier save is still under way. "
                "Nothing was saved: reload the page, check what it shows, and make your change again."
            ),
            code="concurrent_edit",
        )
    obj.version = expected + 1


# --- inspections ------------------------------------------------------------------------------------------------


@transaction.atomic
def record_inspection(
    *,
    actor: User,
    agency: Agency,
    employer_name: str,
    sector: str,
    region: str,
    date: dt.date | None,
    workers_present: int,
    workers_interviewed: int,
    employer_identifiers: Iterable[dict[str, str]] = (),
    joint_with_police: bool = False,
    findings: str = "",
    inspectors: Iterable[User] | None = None,
) -> Inspection:
    """A labour inspector records an inspection of a workplace for their agency (of kind labour inspection)."""
    _check_agency(actor, agency)
    present, interviewed = _check_counts(workers_present, workers_interviewed)
    people = _check_inspectors(agency, list(inspectors) if inspectors else [actor])
    inspection = Inspection.objects.create(
        agency=agency,
        employer_name=_check_employer(employer_name),
        employer_identifiers=cast(Any, _check_identifiers(employer_identifiers)),
        sector=_check_sector(sector),
        region=_check_region(region),
        date=_check_date(date),
        joint_with_police=bool(joint_with_police),
        workers_present=present,
        workers_interviewed=interviewed,
        findings=(findings or "").strip(),
        created_by=actor,
    )
    inspection.inspectors.set(people)
    audit.record(
        actor=actor,
        action="inspection.recorded",
        target=inspection,
        agency=agency,
        details={
            "sector": inspection.sector,
            "region": inspection.region,
            "joint": inspection.joint_with_police,
        },
    )
    return inspection


@transaction.atomic
def update_inspection(
    *, actor: User, inspection: Inspection, expected_version: int, changes: dict[str, Any]
) -> Inspection:
    """Change what was recorded (counts after the interviews, findings ...), over the version that was read."""
    unknown = set(changes) - INSPECTION_EDITABLE
    if unknown:
        raise DomainError(
            _("These fields cannot be changed here: %(f)s") % {"f": ", ".join(sorted(unknown))},
            code="invalid",
        )
    values = dict(changes)
    if "employer_name" in values:
        values["employer_name"] = _check_employer(values["employer_name"])
    if "employer_identifiers" in values:
        values["employer_identifiers"] = _check_identifiers(values["employer_identifiers"])
    if "sector" in values:
        values["sector"] = _check_sector(values["sector"])
    if "region" in values:
        values["region"] = _check_region(values["region"])
    if "date" in values:
        values["date"] = _check_date(values["date"])
    if "findings" in values:
        values["findings"] = (values["findings"] or "").strip()
    if "joint_with_police" in values:
        values["joint_with_police"] = bool(values["joint_with_police"])
    present = values.get("workers_present", inspection.workers_present)
    interviewed = values.get("workers_interviewed", inspection.workers_interviewed)
    _check_counts(present, interviewed)
    people = (
        _check_inspectors(inspection.agency, values.pop("inspectors")) if "inspectors" in values else None
    )
    _bump(Inspection, inspection, expected_version)
    for name, value in values.items():
        setattr(inspection, name, value)
    inspection.save(update_fields=[*values, "version", "updated_at"])
    if people is not None:
        inspection.inspectors.set(people)
    audit.record(
        actor=actor, action="inspection.updated", target=inspection, details={"fields": sorted(changes)}
    )
    return inspection


# --- screening workers ----------------------------------------------------------------------------------------


def _pseudonym() -> str:
    return "W-" + "".join(secrets.choice(PSEUDONYM_ALPHABET) for _i in range(PSEUDONYM_LENGTH))


@transaction.atomic
def start_screening(
    *,
    actor: User,
    inspection: Inspection,
    instrument_id: str,
    instrument_version: str,
    list_id: str,
    age: int | None = None,
    sex: str = "non_specified_unknown",
    citizenship: str = "",
) -> WorkerScreening:
    """Start screening a worker, without identity: a pseudonym, the age (for the list), sex and citizenship."""
    age, sex, citizenship = _check_worker(age, sex, citizenship)
    instrument, item = labour_list(instrument_id, instrument_version, list_id)
    if age is not None and (age < CHILD_AGE) != (item.population == instruments.Population.CHILD):
        if age < CHILD_AGE:
            message = _("This worker is %(age)d, a child: use a list for children.")
        else:
            message = _("This worker is %(age)d, an adult: use a list for adults.")
        raise DomainError(message % {"age": age}, code="wrong_population")
    data = _evaluate(instrument, item, ()).as_dict()
    for _attempt in range(20):
        try:
            with transaction.atomic():
                screening = WorkerScreening.objects.create(
                    inspection=inspection,
                    pseudonym=_pseudonym(),
                    age=age,
                    age_group=choices.age_group(age),
                    sex=sex,
                    citizenship=citizenship,
                    instrument_id=instrument.id,
                    instrument_version=instrument.version,
                    instrument_digest=instrument.digest,
                    list_id=item.id,
                    population=item.population,
                    found=[],
                    result=data,
                    conclusion=str(data["conclusion"]),
                    screened_by=actor,
                )
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - 390,625 pseudonyms per inspection
        raise DomainError(_("No free pseudonym: try again."), code="no_pseudonym")
    audit.record(
        actor=actor,
        action="inspection.screening_started",
        target=screening,
        details={
            "inspection": inspection.public_id,
            "instrument": f"{instrument.id}@{instrument.version}",
            "list": item.id,
        },
    )
    return screening


def _apply(screening: WorkerScreening, found: Iterable[str]) -> None:
    if screening.status != ScreeningStatus.DRAFT:
        raise DomainError(
            _("This screening is no longer a draft: its indicators cannot be changed."), code="not_draft"
        )
    instrument, item = labour_list(
        screening.instrument_id,
        screening.instrument_version,
        screening.list_id,
        digest=screening.instrument_digest,
    )
    result = _evaluate(instrument, item, found)
    data = result.as_dict()
    screening.found = sorted(result.found)
    screening.result = data
    screening.conclusion = str(data["conclusion"])


@transaction.atomic
def save_draft(
    *, actor: User, screening: WorkerScreening, expected_version: int, found: Iterable[str]
) -> WorkerScreening:
    """Save the indicators found so far, with the result and conclusion they give (at every change)."""
    _apply(screening, found)
    _bump(WorkerScreening, screening, expected_version)
    screening.save(update_fields=["found", "result", "conclusion", "updated_at"])
    audit.record(
        actor=actor,
        action="inspection.screening_saved",
        target=screening,
        details={"found": len(screening.found), "conclusion": screening.conclusion},
    )
    return screening


@transaction.atomic
def complete_screening(
    *, actor: User, screening: WorkerScreening, expected_version: int, found: Iterable[str] | None = None
) -> WorkerScreening:
    """The screening is done (with, optionally, the indicators as last ticked)."""
    _apply(screening, screening.found if found is None else found)
    _bump(WorkerScreening, screening, expected_version)
    screening.status = ScreeningStatus.COMPLETED
    screening.completed_at = timezone.now()
    screening.save(update_fields=["found", "result", "conclusion", "status", "completed_at", "updated_at"])
    audit.record(
        actor=actor,
        action="inspection.screening_completed",
        target=screening,
        details={"found": len(screening.found), "conclusion": screening.conclusion},
    )
    return screening


# --- referral into the mechanism ----------------------------------------------------------------------------------


def _age_of(identity: IntakeData | None, on: dt.date) -> int | None:
    if identity is None:
        return None
    if identity.date_of_birth is not None:
        born = identity.date_of_birth
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return identity.age_estimate


def _intake(
    identity: IntakeData, screening: WorkerScreening, inspection: Inspection, *, age: int | None, child: bool
) -> IntakeData:
    """The referral's intake: the identity given with consent, completed with what the screening knows."""
    return IntakeData(
        given_name=identity.given_name,
        family_name=identity.family_name,
        date_of_birth=identity.date_of_birth,
        age_estimate=None if identity.date_of_birth else age,
        sex=identity.sex if identity.sex != "non_specified_unknown" else screening.sex,
        citizenship=identity.citizenship or screening.citizenship,
        languages=list(identity.languages),
        phone=identity.phone,
        document_type=identity.document_type,
        document_number=identity.document_number,
        first_contact_date=inspection.date,
        region=inspection.region,
        exploitation_forms=["forced_labour", *(["child_labour"] if child else [])],
        exploitation_country=active_profile().code,
        narrative=identity.narrative,
        guardian=identity.guardian,
    )


@transaction.atomic
def refer_worker(
    *,
    actor: User,
    screening: WorkerScreening,
    consent_given: bool,
    identity: IntakeData | None,
    owning_agency: Agency | None,
    expected_version: int | None = None,
) -> WorkerScreening:
    """Refer a screened worker into the mechanism in one step.

    - With consent (or for a child, without: in the child's best interests, as `refer_person` does): a case is
      created with the identity given, owned by `owning_agency`, with the screening recorded on it (same
      instrument version, same indicators); the case is linked to the screening.
    - An adult who does not consent: an anonymous notification is filed; the identity given (if any) is not
      kept anywhere, and the screening keeps only the age group.
    - Then, where the country profile says so, the police partner is alerted.
    """
    screening = (
        WorkerScreening.objects.select_for_update(of=("self",))
        .select_related("inspection", "inspection__agency")
        .get(pk=screening.pk)
    )
    if screening.status in (ScreeningStatus.REFERRED, ScreeningStatus.NOTIFIED):
        raise DomainError(_("This worker was already referred or notified."), code="already_referred")
    if expected_version is not None and expected_version != screening.version:
        raise ConcurrentEditError(
            _(
                "Someone else changed this screening while you were working on it. Nothing was saved: reload the "
                "page and check it."
            ),
            code="concurrent_edit",
        )
    instrument, item = labour_list(
        screening.instrument_id,
        screening.instrument_version,
        screening.list_id,
        digest=screening.instrument_digest,
    )
    result = _evaluate(instrument, item, screening.found)
    inspection = screening.inspection
    age = _age_of(identity, inspection.date)
    if age is None:
        age = screening.age
    child = age < CHILD_AGE if age is not None else screening.population == instruments.Population.CHILD
    case = None
    notification = None
    if child or consent_given:
        if identity is None or not identity.given_name.strip():
            raise DomainError(_("Enter the worker's given name to refer them."), code="name_required")
        if age is None and child:
            raise DomainError(
                _(
                    "Enter the worker's age or date of birth: a child is referred in their best interests, and the "
                    "mechanism needs the age for that."
                ),
                code="age_required",
            )
        if owning_agency is None:
            raise DomainError(_("Choose the agency that will take the case."), code="agency_required")
        case = case_services.refer_person(
            actor=actor,
            referring_agency=inspection.agency,
            owning_agency=owning_agency,
            data=_intake(identity, screening, inspection, age=age, child=child),
            consent_given=consent_given,
        )
        case_services.update_case(
            actor=actor,
            case=case,
            expected_version=case.version,
            changes={"forced_labour_industry": inspection.sector},
        )
        case_services.record_screening(
            actor=actor,
            case=case,
            instrument_id=instrument.id,
            instrument_version=instrument.version,
            list_id=item.id,
            found=result.found,
        )
        screening.case = case
        screening.status = ScreeningStatus.REFERRED
    else:
        notification = case_services.notify_anonymously(
            actor=actor,
            agency=inspection.agency,
            first_contact_date=inspection.date,
            sex=screening.sex,
            age=age,
            citizenship=screening.citizenship,
            region=inspection.region,
            exploitation_forms=["forced_labour"],
            exploitation_country=active_profile().code,
        )
        screening.notification = notification
        screening.status = ScreeningStatus.NOTIFIED
        screening.age = None  # the notification keeps the age group only; so does the screening
    now = timezone.now()
    screening.consent_to_referral = consent_given
    screening.referred_at = now
    screening.completed_at = screening.completed_at or now
    screening.version += 1
    screening.save(
        update_fields=[
            "case",
            "notification",
            "status",
            "age",
            "consent_to_referral",
            "referred_at",
            "completed_at",
            "version",
            "updated_at",
        ]
    )
    audit.record(
        actor=actor,
        action="inspection.worker_referred" if case else "inspection.worker_notified",
        target=screening,
        agency=inspection.agency,
        details={
            "inspection": inspection.public_id,
            "case": case.reference if case else "",
            "notification": notification.public_id if notification else "",
            "child": child,
            "consent": consent_given,
            "conclusion": screening.conclusion,
        },
    )
    _alert_police(actor=actor, screening=screening, inspection=inspection)
    return screening


def _alert_police(*, actor: User, screening: WorkerScreening, inspection: Inspection) -> int:
    """Where the profile says so, an alert to the active members of the police partner who may file or see
    referrals: the case reference (or the notification's id) and the region, nothing else. No link: the police
    reach the case only through their own access to it."""
    profile = active_profile()
    rule = profile.labour_inspection
    if not rule.notify_police_on_referral:
        return 0
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if perms & {Perm.CASE_REFER, Perm.CASE_VIEW}]
    recipients = {
        m.user_id: m.user
        for m in Membership.objects.active()
        .filter(agency__kind=rule.police_agency_kind, agency__country=profile.code, role__in=roles)
        .select_related("user")
    }
    if screening.case is not None:
        kind, reference = "inspection_referral", screening.case.reference
    else:
        assert screening.notification is not None
        kind, reference = "inspection_notification", screening.notification.public_id
    Alert.objects.bulk_create(
        [
            Alert(
                recipient=user,
                kind=kind,
                params={
                    "reference": reference,
                    "region": profile.region_name(
                        inspection.region, language=user.preferred_language or settings.LANGUAGE_CODE
                    ),
                },
            )
            for user in recipients.values()
        ]
    )
    audit.record(
        actor=actor,
        action="inspection.police_alerted",
        target=screening,
        agency=inspection.agency,
        details={"kind": kind, "reference": reference, "recipients": len(recipients)},
    )
    return len(recipients)
