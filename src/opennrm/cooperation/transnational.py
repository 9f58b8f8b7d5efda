"""Transnational referrals (DESIGN §5): a case worker refers a person to a partner country; the partner's focal
point accepts (which opens a local case from what crossed) or declines with a reason; both sides then send status
updates (arrival, services arranged, return date, end of assistance). Both timelines tell the exchange.

- **Only the minimal subset crosses.** `PAYLOAD_FIELDS` is the one allow-list of a referral: who the person is
  (names, date of birth, sex, citizenship, languages, as HTCDS values), the case in a few HTCDS fields, the latest
  screening (instrument and conclusion, not the indicators), the needs, the planned arrival, the proof of consent
  and an optional note. Never the narrative, documents, contacts, address, guardian or notes. The sender builds
  the payload from the list and checks it against the list; the receiver checks it against the same list and
  refuses the whole message when anything else is in it.
- **No referral leaves without consent.** The case must have a standing cross-border consent naming the partner's
  country (`cases.services.has_consent`); for a child, a guardian's consent or the child's best interests recorded
  as that consent counts. Updates too: once the consent is withdrawn, nothing more about the person leaves.
- **Service needs** are a small fixed list (`ServiceNeed`): the sender does not know the partner's catalogue of
  services, so it says what the person needs and the partner arranges it with its own services.
- **On acceptance** the receiving instance opens a local case (`cases.services.refer_person`) from the payload and
  records a cross-border consent for the sender's country on it, resting on the consent the payload proves, so
  that the receiving side's own rule (nothing leaves without a standing consent for that country) governs the
  updates it sends back, and a withdrawal recorded locally stops them. Where the payload's consent was a child's
  basis (guardian, best interests) and the person is an adult by the local count, none is recorded: the case
  worker asks the person.
- Every act is one transaction: the state change, the outgoing message (`messaging.send`, the transactional
  outbox), the audit entry and the timeline entry commit together or not at all. Incoming messages run in the
  inbox's transaction; a `DomainError` refuses the whole message (422) and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, models, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from opennrm.accounts.access import Access, access_for
from opennrm.accounts.models import Agency, Membership, User
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Scope
from opennrm.cases import choices
from opennrm.cases.choices import (
    AgeGroup,
    CaseStatus,
    ConsentBasis,
    ConsentPurpose,
    EventType,
    TraffickingStatus,
)
from opennrm.cases.models import Case, CaseEvent, Consent
from opennrm.cases.selectors import can_do, can_read_identity, scope_filter
from opennrm.cases.services import IntakeData, has_consent, record_consent, refer_person
from opennrm.cooperation import messaging
from opennrm.cooperation.models import (
    Direction,
    InboxMessage,
    MessageType,
    Partner,
    PartnerStatus,
    TransnationalReferral,
    TransnationalStatus,
    TransnationalUpdate,
    UpdateKind,
)
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.core.models import Alert
from opennrm.core.reference import UnknownCodeError, country_name, is_valid_country, is_valid_language

NOTE_MAX = 4000


class ServiceNeed(models.TextChoices):
    """What the person needs in the partner country. Not the partner's catalogue (the sender does not know it):
    the partner arranges each need with its own services."""

    ACCOMMODATION = "accommodation", gettext_lazy("Safe accommodation")
    MEDICAL = "medical", gettext_lazy("Medical care")
    PSYCHOLOGICAL = "psychological", gettext_lazy("Psychological support")
    LEGAL = "legal", gettext_lazy("Legal aid")
    INTERPRETATION = "interpretation", gettext_lazy("Interpretation")
    DOCUMENTS = "documents", gettext_lazy("Identity or travel documents")
    SAFE_RETURN = "safe_return", gettext_lazy("Safe return")
    REINTEGRATION = "reintegration", gettext_lazy("Reintegration support")
    FINANCIAL = "financial", gettext_lazy("Financial support")
    EDUCATION = "education", gettext_lazy("Education or vocational training")
    CHILD_PROTECTION = "child_protection", gettext_lazy("Child protection (guardianship, family tracing)")


# --- what crosses the border: the one allow-list ------------------------------------------------------------

PERSON_FIELDS = ("given_name", "family_name", "date_of_birth", "sex", "citizenship", "languages")
CASE_FIELDS = (
    "is_child",
    "age_group",
    "exploitation_forms",
    "exploitation_country",
    "first_contact_date",
    "trafficking_status",
)
SCREENING_FIELDS = ("instrument", "version", "digest", "conclusion", "date")
CONSENT_FIELDS = ("id", "purpose", "country", "basis", "recorded_at", "recorded_by_agency")
# Top-level key -> the keys of its object (None: a plain value). A referral payload has exactly these.
PAYLOAD_FIELDS: dict[str, tuple[str, ...] | None] = {
    "referral_id": None,
    "sender_reference": None,
    "sender_agency": None,
    "person": PERSON_FIELDS,
    "case": CASE_FIELDS,
    "screening": SCREENING_FIELDS,  # or null: not screened
    "services_needed": None,
    "planned_arrival": None,
    "consent": CONSENT_FIELDS,
    "note": None,
}
RESPONSE_FIELDS = ("referral_id", "decision", "receiver_reference", "reason")
UPDATE_FIELDS = ("referral_id", "kind", "date", "note")


class Answer(models.TextChoices):
    ACCEPTED = "accepted", gettext_lazy("Accepted")
    DECLINED = "declined", gettext_lazy("Declined")


# Statuses change only through this table. Sent and received referrals are answered once.
TRANSITIONS: dict[str, set[str]] = {
    TransnationalStatus.SENT: {TransnationalStatus.ACCEPTED, TransnationalStatus.DECLINED},
    TransnationalStatus.RECEIVED: {TransnationalStatus.ACCEPTED, TransnationalStatus.DECLINED},
    TransnationalStatus.ACCEPTED: set(),
    TransnationalStatus.DECLINED: set(),
}


def _check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS[current]:
        raise DomainError(_("This referral was already answered."), code="already_answered")


def _country(code: str) -> str:
    try:
        return country_name(code)
    except UnknownCodeError:
        return code


# --- building and checking payloads --------------------------------------------------------------------------


def _malformed(problem: str) -> DomainError:
    # `problem` names a field, never a value: the text goes back to the sender in the inbox's answer.
    return DomainError(
        _("The referral message is malformed: %(problem)s") % {"problem": problem}, code="malformed"
    )


def _exact_keys(value: Any, keys: Iterable[str], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _malformed(f"{where} is not an object")
    expected = set(keys)
    if set(value) != expected:
        extra, missing = sorted(set(value) - expected), sorted(expected - set(value))
        raise _malformed(f"{where}: unexpected {extra}, missing {missing}")
    return value


def _text(value: Any, where: str, *, required: bool = False, max_length: int = 200) -> str:
    if not isinstance(value, str) or len(value) > max_length:
        raise _malformed(f"{where} is not a text of at most {max_length} characters")
    if required and not value.strip():
        raise _malformed(f"{where} is empty")
    return value


def _date(value: Any, where: str, *, required: bool = False) -> dt.date | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _malformed(f"{where} is not a date")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _malformed(f"{where} is not a date") from None


def _codes(value: Any, where: str, valid: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and valid(v) for v in value):
        raise _malformed(f"{where} has an unknown code")
    return list(value)


def _uuid(value: Any, where: str) -> uuid.UUID:
    if not isinstance(value, str):
        raise _malformed(f"{where} is not a UUID")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _malformed(f"{where} is not a UUID") from None


def _country_code(value: Any, where: str) -> str:
    if not isinstance(value, str) or (value and not is_valid_country(value)):
        raise _malformed(f"{where} is not a country code")
    return value


def validate_referral_payload(payload: Any, *, country: str) -> dict[str, Any]:
    """The payload, checked against the allow-list (exactly those keys, each of its type and code list) and
    addressed to `country`: the proof of consent must be a cross-border consent for that country."""
    data = _exact_keys(payload, PAYLOAD_FIELDS, "referral")
    _uuid(data["referral_id"], "referral_id")
    _text(data["sender_reference"], "sender_reference", required=True, max_length=32)
    _text(data["sender_agency"], "sender_agency")
    _text(data["note"], "note", max_length=NOTE_MAX)
    person = _exact_keys(data["person"], PERSON_FIELDS, "person")
    _text(person["given_name"], "person.given_name", required=True)
    _text(person["family_name"], "person.family_name")
    born = _date(person["date_of_birth"], "person.date_of_birth")
    if born is not None and born > timezone.localdate():
        raise _malformed("person.date_of_birth is in the future")
    if not isinstance(person["sex"], str) or not choices.is_valid("prs_Gender", person["sex"]):
        raise _malformed("person.sex has an unknown code")
    _country_code(person["citizenship"], "person.citizenship")
    _codes(person["languages"], "person.languages", is_valid_language)
    case = _exact_keys(data["case"], CASE_FIELDS, "case")
    if not isinstance(case["is_child"], bool):
        raise _malformed("case.is_child is not true or false")
    if case["age_group"] not in AgeGroup.values:
        raise _malformed("case.age_group has an unknown code")
    _codes(
        case["exploitation_forms"],
        "case.exploitation_forms",
        lambda v: choices.is_valid("vic_TypeOfExploitation", v),
    )
    _country_code(case["exploitation_country"], "case.exploitation_country")
    _date(case["first_contact_date"], "case.first_contact_date")
    if case["trafficking_status"] not in TraffickingStatus.values:
        raise _malformed("case.trafficking_status has an unknown code")
    if data["screening"] is not None:
        screening = _exact_keys(data["screening"], SCREENING_FIELDS, "screening")
        for name in ("instrument", "version", "digest", "conclusion"):
            _text(screening[name], f"screening.{name}", required=True, max_length=64)
        _date(screening["date"], "screening.date", required=True)
    needs = data["services_needed"]
    if not isinstance(needs, list) or not needs or not all(n in ServiceNeed.values for n in needs):
        raise _malformed("services_needed is empty or has an unknown code")
    if len(set(needs)) != len(needs):
        raise _malformed("services_needed repeats a code")
    _date(data["planned_arrival"], "planned_arrival")
    consent = _exact_keys(data["consent"], CONSENT_FIELDS, "consent")
    if consent["purpose"] != ConsentPurpose.CROSS_BORDER or consent["country"] != country:
        raise DomainError(
            _("The referral does not prove the person's consent to sharing with %(country)s.")
            % {"country": _country(country)},
            code="consent_required",
        )
    if consent["basis"] not in ConsentBasis.values:
        raise _malformed("consent.basis has an unknown code")
    for name in ("id", "recorded_at", "recorded_by_agency"):
        _text(consent[name], f"consent.{name}", required=name != "recorded_by_agency")
    return data


def _acting_membership(access: Access, perm: Perm, case: Case | None = None) -> Membership | None:
    """The membership through which the user acts: the one of the case's own agency when there is one."""
    memberships = access.memberships_with(perm)
    if case is not None:
        for membership in memberships:
            if membership.agency_id in (case.owning_agency_id, case.referring_agency_id):
                return membership
    return memberships[0] if memberships else None


