"""Writes of the cases app: one function per act of the mechanism, atomic, audited, on the case timeline.

Every service checks its rules before writing and raises `DomainError` (a translated message) when an act is not
allowed; because each runs in one transaction, a refused act changes nothing.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.models import Agency, User
from opennrm.cases import choices, identity
from opennrm.cases.choices import CaseStatus, ConsentBasis, ConsentPurpose, DecisionOutcome, TraffickingStatus
from opennrm.cases.models import (
    Attachment,
    Case,
    CaseCounter,
    CaseEvent,
    CaseExploitation,
    Compensation,
    Consent,
    Decision,
    Note,
    Notification,
    Person,
    Screening,
    SupportPlanItem,
    TraffickingEvent,
)
from opennrm.cases.workflow import check_transition
from opennrm.core import audit
from opennrm.core.errors import ConcurrentEditError, DomainError
from opennrm.core.profiles import active_profile
from opennrm.core.reference import is_valid_country, is_valid_language

CHILD_AGE = 18


def _event(case: Case, actor: User | None, kind: str, agency: Agency | None = None, **data: Any) -> None:
    CaseEvent.objects.create(case=case, actor=actor, agency=agency, kind=kind, data=data)


def _check_codes(picklist: str, values: Iterable[str], label: str | Promise) -> list[str]:
    values = [v for v in values if v]
    unknown = [v for v in values if not choices.is_valid(picklist, v)]
    if unknown:
        raise DomainError(
            _("Unknown code for %(field)s: %(codes)s") % {"field": label, "codes": ", ".join(unknown)},
            code="unknown_code",
        )
    return values


def _check_country(code: str, label: str | Promise) -> str:
    code = (code or "").upper()
    if code and not is_valid_country(code):
        raise DomainError(
            _("Unknown country code for %(field)s: %(code)s") % {"field": label, "code": code},
            code="unknown_code",
        )
    return code


def _check_languages(codes: Iterable[str]) -> list[str]:
    codes = [c.strip().lower() for c in codes if c and c.strip()]
    unknown = [c for c in codes if not is_valid_language(c)]
    if unknown:
        raise DomainError(
            _("Unknown language code: %(codes)s") % {"codes": ", ".join(unknown)}, code="unknown_code"
        )
    return codes


def _check_region(code: str) -> str:
    if code and code not in {r for r, _n in active_profile().region_choices()}:
        raise DomainError(_("Unknown region: %(code)s") % {"code": code}, code="unknown_code")
    return code


def _verbose(field_name: str) -> str:
    return str(getattr(Case._meta.get_field(field_name), "verbose_name", field_name))


def _age_on(born: dt.date | None, on: dt.date) -> int | None:
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _add_duration(start: dt.date, duration: Any) -> dt.date:
    from dateutil.relativedelta import relativedelta

    return start + relativedelta(**{duration.unit: duration.amount})


def next_reference(country: str, year: int) -> str:
    counter, _created = CaseCounter.objects.select_for_update().get_or_create(country=country, year=year)
    CaseCounter.objects.filter(pk=counter.pk).update(last=F("last") + 1)
    counter.refresh_from_db(fields=["last"])
    return f"{country}-{year}-{counter.last:05d}"


@dataclass
class IntakeData:
    """What a first responder gives at intake: the minimum to act first, details later."""

    given_name: str
    family_name: str = ""
    date_of_birth: dt.date | None = None
    age_estimate: int | None = None
    sex: str = "non_specified_unknown"
    citizenship: str = ""
    languages: list[str] = field(default_factory=list)
    phone: str = ""
    document_type: str = ""
    document_number: str = ""
    first_contact_date: dt.date | None = None
    region: str = ""
    exploitation_forms: list[str] = field(default_factory=list)
    exploitation_country: str = ""
    narrative: str = ""
    guardian: str = ""


def _validate_intake(data: IntakeData, today: dt.date) -> None:
    if not data.given_name.strip():
        raise DomainError(
            _(
                "A given name is needed to refer a person. Without consent, file an anonymous "
                "notification instead."
            ),
            code="required",
        )
    if data.date_of_birth and data.date_of_birth > today:
        raise DomainError(_("The date of birth cannot be in the future."), code="future_date")
    if data.date_of_birth and data.date_of_birth.year < today.year - 120:
        raise DomainError(_("The date of birth is more than 120 years ago."), code="invalid_date")
    if data.first_contact_date and data.date_of_birth and data.first_contact_date < data.date_of_birth:
        raise DomainError(
            _("The date of first contact cannot be before the date of birth."), code="invalid_date"
        )
    if data.first_contact_date and data.first_contact_date > today:
        raise DomainError(_("The date of first contact cannot be in the future."), code="future_date")
    if data.age_estimate is not None and not 0 <= data.age_estimate <= 120:
        raise DomainError(_("The age must be between 0 and 120."), code="invalid_age")
    _check_codes("prs_Gender", [data.sex], _("sex / gender"))
    _check_codes("vic_TypeOfExploitation", data.exploitation_forms, _("form of exploitation"))
    _check_country(data.citizenship, _("citizenship"))
    _check_country(data.exploitation_country, _("country of exploitation"))
    _check_region(data.region)
    data.languages = _check_languages(data.languages)


@transaction.atomic
def refer_person(
    *,
    actor: User,
    referring_agency: Agency,
    owning_agency: Agency,
    data: IntakeData,
    consent_given: bool,
) -> Case:
    """A first responder refers a presumed victim. An adult must consent to the processing of their data;
    a child is referred without consent, in their best interests, with a guardian recorded when known."""
    today = timezone.localdate()
    _validate_intake(data, today)
    first_contact = data.first_contact_date or today
    age = _age_on(data.date_of_birth, first_contact) if data.date_of_birth else data.age_estimate
    is_child = age is not None and age < CHILD_AGE
    if not is_child and not consent_given:
        raise DomainError(
            _(
                "An adult who does not consent cannot be referred with their identity. File an anonymous "
                "notification instead."
            ),
            code="consent_required",
        )
    profile = active_profile()
    person = Person.objects.create(
        given_name=data.given_name.strip(),
        family_name=data.family_name.strip(),
        date_of_birth=data.date_of_birth,
        documents=[{"type": data.document_type or "other", "number": data.document_number.strip()}]
        if data.document_number.strip()
        else [],
        contacts=[{"kind": "phone", "value": data.phone.strip()}] if data.phone.strip() else [],
        sex=data.sex,
        birth_year=data.date_of_birth.year if data.date_of_birth else None,
        citizenship=data.citizenship.upper(),
        languages=data.languages,
    )
    identity.index_person(person)
    case = Case.objects.create(
        reference=next_reference(profile.code, first_contact.year),
        country=profile.code,
        person=person,
        referring_agency=referring_agency,
        owning_agency=owning_agency,
        created_by=actor,
        first_contact_date=first_contact,
        region=data.region,
        age_at_exploitation=age,
        age_group=choices.age_group(age),
        is_child=is_child,
        guardian=data.guardian.strip(),
        narrative=data.narrative.strip(),
        reflection_period_ends=profile.reflection_period_end(first_contact),
    )
    CaseExploitation.objects.bulk_create(
        [CaseExploitation(case=case, form=f) for f in set(data.exploitation_forms)]
    )
    if data.exploitation_country:
        TraffickingEvent.objects.create(
            case=case, type=choices.EventType.EXPLOITATION, country=data.exploitation_country.upper()
        )
    basis = ConsentBasis.CONSENT if consent_given else ConsentBasis.CHILD_BEST_INTERESTS
    Consent.objects.create(
        case=case,
        purpose=ConsentPurpose.DATA_PROCESSING,
        given=consent_given or is_child,
        basis=basis,
        recorded_by=actor,
    )
    audit.record(
        actor=actor,
        action="case.referred",
        target=case,
        agency=referring_agency,
        details={"child": is_child, "consent_basis": basis},
    )
    _event(case, actor, "referred", agency=referring_agency, owning_agency=owning_agency.name, child=is_child)
    _event(
        case,
        actor,
        "consent",
        agency=referring_agency,
        purpose=ConsentPurpose.DATA_PROCESSING,
        given=consent_given or is_child,
        basis=basis,
    )
    return case


@transaction.atomic
def notify_anonymously(
    *,
    actor: User,
    agency: Agency,
    first_contact_date: dt.date,
    sex: str,
    age: int | None,
    citizenship: str = "",
    region: str = "",
    exploitation_forms: Iterable[str] = (),
    exploitation_country: str = "",
) -> Notification:
    """An adult who refuses a referral is counted without identity (statistics only)."""
    if first_contact_date > timezone.localdate():
        raise DomainError(_("The date of first contact cannot be in the future."), code="future_date")
    if age is not None and not 0 <= age <= 120:
        raise DomainError(_("The age must be between 0 and 120."), code="invalid_age")
    if age is not None and age < CHILD_AGE:
        raise DomainError(
            _("A child is always referred, in their best interests: use the referral form."),
            code="child_needs_referral",
        )
    forms = _check_codes("vic_TypeOfExploitation", exploitation_forms, _("form of exploitation"))
    _check_codes("prs_Gender", [sex], _("sex / gender"))
    notification = Notification.objects.create(
        country=active_profile().code,
        region=_check_region(region),
        first_contact_date=first_contact_date,
        sex=sex,
        age_group=choices.age_group(age),
        citizenship=_check_country(citizenship, _("citizenship")),
        exploitation_forms=sorted(set(forms)),
        exploitation_country=_check_country(exploitation_country, _("country of exploitation")),
        referring_agency=agency,
        created_by=actor,
    )
    audit.record(actor=actor, action="notification.filed", target=notification, agency=agency)
    return notification


# --- editing with optimistic locking --------------------------------------------------------------

CASE_EDITABLE = {
    "region",
    "forced_labour_industry",
    "sexual_exploitation_types",
    "methods_of_control",
    "methods_of_recruitment",
    "relationship_to_trafficker",
    "perpetrator_roles",
    "narrative",
    "guardian",
    "case_worker",
}
MULTI_PICKLISTS = {
    "sexual_exploitation_types": "vic_TypeOfSexExploitation",
    "methods_of_control": "vic_MethodsOfControl",
    "methods_of_recruitment": "vic_MethodOfRecruitment",
    "perpetrator_roles": "per_RoleInProcess",
}
SINGLE_PICKLISTS = {
    "forced_labour_industry": "vic_ForcedLabourIndustry",
    "relationship_to_trafficker": "vic_RelationshipToTrafficker",
}


def _bump_version(case: Case, expected_version: int) -> None:
    updated = Case.objects.filter(pk=case.pk, version=expected_version).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    if updated != 1:
        raise ConcurrentEditError(
            _(
                "Someone else changed this case while you were editing it. Your changes were not saved: reload "
                "the case, check their changes, and make yours again."
            ),
            code="concurrent_edit",
        )
    case.version = expected_version + 1


@transaction.atomic
def update_case(
    *,
    actor: User,
    case: Case,
    expected_version: int,
    changes: dict[str, Any],
    exploitation_forms: list[str] | None = None,
) -> Case:
    unknown = set(changes) - CASE_EDITABLE
    if unknown:
        raise DomainError(_("These fields cannot be changed here: %(f)s") % {"f": ", ".join(sorted(unknown))})
    if case.status == CaseStatus.CLOSED:
        raise DomainError(_("A closed case cannot be changed. Reopen it first."), code="closed")
    for name, picklist in MULTI_PICKLISTS.items():
        if name in changes:
            changes[name] = sorted(set(_check_codes(picklist, changes[name], _verbose(name))))
    for name, picklist in SINGLE_PICKLISTS.items():
        if changes.get(name):
            _check_codes(picklist, [changes[name]], _verbose(name))
    if "region" in changes:
        _check_region(changes["region"])
    if exploitation_forms is not None:
        _check_codes("vic_TypeOfExploitation", exploitation_forms, _("form of exploitation"))
    _bump_version(case, expected_version)
    for name, value in changes.items():
        setattr(case, name, value)
    if changes:
        case.save(update_fields=[*changes, "updated_at"])
    if exploitation_forms is not None:
        CaseExploitation.objects.filter(case=case).exclude(form__in=exploitation_forms).delete()
        existing = set(CaseExploitation.objects.filter(case=case).values_list("form", flat=True))
        CaseExploitation.objects.bulk_create(
            [CaseExploitation(case=case, form=f) for f in set(exploitation_forms) - existing]
        )
    fields = sorted([*changes, *(["exploitation_forms"] if exploitation_forms is not None else [])])
    audit.record(actor=actor, action="case.updated", target=case, details={"fields": fields})
    _event(case, actor, "updated", fields=fields)
    return case


@transaction.atomic
def update_identity(*, actor: User, case: Case, expected_version: int, changes: dict[str, Any]) -> Person:
    allowed = {
        "given_name",
        "family_name",
        "other_names",
        "date_of_birth",
        "documents",
        "contacts",
        "address",
        "sex",
        "citizenship",
        "other_citizenships",
        "languages",
    }
    if set(changes) - allowed:
        raise DomainError(
            _("These fields cannot be changed here: %(f)s") % {"f": ", ".join(sorted(set(changes) - allowed))}
        )
    _open_case(case)
    born = changes.get("date_of_birth")
    if born and born > timezone.localdate():
        raise DomainError(_("The date of birth cannot be in the future."), code="future_date")
    if born and born.year < timezone.localdate().year - 120:
        raise DomainError(_("The date of birth is more than 120 years ago."), code="invalid_date")
    if "languages" in changes:
        changes["languages"] = _check_languages(changes["languages"])
    if "other_citizenships" in changes:
        changes["other_citizenships"] = [
            _check_country(c, _("citizenship")) for c in changes["other_citizenships"]
        ]
    for name in ("other_names", "documents", "contacts"):
        if name in changes and not isinstance(changes[name], list):
            raise DomainError(_("%(field)s must be a list.") % {"field": name}, code="invalid")
    if "sex" in changes:
        _check_codes("prs_Gender", [changes["sex"]], _("sex / gender"))
    if "citizenship" in changes:
        changes["citizenship"] = _check_country(changes["citizenship"], _("citizenship"))
    _bump_version(case, expected_version)
    person = case.person
    for name, value in changes.items():
        setattr(person, name, value)
    if "date_of_birth" in changes:
        person.birth_year = person.date_of_birth.year if person.date_of_birth else None
    person.save()
    identity.index_person(person)
    audit.record(actor=actor, action="person.updated", target=person, fields=sorted(changes))
    _event(case, actor, "identity_updated", fields=sorted(changes))
    return person


# --- consent --------------------------------------------------------------------------------------


def has_consent(
    case: Case, purpose: ConsentPurpose, agency: Agency | None = None, country: str = ""
) -> Consent | None:
    """The standing consent (or lawful basis) for a purpose; for referrals, for that agency; for sharing with
    another country, for that country."""
    consents = Consent.objects.filter(case=case, purpose=purpose, given=True, withdrawn_at__isnull=True)
    if purpose == ConsentPurpose.REFERRAL:
        consents = consents.filter(agency=agency)
    if purpose == ConsentPurpose.CROSS_BORDER:
        consents = consents.filter(country=country.upper())
    return consents.order_by("-created_at").first()


@transaction.atomic
def record_consent(
    *,
    actor: User,
    case: Case,
    purpose: ConsentPurpose,
    given: bool,
    agency: Agency | None = None,
    basis: ConsentBasis = ConsentBasis.CONSENT,
    justification: str = "",
    country: str = "",
) -> Consent:
    if purpose == ConsentPurpose.REFERRAL and agency is None:
        raise DomainError(_("A consent to a referral names the agency it is for."), code="agency_required")
    if basis != ConsentBasis.CONSENT and not given:
        raise DomainError(_("A lawful basis can only allow, not refuse."), code="invalid_basis")
    if basis in (ConsentBasis.CHILD_BEST_INTERESTS, ConsentBasis.GUARDIAN) and not case.is_child:
        raise DomainError(_("This basis applies to children only."), code="invalid_basis")
    if basis == ConsentBasis.LEGAL_OBLIGATION and not justification.strip():
        raise DomainError(
            _("Say which legal provision allows this without consent."), code="justification_required"
        )
    country = country.strip().upper()
    if purpose == ConsentPurpose.CROSS_BORDER:
        if not country:
            raise DomainError(
                _("A consent to sharing with another country names the country it is for."),
                code="country_required",
            )
        _check_country(country, _("country"))
    consent = Consent.objects.create(
        case=case,
        purpose=purpose,
        given=given,
        agency=agency,
        country=country if purpose == ConsentPurpose.CROSS_BORDER else "",
        basis=basis,
        recorded_by=actor,
        justification=justification.strip(),
    )
    audit.record(
        actor=actor,
        action="consent.recorded",
        target=case,
        details={
            "purpose": purpose,
            "given": given,
            "basis": basis,
            "agency": agency.public_id if agency else "",
            "country": country if purpose == ConsentPurpose.CROSS_BORDER else "",
        },
    )
    _event(
        case,
        actor,
        "consent",
        purpose=purpose,
        given=given,
        basis=basis,
        agency_name=agency.name if agency else "",
        country=country if purpose == ConsentPurpose.CROSS_BORDER else "",
    )
    return consent


# Called after a consent is withdrawn, in the same transaction (the referrals app withdraws the referrals that
# rested on it). Apps that depend on cases register here; cases never imports them.
consent_withdrawn_hooks: list[Callable[..., None]] = []


@transaction.atomic
def withdraw_consent(*, actor: User, consent: Consent) -> Consent:
    consent = Consent.objects.select_for_update().select_related("case").get(pk=consent.pk)
    if consent.withdrawn_at is not None:
        raise DomainError(_("This consent was already withdrawn."), code="already_withdrawn")
    consent.withdrawn_at = timezone.now()
    consent.save(update_fields=["withdrawn_at", "updated_at"])
    audit.record(
        actor=actor, action="consent.withdrawn", target=consent.case, details={"purpose": consent.purpose}
    )
    _event(consent.case, actor, "consent_withdrawn", purpose=consent.purpose)
    for hook in consent_withdrawn_hooks:
        hook(actor=actor, consent=consent)
    return consent


# --- screening ------------------------------------------------------------------------------------


@transaction.atomic
def record_screening(
    *,
    actor: User,
    case: Case,
    instrument_id: str,
    instrument_version: str,
    list_id: str,
    found: Iterable[str],
    notes: str = "",
) -> Screening:
    from opennrm.cases import screening as instruments

    if case.status not in (CaseStatus.REFERRED, CaseStatus.SCREENED):
        raise DomainError(
            _("This case can no longer be screened: its decision was requested."), code="invalid_state"
        )
    try:
        instrument = instruments.get_instrument(instrument_id, instrument_version)
        result = instruments.evaluate(instrument=instrument, list_id=list_id, found=set(found))
    except (LookupError, ValueError) as exc:
        raise DomainError(
            _("The screening could not be recorded: %(error)s") % {"error": exc}, code="invalid"
        ) from exc
    data = result.as_dict()
    screening = Screening.objects.create(
        case=case,
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        instrument_digest=instrument.digest,
        list_id=list_id,
        found=sorted(set(found)),
        result=data,
        conclusion=str(data["conclusion"]),
        screened_by=actor,
        notes=notes.strip(),
    )
    check_transition(case.status, CaseStatus.SCREENED)
    case.status = CaseStatus.SCREENED
    case.save(update_fields=["status", "updated_at"])
    audit.record(
        actor=actor,
        action="case.screened",
        target=case,
        details={"instrument": f"{instrument.id}@{instrument.version}", "conclusion": screening.conclusion},
    )
    _event(
        case,
        actor,
        "screened",
        instrument=instrument.id,
        version=instrument.version,
        conclusion=screening.conclusion,
    )
    return screening


# --- identification decision ------------------------------------------------------------------------


@transaction.atomic
def request_decision(*, actor: User, case: Case, route: str, appeal_of: Decision | None = None) -> Decision:
    """Start the statutory clock of the country profile. The deadline is computed once, here, and stored."""
    profile = active_profile()
    try:
        profile.authority(route)
    except LookupError:
        raise DomainError(
            _("Unknown identification route: %(route)s") % {"route": route}, code="unknown_code"
        ) from None
    if case.status == CaseStatus.CLOSED:
        raise DomainError(_("A decision cannot be requested on a closed case."), code="closed")
    if appeal_of is None and case.status == CaseStatus.NOT_IDENTIFIED:
        raise DomainError(
            _("The status was refused: lodge an appeal against the refusal instead."), code="invalid_state"
        )
    # IDENTIFIED -> DECISION_PENDING is the renewal of a time-limited status: only where the profile has one.
    validity = profile.status_validity
    if case.status == CaseStatus.IDENTIFIED and (validity is None or not validity.renewable):
        raise DomainError(
            _("The victim status was already granted and does not need renewal."), code="invalid_state"
        )
    check_transition(case.status, CaseStatus.DECISION_PENDING)
    now = timezone.now()
    deadline = profile.deadline(child=case.is_child)
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                case=case,
                route=route,
                requested_by=actor,
                requested_at=now,
                deadline_at=profile.decision_deadline_from(now, child=case.is_child),
                deadline_rule=f"{deadline.amount} {deadline.unit}",
                is_appeal=appeal_of is not None,
                appeal_of=appeal_of,
            )
    except IntegrityError:
        raise DomainError(_("A decision is already pending for this case."), code="already_pending") from None
    case.status = CaseStatus.DECISION_PENDING
    case.save(update_fields=["status", "updated_at"])
    audit.record(
        actor=actor,
        action="decision.requested",
        target=case,
        details={"route": route, "deadline": decision.deadline_at.isoformat(), "appeal": decision.is_appeal},
    )
    _event(
        case,
        actor,
        "appeal_lodged" if appeal_of else "decision_requested",
        route=route,
        deadline=decision.deadline_at.isoformat(),
    )
    return decision


@transaction.atomic
def decide(
    *,
    actor: User,
    decision: Decision,
    outcome: DecisionOutcome,
    reasons: str,
    members: list[str] | None = None,
) -> Decision:
    decision = Decision.objects.select_for_update().select_related("case").get(pk=decision.pk)
    case = decision.case
    if decision.outcome:
        raise DomainError(_("This request was already decided."), code="already_decided")
    if case.status == CaseStatus.CLOSED:
        raise DomainError(_("The case is closed: no decision can be recorded on it."), code="closed")
    if outcome not in DecisionOutcome.values:
        raise DomainError(_("Unknown outcome."), code="unknown_code")
    if not reasons.strip():
        raise DomainError(_("Give the reasons for the decision."), code="required")
    now = timezone.now()
    target = CaseStatus.IDENTIFIED if outcome == DecisionOutcome.GRANTED else CaseStatus.NOT_IDENTIFIED
    check_transition(case.status, target)
    decision.outcome = outcome
    decision.decided_at = now
    decision.decided_by = actor
    decision.reasons = reasons.strip()
    decision.members = [m.strip() for m in (members or []) if m.strip()]
    profile = active_profile()
    if outcome == DecisionOutcome.GRANTED and profile.status_validity is not None:
        decision.valid_until = _add_duration(timezone.localdate(), profile.status_validity.maximum)
    decision.save()
    case.status = target
    case.trafficking_status = (
        TraffickingStatus.ACTUAL if outcome == DecisionOutcome.GRANTED else TraffickingStatus.NOT_VICTIM
    )
    fields = ["status", "trafficking_status", "updated_at"]
    if outcome == DecisionOutcome.GRANTED:
        case.identified_at = case.identified_at or now
        case.identification_route = decision.route
        case.status_valid_until = decision.valid_until
        fields += ["identified_at", "identification_route", "status_valid_until"]
    case.save(update_fields=fields)
    audit.record(
        actor=actor,
        action=f"decision.{outcome}",
        target=case,
        details={"route": decision.route, "within_deadline": now <= decision.deadline_at},
    )
    _event(
        case,
        actor,
        "decided",
        outcome=outcome,
        route=decision.route,
        within_deadline=now <= decision.deadline_at,
    )
    return decision


@transaction.atomic
def appeal(*, actor: User, case: Case) -> Decision:
    refused = case.decisions.filter(outcome=DecisionOutcome.REFUSED).order_by("-decided_at").first()
    if refused is None or case.status != CaseStatus.NOT_IDENTIFIED:
        raise DomainError(_("Only a refusal can be appealed."), code="invalid_state")
    return request_decision(actor=actor, case=case, route=refused.route, appeal_of=refused)


# --- closure, compensation, plan, notes, attachments --------------------------------------------------


@transaction.atomic
def close_case(*, actor: User, case: Case, reason: str, follow_up_date: dt.date | None = None) -> Case:
    if reason not in choices.ClosureReason.values:
        raise DomainError(_("Unknown closure reason."), code="unknown_code")
    check_transition(case.status, CaseStatus.CLOSED)
    if follow_up_date and follow_up_date < timezone.localdate():
        raise DomainError(_("The follow-up date cannot be in the past."), code="past_date")
    case.status = CaseStatus.CLOSED
    case.closed_at = timezone.now()
    case.closure_reason = reason
    case.follow_up_date = follow_up_date
    case.save(update_fields=["status", "closed_at", "closure_reason", "follow_up_date", "updated_at"])
    audit.record(actor=actor, action="case.closed", target=case, details={"reason": reason})
    _event(
        case, actor, "closed", reason=reason, follow_up=follow_up_date.isoformat() if follow_up_date else ""
    )
    return case


@transaction.atomic
def reopen_case(*, actor: User, case: Case, reason: str) -> Case:
    if case.status != CaseStatus.CLOSED:
        raise DomainError(_("Only a closed case can be reopened."), code="invalid_state")
    if not reason.strip():
        raise DomainError(_("Say why the case is reopened."), code="required")
    if case.trafficking_status == TraffickingStatus.ACTUAL:
        target = CaseStatus.IDENTIFIED
    elif case.trafficking_status == TraffickingStatus.NOT_VICTIM:
        target = CaseStatus.NOT_IDENTIFIED
    elif case.screenings.exists():
        target = CaseStatus.SCREENED
    else:
        target = CaseStatus.REFERRED
    check_transition(case.status, target)
    case.status = target
    case.closed_at = None
    case.closure_reason = ""
    case.save(update_fields=["status", "closed_at", "closure_reason", "updated_at"])
    Note.objects.create(case=case, author=actor, body=reason.strip())
    audit.record(actor=actor, action="case.reopened", target=case)
    _event(case, actor, "reopened", status=target)
    return case


@transaction.atomic
def approve_compensation(*, actor: User, case: Case) -> Compensation:
    rule = active_profile().compensation
    if rule is None:
        raise DomainError(_("This country's profile has no state compensation."), code="no_compensation")
    if rule.amount is None:
        raise DomainError(
            _("The compensation amount is not configured in this country's profile yet."),
            code="amount_not_configured",
        )
    if case.trafficking_status != TraffickingStatus.ACTUAL:
        raise DomainError(
            _("Compensation is paid only once the victim status is granted."), code="not_identified"
        )
    if Compensation.objects.filter(case=case).exists():
        raise DomainError(
            _("Compensation was already approved for this case: it is paid once."), code="already_paid"
        )
    try:
        with transaction.atomic():
            compensation = Compensation.objects.create(
                case=case,
                amount=Decimal(str(rule.amount)),
                currency=rule.currency,
                approved_by=actor,
                approved_at=timezone.now(),
            )
    except IntegrityError:
        raise DomainError(
            _("Compensation was already approved for this case: it is paid once."), code="already_paid"
        ) from None
    audit.record(
        actor=actor,
        action="compensation.approved",
        target=case,
        details={"amount": str(compensation.amount), "currency": compensation.currency},
    )
    _event(
        case, actor, "compensation_approved", amount=str(compensation.amount), currency=compensation.currency
    )
    return compensation


@transaction.atomic
def pay_compensation(*, actor: User, compensation: Compensation, payment_reference: str) -> Compensation:
    # Lock the row: two clerks pressing "paid" at once must not both succeed.
    compensation = Compensation.objects.select_for_update().select_related("case").get(pk=compensation.pk)
    if compensation.paid_at is not None:
        raise DomainError(_("This compensation was already paid."), code="already_paid")
    if not payment_reference.strip():
        raise DomainError(_("Enter the payment reference."), code="required")
    compensation.paid_at = timezone.now()
    compensation.paid_by = actor
    compensation.payment_reference = payment_reference.strip()[:64]
    compensation.save(update_fields=["paid_at", "paid_by", "payment_reference", "updated_at"])
    audit.record(actor=actor, action="compensation.paid", target=compensation.case)
    _event(
        compensation.case,
        actor,
        "compensation_paid",
        amount=str(compensation.amount),
        currency=compensation.currency,
    )
    return compensation


def _open_case(case: Case) -> None:
    if case.status == CaseStatus.CLOSED:
        raise DomainError(_("A closed case cannot be changed. Reopen it first."), code="closed")


@transaction.atomic
def add_plan_item(
    *,
    actor: User,
    case: Case,
    type: str,
    objective: str,
    action: str = "",
    planned_end: dt.date | None = None,
) -> SupportPlanItem:
    _open_case(case)
    _check_codes("spl_Type", [type], _("type"))
    if not objective.strip():
        raise DomainError(_("Write the objective."), code="required")
    item = SupportPlanItem.objects.create(
        case=case,
        type=type,
        objective=objective.strip(),
        action=action.strip(),
        planned_end=planned_end,
        created_by=actor,
    )
    audit.record(actor=actor, action="plan.item_added", target=case)
    _event(case, actor, "plan_item_added", type=type)
    return item


@transaction.atomic
def complete_plan_item(*, actor: User, item: SupportPlanItem, actual_end: dt.date) -> SupportPlanItem:
    _open_case(item.case)
    if actual_end > timezone.localdate():
        raise DomainError(_("The actual end date cannot be in the future."), code="future_date")
    item.actual_end = actual_end
    item.save(update_fields=["actual_end", "updated_at"])
    audit.record(actor=actor, action="plan.item_completed", target=item.case)
    _event(item.case, actor, "plan_item_completed", type=item.type)
    return item


@transaction.atomic
def add_note(*, actor: User, case: Case, body: str) -> Note:
    _open_case(case)
    if not body.strip():
        raise DomainError(_("The note is empty."), code="required")
    note = Note.objects.create(case=case, author=actor, body=body.strip())
    audit.record(actor=actor, action="note.added", target=case)
    _event(case, actor, "note_added")
    return note


ALLOWED_TYPES = {
    "application/pdf": b"%PDF",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG",
    "text/plain": None,
}


@transaction.atomic
def add_attachment(*, actor: User, case: Case, upload: UploadedFile) -> Attachment:
    _open_case(case)
    limit = settings.OPENNRM_MAX_UPLOAD_BYTES
    size = upload.size or 0
    if size > limit:
        raise DomainError(
            _("The file is too large (%(size)s MB; at most %(limit)s MB).")
            % {"size": round(size / 1e6, 1), "limit": round(limit / 1e6, 1)},
            code="too_large",
        )
    if size == 0:
        raise DomainError(_("The file is empty."), code="empty")
    guessed = mimetypes.guess_type(upload.name or "")[0] or ""
    head = upload.read(8)
    upload.seek(0)
    magic = ALLOWED_TYPES.get(guessed, b"?")
    if guessed not in ALLOWED_TYPES or (magic is not None and not head.startswith(magic)):
        raise DomainError(_("Only PDF, JPEG, PNG and plain-text files can be attached."), code="bad_type")
    if magic is None and b"\x00" in upload.read(4096):
        raise DomainError(_("Only PDF, JPEG, PNG and plain-text files can be attached."), code="bad_type")
    upload.seek(0)
    attachment = Attachment(
        case=case,
        original_name=(upload.name or "file")[:255],
        content_type=guessed,
        size=size,
        uploaded_by=actor,
    )
    attachment.file.save("upload", upload, save=False)
    attachment.save()
    audit.record(actor=actor, action="attachment.added", target=case, details={"type": guessed, "size": size})
    _event(case, actor, "attachment_added", type=guessed, size=size)
    return attachment


def read_identity(*, actor: User, case: Case, fields: Iterable[str]) -> dict[str, Any]:
    """The identity fields a view shows, with the read audited (which fields, by whom, of which person)."""
    fields = [f for f in fields if f]
    person = case.person
    audit.record_read(actor=actor, target=person, fields=fields, action="person.read")
    return {f: getattr(person, f) for f in fields}