def _recorded_by_agency(consent: Consent, case: Case) -> str:
    memberships = list(consent.recorded_by.active_memberships())
    for membership in memberships:
        if membership.agency_id in (case.owning_agency_id, case.referring_agency_id):
            return membership.agency.name
    return memberships[0].agency.name if memberships else case.owning_agency.name


def build_referral_payload(
    *,
    case: Case,
    consent: Consent,
    referral_id: uuid.UUID,
    sender_agency: Agency,
    services: list[str],
    planned_arrival: dt.date | None,
    note: str,
) -> dict[str, Any]:
    """The minimal subset, field by field from `PAYLOAD_FIELDS`: nothing the list does not name."""
    person = case.person
    screening = case.screenings.order_by("-created_at").first()
    exploitation = case.events.filter(type=EventType.EXPLOITATION).order_by("date", "id").first()
    values: dict[str, Any] = {
        "referral_id": str(referral_id),
        "sender_reference": case.reference,
        "sender_agency": sender_agency.name,
        "person": {
            "given_name": person.given_name,
            "family_name": person.family_name,
            "date_of_birth": person.date_of_birth.isoformat() if person.date_of_birth else None,
            "sex": person.sex,
            "citizenship": person.citizenship,
            "languages": list(person.languages),
        },
        "case": {
            "is_child": case.is_child,
            "age_group": case.age_group,
            "exploitation_forms": sorted(case.exploitation_forms.values_list("form", flat=True)),
            "exploitation_country": exploitation.country if exploitation else "",
            "first_contact_date": case.first_contact_date.isoformat(),
            "trafficking_status": case.trafficking_status,
        },
        "screening": {
            "instrument": screening.instrument_id,
            "version": screening.instrument_version,
            "digest": screening.instrument_digest,
            "conclusion": screening.conclusion,
            "date": timezone.localdate(screening.created_at).isoformat(),
        }
        if screening
        else None,
        "services_needed": list(services),
        "planned_arrival": planned_arrival.isoformat() if planned_arrival else None,
        "consent": {
            "id": consent.public_id,
            "purpose": consent.purpose,
            "country": consent.country,
            "basis": consent.basis,
            "recorded_at": consent.created_at.isoformat(),
            "recorded_by_agency": _recorded_by_agency(consent, case),
        },
        "note": note,
    }
    # Copied through the allow-list: a value added above without a place in the list does not leave.
    payload: dict[str, Any] = {}
    for key, fields in PAYLOAD_FIELDS.items():
        value = values[key]
        payload[key] = {name: value[name] for name in fields} if fields and value is not None else value
    return payload


def validate_response_payload(payload: Any) -> dict[str, Any]:
    data = _exact_keys(payload, RESPONSE_FIELDS, "response")
    _uuid(data["referral_id"], "referral_id")
    if data["decision"] not in Answer.values:
        raise _malformed("decision has an unknown code")
    _text(data["receiver_reference"], "receiver_reference", max_length=32)
    _text(data["reason"], "reason", max_length=NOTE_MAX)
    if data["decision"] == Answer.ACCEPTED and not data["receiver_reference"].strip():
        raise _malformed("receiver_reference is empty")
    if data["decision"] == Answer.DECLINED and not data["reason"].strip():
        raise _malformed("reason is empty")
    return data


def validate_update_payload(payload: Any) -> dict[str, Any]:
    data = _exact_keys(payload, UPDATE_FIELDS, "update")
    _uuid(data["referral_id"], "referral_id")
    if data["kind"] not in UpdateKind.values:
        raise _malformed("kind has an unknown code")
    _date(data["date"], "date")
    _text(data["note"], "note", max_length=NOTE_MAX)
    return data


def check_services(services: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(s for s in services if s))
    if not chosen:
        raise DomainError(_("Say what the person needs in the partner country."), code="services_required")
    unknown = [s for s in chosen if s not in ServiceNeed.values]
    if unknown:
        raise DomainError(
            _("Unknown service need: %(codes)s") % {"codes": ", ".join(unknown)}, code="unknown_code"
        )
    return chosen


def _age_from_group(group: str) -> int | None:
    """The youngest age of the partner's age group, when no date of birth crossed: the local case falls in the
    same group, and a child stays a child."""
    if group == AgeGroup.UNKNOWN:
        return None
    return int(group.rstrip("+").split("-")[0])


def intake_from_payload(data: dict[str, Any], *, region: str = "") -> IntakeData:
    person, case = data["person"], data["case"]
    born = _date(person["date_of_birth"], "person.date_of_birth")
    return IntakeData(
        given_name=person["given_name"],
        family_name=person["family_name"],
        date_of_birth=born,
        age_estimate=None if born else _age_from_group(case["age_group"]),
        sex=person["sex"],
        citizenship=person["citizenship"],
        languages=list(person["languages"]),
        region=region,
        exploitation_forms=list(case["exploitation_forms"]),
        exploitation_country=case["exploitation_country"],
    )


# --- reads -----------------------------------------------------------------------------------------------


def receives_for_country(access: Access) -> bool:
    """The incoming inbox is the country's: only a national-scope membership receives transnational referrals."""
    return access.is_national(Perm.TRANSNATIONAL_RECEIVE)


def referrals_visible_to(access: Access) -> QuerySet[TransnationalReferral]:
    """Referrals of cases the user follows (sent from their case, or opened as their case on acceptance), and
    every incoming referral for a national focal point."""
    conditions: list[Q] = []
    followed = scope_filter(access, Perm.CASE_VIEW)
    if followed is not None:
        conditions.append(Q(case__in=Case.objects.filter(followed)))
    if receives_for_country(access):
        conditions.append(Q(direction=Direction.INCOMING))
    if not conditions:
        return TransnationalReferral.objects.none()
    condition = conditions[0]
    for c in conditions[1:]:
        condition |= c
    return TransnationalReferral.objects.filter(condition).select_related("partner", "case")


def incoming_inbox(access: Access) -> QuerySet[TransnationalReferral]:
    if not receives_for_country(access):
        return TransnationalReferral.objects.none()
    return TransnationalReferral.objects.filter(direction=Direction.INCOMING).select_related(
        "partner", "case"
    )


def can_answer(access: Access, referral: TransnationalReferral) -> bool:
    return (
        referral.direction == Direction.INCOMING
        and referral.status == TransnationalStatus.RECEIVED
        and receives_for_country(access)
    )


def can_update(access: Access, referral: TransnationalReferral) -> bool:
    return (
        referral.status == TransnationalStatus.ACCEPTED
        and referral.case is not None
        and can_do(access, Perm.TRANSNATIONAL_SEND, referral.case)
    )


def can_see_person(access: Access, referral: TransnationalReferral) -> bool:
    """The person's identity as it crossed: a national focal point who may read identity (to decide on an
    incoming referral), or whoever may read the identity of the case it belongs to."""
    if referral.direction == Direction.INCOMING and any(
        m.scope == Scope.NATIONAL and Perm.CASE_VIEW_IDENTITY in m.permissions
        for m in access.memberships_with(Perm.TRANSNATIONAL_RECEIVE)
    ):
        return True
    return referral.case is not None and can_read_identity(access, referral.case)


def record_person_read(
    actor: User,
    referral: TransnationalReferral,
    updates: Iterable[TransnationalUpdate],
    details: dict[str, Any] | None = None,
) -> None:
    """Audit that `actor` was shown the person's identity as it crossed, and whichever free text it has."""
    shown = ["payload.person"]
    if (referral.payload or {}).get("note"):
        shown.append("payload.note")
    if referral.decline_reason:
        shown.append("decline_reason")
    if any(u.note for u in updates):
        shown.append("updates.note")
    audit.record_read(
        actor=actor,
        target=referral,
        fields=shown,
        action="coop.transnational_referral_read",
        details=details,
    )


def referral_partners() -> QuerySet[Partner]:
    """Partners a case can be referred to: active, and of another country."""
    return (
        Partner.objects.filter(status=PartnerStatus.ACTIVE)
        .exclude(country=settings.OPENNRM_COUNTRY)
        .order_by("code")
    )


def receiving_agencies() -> QuerySet[Agency]:
    """Agencies that may own a case opened from an incoming referral: the active agencies of this country."""
    return Agency.objects.filter(is_active=True, country=settings.OPENNRM_COUNTRY).order_by("name")


# --- acts ------------------------------------------------------------------------------------------------


def _event(case: Case, actor: User | None, kind: str, agency: Agency | None = None, **data: Any) -> None:
    CaseEvent.objects.create(case=case, actor=actor, agency=agency, kind=kind, data=data)


def _lock(referral: TransnationalReferral) -> TransnationalReferral:
    """The referral, re-read and locked: two people answering at once cannot both succeed."""
    return (
        TransnationalReferral.objects.select_for_update(of=("self",))
        .select_related("partner", "case")
        .get(pk=referral.pk)
    )


def _check_note(note: str) -> str:
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise DomainError(
            _("The note is too long (at most %(n)s characters).") % {"n": NOTE_MAX}, code="too_long"
        )
    return note


@transaction.atomic
def send_referral(
    *,
    actor: User,
    case: Case,
    partner: Partner,
    services: list[str],
    planned_arrival: dt.date | None = None,
    note_for_partner: str = "",
) -> TransnationalReferral:
    """Refer the person to a partner country. Refused without a standing consent to sharing with that country."""
    access = access_for(actor)
    membership = _acting_membership(access, Perm.TRANSNATIONAL_SEND, case)
    if membership is None or not can_do(access, Perm.TRANSNATIONAL_SEND, case):
        raise PermissionDenied
    if case.status == CaseStatus.CLOSED:
        raise DomainError(_("A closed case cannot be referred. Reopen it first."), code="closed")
    if partner.status != PartnerStatus.ACTIVE:
        raise DomainError(_("This partner instance is revoked."), code="partner_revoked")
    if partner.country == settings.OPENNRM_COUNTRY:
        raise DomainError(
            _("A transnational referral goes to a partner in another country."), code="invalid_partner"
        )
    services = check_services(services)
    if planned_arrival is not None and planned_arrival < timezone.localdate():
        raise DomainError(_("The planned arrival cannot be in the past."), code="past_date")
    note = _check_note(note_for_partner)
    consent = has_consent(case, ConsentPurpose.CROSS_BORDER, country=partner.country)
    if consent is None:
        raise DomainError(
            _("No referral leaves without the person's consent to sharing with %(country)s.")
            % {"country": _country(partner.country)},
            code="consent_required",
        )
    referral = TransnationalReferral(
        direction=Direction.OUTGOING,
        partner=partner,
        case=case,
        status=TransnationalStatus.SENT,
        services=services,
        sent_by=actor,
    )
    payload = build_referral_payload(
        case=case,
        consent=consent,
        referral_id=referral.referral_id,
        sender_agency=membership.agency,
        services=services,
        planned_arrival=planned_arrival,
        note=note,
    )
    validate_referral_payload(payload, country=partner.country)  # what leaves passes the receiver's check
    referral.payload = payload
    referral.save()
    messaging.send(
        partner=partner, type=MessageType.REFERRAL, payload=payload, subject=str(referral.referral_id)
    )
    audit.record(
        actor=actor,
        action="coop.transnational_referral_sent",
        target=case,
        agency=membership.agency,
        details={
            "partner": partner.code,
            "referral": referral.public_id,
            "services": services,
            "consent": consent.public_id,
        },
    )
    _event(
        case,
        actor,
        "transnational_referral_sent",
        agency=membership.agency,
        partner=partner.code,
        country=partner.country,
        services=services,
    )
    return referral


def _record_cross_border_consent(
    *, actor: User, case: Case, referral: TransnationalReferral, proof: dict[str, Any]
) -> Consent | None:
    basis = ConsentBasis(proof["basis"])
    if basis in (ConsentBasis.GUARDIAN, ConsentBasis.CHILD_BEST_INTERESTS) and not case.is_child:
        return None  # an adult here: the person is asked for their own consent
    justification = _(
        "Shown by the transnational referral %(referral)s from %(partner)s: their consent %(consent)s, "
        "recorded on %(date)s by %(agency)s."
    ) % {
        "referral": referral.referral_id,
        "partner": referral.partner.code,
        "consent": proof["id"],
        "date": proof["recorded_at"][:10],
        "agency": proof["recorded_by_agency"] or "—",
    }
    return record_consent(
        actor=actor,
        case=case,
        purpose=ConsentPurpose.CROSS_BORDER,
        given=True,
        basis=basis,
        justification=justification,
        country=referral.partner.country,
    )


def _receiving_membership(actor: User) -> Membership:
    access = access_for(actor)
    for membership in access.memberships_with(Perm.TRANSNATIONAL_RECEIVE):
        if membership.scope == Scope.NATIONAL:
            return membership
    raise PermissionDenied


@transaction.atomic
def accept_referral(
    *, actor: User, referral: TransnationalReferral, owning_agency: Agency, region: str = ""
) -> TransnationalReferral:
    """The focal point accepts an incoming referral: a local case is opened from what crossed, owned by
    `owning_agency`, and the partner is told the local reference."""
    membership = _receiving_membership(actor)
    referral = _lock(referral)
    if referral.direction != Direction.INCOMING:
        raise PermissionDenied
    _check_transition(referral.status, TransnationalStatus.ACCEPTED)
    if not owning_agency.is_active or owning_agency.country != settings.OPENNRM_COUNTRY:
        raise DomainError(_("Choose an active agency of this country."), code="invalid_agency")
    data = validate_referral_payload(referral.payload, country=settings.OPENNRM_COUNTRY)
    case = refer_person(
        actor=actor,
        referring_agency=membership.agency,
        owning_agency=owning_agency,
        data=intake_from_payload(data, region=region),
        consent_given=True,  # the payload proves the person's consent
    )
    consent = _record_cross_border_consent(actor=actor, case=case, referral=referral, proof=data["consent"])
    referral.case = case
    referral.status = TransnationalStatus.ACCEPTED
    referral.responded_by = actor
    referral.responded_at = timezone.now()
    referral.save(update_fields=["case", "status", "responded_by", "responded_at", "updated_at"])
    messaging.send(
        partner=referral.partner,
        type=MessageType.REFERRAL_RESPONSE,
        payload={
            "referral_id": str(referral.referral_id),
            "decision": Answer.ACCEPTED.value,
            "receiver_reference": case.reference,
            "reason": "",
        },
        subject=str(referral.referral_id),
    )
    audit.record(
        actor=actor,
        action="coop.transnational_referral_accepted",
        target=case,
        agency=membership.agency,
        details={
            "partner": referral.partner.code,
            "referral": referral.public_id,
            "cross_border_consent": consent.public_id if consent else "",
        },
    )
    _event(
        case,
        actor,
        "transnational_referral_accepted",
        agency=membership.agency,
        partner=referral.partner.code,
        country=referral.partner.country,
        remote_reference=referral.remote_reference,
    )
    return referral


@transaction.atomic
def decline_referral(*, actor: User, referral: TransnationalReferral, reason: str) -> TransnationalReferral:
    """The focal point declines an incoming referral; the reason goes to the partner."""
    membership = _receiving_membership(actor)
    referral = _lock(referral)
    if referral.direction != Direction.INCOMING:
        raise PermissionDenied
    _check_transition(referral.status, TransnationalStatus.DECLINED)
    reason = _check_note(reason)
    if not reason:
        raise DomainError(_("Say why the referral is declined."), code="required")
    referral.status = TransnationalStatus.DECLINED
    referral.decline_reason = reason
    referral.responded_by = actor
    referral.responded_at = timezone.now()
    referral.save(update_fields=["status", "decline_reason", "responded_by", "responded_at", "updated_at"])
    messaging.send(
        partner=referral.partner,
        type=MessageType.REFERRAL_RESPONSE,
        payload={
            "referral_id": str(referral.referral_id),
            "decision": Answer.DECLINED.value,
            "receiver_reference": "",
            "reason": reason,
        },
        subject=str(referral.referral_id),
    )
    audit.record(
        actor=actor,
        action="coop.transnational_referral_declined",
        target=referral,
        agency=membership.agency,
        details={"partner": referral.partner.code, "referral": referral.public_id},
    )
    return referral


@transaction.atomic
def send_update(
    *,
    actor: User,
    referral: TransnationalReferral,
    kind: str,
    date: dt.date | None = None,
    note: str = "",
) -> TransnationalUpdate:
    """Tell the partner how an accepted referral goes: either side, about the case it follows."""
    referral = _lock(referral)
    access = access_for(actor)
    case = referral.case
    if case is None or not can_do(access, Perm.TRANSNATIONAL_SEND, case):
        raise PermissionDenied
    if referral.status != TransnationalStatus.ACCEPTED:
        raise DomainError(_("Updates are sent on an accepted referral only."), code="not_accepted")
    if kind not in UpdateKind.values:
        raise DomainError(_("Unknown kind of update."), code="unknown_code")
    if kind in (UpdateKind.ARRIVAL, UpdateKind.RETURN_DATE) and date is None:
        raise DomainError(_("Give the date."), code="date_required")
    note = _check_note(note)
    partner = referral.partner
    if has_consent(case, ConsentPurpose.CROSS_BORDER, country=partner.country) is None:
        raise DomainError(
            _("Nothing about the person leaves without their consent to sharing with %(country)s.")
            % {"country": _country(partner.country)},
            code="consent_required",
        )
    update = TransnationalUpdate.objects.create(
        referral=referral, direction=Direction.OUTGOING, kind=kind, date=date, note=note, recorded_by=actor
    )
    messaging.send(
        partner=partner,
        type=MessageType.REFERRAL_UPDATE,
        payload={
            "referral_id": str(referral.referral_id),
            "kind": kind,
            "date": date.isoformat() if date else None,
            "note": note,
        },
        subject=str(referral.referral_id),
    )
    membership = _acting_membership(access, Perm.TRANSNATIONAL_SEND, case)
    audit.record(
        actor=actor,
        action="coop.transnational_update_sent",
        target=case,
        agency=membership.agency if membership else None,
        details={"partner": partner.code, "referral": referral.public_id, "kind": kind},
    )
    _event(
        case,
        actor,
        "transnational_update_sent",
        agency=membership.agency if membership else None,
        partner=partner.code,
        country=partner.country,
        update=kind,
        date=date.isoformat() if date else "",
    )
    return update


# --- what arrives (inbox handlers, in the inbox's transaction) -------------------------------------------------


def _focal_points() -> list[int]:
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if Perm.TRANSNATIONAL_RECEIVE in perms]
    return sorted(
        set(
            Membership.objects.active()
            .filter(role__in=roles, scope=Scope.NATIONAL)
            .values_list("user_id", flat=True)
        )
    )


def on_referral(message: InboxMessage, payload: Any) -> None:
    data = validate_referral_payload(payload, country=settings.OPENNRM_COUNTRY)
    referral_id = uuid.UUID(data["referral_id"])
    if TransnationalReferral.objects.filter(referral_id=referral_id, direction=Direction.INCOMING).exists():
        raise DomainError(_("This referral was already received."), code="duplicate")
    try:
        with transaction.atomic():
            referral = TransnationalReferral.objects.create(
                referral_id=referral_id,
                direction=Direction.INCOMING,
                partner=message.partner,
                status=TransnationalStatus.RECEIVED,
                remote_reference=data["sender_reference"],
                services=data["services_needed"],
                payload=data,
            )
    except IntegrityError:
        raise DomainError(_("This referral was already received."), code="duplicate") from None
    audit.record(
        actor=None,
        action="coop.transnational_referral_received",
        target=referral,
        details={
            "partner": message.partner.code,
            "referral": referral.public_id,
            "services": data["services_needed"],
        },
    )
    url = reverse("coop:transnational_detail", kwargs={"public_id": referral.public_id})
    Alert.objects.bulk_create(
        [
            Alert(
                recipient_id=user_id,
                kind="transnational_referral_received",
                params={"partner": message.partner.code},
                url=url,
            )
            for user_id in _focal_points()
        ]
    )


def _referral_of(
    message: InboxMessage, referral_id: str, direction: str | None = None
) -> TransnationalReferral:
    referrals = TransnationalReferral.objects.select_for_update(of=("self",)).filter(
        referral_id=uuid.UUID(referral_id), partner=message.partner
    )
    if direction is not None:
        referrals = referrals.filter(direction=direction)
    referral = referrals.select_related("partner", "case").first()
    if referral is None:
        raise DomainError(_("No such referral with this partner."), code="unknown_referral")
    return referral


def on_response(message: InboxMessage, payload: Any) -> None:
    data = validate_response_payload(payload)
    referral = _referral_of(message, data["referral_id"], Direction.OUTGOING)
    accepted = data["decision"] == Answer.ACCEPTED
    target = TransnationalStatus.ACCEPTED if accepted else TransnationalStatus.DECLINED
    _check_transition(referral.status, target)
    referral.status = target
    referral.responded_at = timezone.now()
    if accepted:
        referral.remote_reference = data["receiver_reference"].strip()
    else:
        referral.decline_reason = data["reason"].strip()
    referral.save(
        update_fields=["status", "responded_at", "remote_reference", "decline_reason", "updated_at"]
    )
    case = referral.case
    assert case is not None  # an outgoing referral always has its case
    audit.record(
        actor=None,
        action="coop.transnational_referral_answered",
        target=case,
        details={
            "partner": message.partner.code,
            "referral": referral.public_id,
            "decision": data["decision"],
        },
    )
    # The reason for declining is free text: it stays on the referral (encrypted), not in the timeline.
    _event(
        case,
        None,
        "transnational_referral_answered",
        partner=message.partner.code,
        country=message.partner.country,
        decision=data["decision"],
        remote_reference=referral.remote_reference,
    )
    if referral.sent_by_id is not None:
        Alert.objects.create(
            recipient_id=referral.sent_by_id,
            kind="transnational_referral_answered",
            params={"reference": case.reference, "partner": message.partner.code},
            url=reverse("coop:transnational_detail", kwargs={"public_id": referral.public_id}),
        )


def on_update(message: InboxMessage, payload: Any) -> None:
    data = validate_update_payload(payload)
    referral = _referral_of(message, data["referral_id"])
    if referral.status != TransnationalStatus.ACCEPTED or referral.case is None:
        raise DomainError(_("Updates are sent on an accepted referral only."), code="not_accepted")
    date = _date(data["date"], "date")
    TransnationalUpdate.objects.create(
        referral=referral,
        direction=Direction.INCOMING,
        kind=data["kind"],
        date=date,
        note=data["note"].strip(),
    )
    audit.record(
        actor=None,
        action="coop.transnational_update_received",
        target=referral.case,
        details={"partner": message.partner.code, "referral": referral.public_id, "kind": data["kind"]},
    )
    _event(
        referral.case,
        None,
        "transnational_update_received",
        partner=message.partner.code,
        country=message.partner.country,
        update=data["kind"],
        date=date.isoformat() if date else "",
    )


def register_handlers() -> None:
    messaging.register_handler(MessageType.REFERRAL, on_referral)
    messaging.register_handler(MessageType.REFERRAL_RESPONSE, on_response)
    messaging.register_handler(MessageType.REFERRAL_UPDATE, on_update)
