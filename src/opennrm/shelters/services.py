"""Writes of the shelters app: one function per act, atomic, audited, on the case timeline.

A refused act raises `DomainError` (a rule of the mechanism, shown to the user as is) or `PermissionDenied` (the
actor may not do it at all: pages and the API answer 404) and, each service being one transaction, changes
nothing.

Rules:
- A person is admitted from an ACCEPTED referral for a shelter service (catalogue category "shelter") to the
  shelter's agency, into one category (women, men, children, families). A person is in one shelter at a time.
- A category that is full refuses the admission, unless a coordinator (`shelter.oversee`) ticks "accept over
  capacity" and says why (audited as "placement.over_capacity_accepted"). Shelter staff cannot.
- The stay limit is computed once, at admission, from the country profile (`shelter_stay`): admission date +
  the initial period (or the maximum, when the profile has no initial period). So is the latest date an
  extension may reach (admission + maximum). Where the profile has no rule there is no limit.
- A coordinator decides on extensions (granted to a date no later than the maximum, or refused), with reasons.
- A transfer closes the placement (reason "transferred") and opens one in the other shelter the same moment; the
  stay continues, so its limit, maximum and alert carry over. Staff move a person between their own agency's
  shelters; a coordinator between any shelters, into another agency's only on an accepted shelter referral to it.
- Leaving ends the shelter's work for the person: the shelter referral is completed when the actor may do it
  (the shelter then no longer sees the case through it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from dateutil.relativedelta import relativedelta
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.access import Access, access_for
from opennrm.accounts.models import Agency, AgencyKind, User
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import CaseStatus
from opennrm.cases.services import _event
from opennrm.core import audit
from opennrm.core.errors import ConcurrentEditError, DomainError
from opennrm.core.profiles import CountryProfile, Duration, active_profile
from opennrm.referrals import services as referral_services
from opennrm.referrals.models import Referral, ReferralStatus, ServiceCategory
from opennrm.referrals.selectors import can_respond
from opennrm.shelters.models import (
    CAPACITY_FIELDS,
    Category,
    DischargeReason,
    ExtensionDecision,
    Placement,
    Shelter,
)
from opennrm.shelters.selectors import occupied_places, operates, oversees

MAX_PLACES = 1000  # per category: a sanity bound against typing mistakes, not a rule of any country


def _date(value: dt.date | None) -> str:
    return formats.date_format(value, "SHORT_DATE_FORMAT") if value else ""


# --- shelters --------------------------------------------------------------------------------------------------


@dataclass
class ShelterData:
    name: str
    region: str
    address: str = ""
    capacity_women: int = 0
    capacity_men: int = 0
    capacity_children: int = 0
    capacity_families: int = 0
    wheelchair_accessible: bool = False
    accessibility_notes: str = ""
    is_active: bool = True


def _may_manage(access: Access, agency: Agency) -> bool:
    return access.is_national(Perm.SHELTER_OVERSEE) or agency.pk in access.agency_ids_with(
        Perm.SHELTER_OVERSEE
    )


def _validate_shelter(data: ShelterData) -> None:
    if not data.name.strip():
        raise DomainError(_("Give the shelter a name."), code="required")
    if data.region not in {code for code, _name in active_profile().region_choices()}:
        raise DomainError(_("Unknown region: %(code)s") % {"code": data.region}, code="unknown_region")
    for category, name in CAPACITY_FIELDS.items():
        value = getattr(data, name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PLACES:
            raise DomainError(
                _("The number of places for %(category)s must be a whole number from 0 to %(max)s.")
                % {"category": category.label.lower(), "max": MAX_PLACES},
                code="invalid_capacity",
            )


@transaction.atomic
def create_shelter(*, actor: User, agency: Agency, data: ShelterData) -> Shelter:
    """A coordinator records a shelter of a shelter agency (places by category, accessibility, address)."""
    if not _may_manage(access_for(actor), agency):
        raise PermissionDenied
    if agency.kind != AgencyKind.SHELTER or not agency.is_active or agency.country != active_profile().code:
        raise DomainError(_("Choose an active shelter agency of this country."), code="invalid_agency")
    _validate_shelter(data)
    if Shelter.objects.filter(agency=agency, name=data.name.strip()).exists():
        raise DomainError(_("This agency already has a shelter with this name."), code="duplicate")
    values = asdict(data)
    values["name"] = data.name.strip()
    values["address"] = data.address.strip()
    values["accessibility_notes"] = data.accessibility_notes.strip()
    shelter = Shelter.objects.create(agency=agency, **values)
    audit.record(
        actor=actor,
        action="shelter.created",
        target=shelter,
        details={"agency": agency.public_id, "region": shelter.region, "places": shelter.capacities},
    )
    return shelter


@transaction.atomic
def update_shelter(*, actor: User, shelter: Shelter, data: ShelterData) -> Shelter:
    """Change a shelter's facts. Lowering places below the people placed moves nobody; new admissions wait."""
    shelter = Shelter.objects.select_for_update().get(pk=shelter.pk)
    if not _may_manage(access_for(actor), shelter.agency):
        raise PermissionDenied
    _validate_shelter(data)
    name = data.name.strip()
    if Shelter.objects.filter(agency=shelter.agency, name=name).exclude(pk=shelter.pk).exists():
        raise DomainError(_("This agency already has a shelter with this name."), code="duplicate")
    values: dict[str, Any] = asdict(data)
    values.update(
        name=name, address=data.address.strip(), accessibility_notes=data.accessibility_notes.strip()
    )
    changed = [key for key, value in values.items() if getattr(shelter, key) != value]
    if not changed:
        return shelter
    for key in changed:
        setattr(shelter, key, values[key])
    shelter.save(update_fields=[*changed, "updated_at"])
    # Names of the changed fields only: never the address itself.
    audit.record(
        actor=actor,
        action="shelter.updated",
        target=shelter,
        details={"changed": changed, "places": shelter.capacities},
    )
    return shelter


# --- stays -----------------------------------------------------------------------------------------------------


def _add(start: dt.date, duration: Duration) -> dt.date:
    result: dt.date = start + relativedelta(**{duration.unit: duration.amount})
    return result


def stay_terms(profile: CountryProfile, admitted_on: dt.date) -> tuple[dt.date | None, dt.date | None, str]:
    """(stay limit, latest possible extension, the rule as text) for a stay starting on `admitted_on`."""
    rule = profile.shelter_stay
    if rule is None:
        return None, None, ""
    initial = rule.initial or rule.maximum
    maximum = _add(admitted_on, rule.maximum)
    limit = min(_add(admitted_on, initial), maximum)
    text = f"{profile.code} {profile.version}: {initial.amount} {initial.unit}, max {rule.maximum.amount} {rule.maximum.unit}"
    return limit, maximum, text[:80]


def _check_category(category: str) -> Category:
    if category not in Category.values:
        raise DomainError(_("Unknown category: %(code)s") % {"code": category}, code="unknown_category")
    return Category(category)


def _check_moment(at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    at = at or now
    if timezone.is_naive(at):
        raise DomainError(_("Give the time with its time zone."), code="invalid_date")
    if at > now:
        raise DomainError(_("This cannot be recorded for a moment in the future."), code="future_date")
    return at


def _check_room(
    *,
    access: Access,
    shelter: Shelter,
    category: Category,
    accept_over_capacity: bool,
    reason: str,
) -> dict[str, int] | None:
    """None when there is a free place; the figures when a coordinator accepts going over; else refused."""
    occupied = occupied_places(shelter, category)
    capacity = shelter.capacity(category)
    if occupied < capacity:
        return None
    if not accept_over_capacity:
        raise DomainError(
            _(
                "%(shelter)s has no free place for %(category)s: %(occupied)s of %(capacity)s places are taken. "
                "Choose another shelter, or ask a coordinator to accept the admission over capacity."
            )
            % {
                "shelter": shelter.name,
                "category": category.label.lower(),
                "occupied": occupied,
                "capacity": capacity,
            },
            code="over_capacity",
        )
    if not oversees(access, shelter):
        raise DomainError(
            _("Only a coordinator can accept an admission over capacity."), code="over_capacity_not_allowed"
        )
    if not reason.strip():
        raise DomainError(
            _("Say why the admission is accepted over capacity."), code="over_capacity_reason_required"
        )
    return {"occupied": occupied, "capacity": capacity}


def _lock_shelter(shelter: Shelter) -> Shelter:
    """Re-read and lock the shelter: two admissions into its last place cannot both succeed."""
    return (
        Shelter.objects.select_for_update(of=("self",))
        .select_related("agency")
        .defer("address")
        .get(pk=shelter.pk)
    )


def _lock(placement: Placement, expected_version: int | None) -> Placement:
    placement = (
        Placement.objects.select_for_update(of=("self",))
        .select_related("shelter", "shelter__agency", "case", "referral", "referral__service")
        .defer("shelter__address", "case__narrative", "case__guardian")
        .get(pk=placement.pk)
    )
    if expected_version is not None and placement.version != expected_version:
        raise ConcurrentEditError(
            _("Someone else changed this placement since you opened it. Check it again, then repeat."),
            code="concurrent_edit",
        )
    return placement


def _record_over_capacity(
    actor: User, placement: Placement, figures: dict[str, int], reason: str, now: dt.datetime
) -> None:
    placement.over_capacity_accepted_by = actor
    placement.over_capacity_accepted_at = now
    placement.over_capacity_reason = reason.strip()
    placement.save(
        update_fields=[
            "over_capacity_accepted_by",
            "over_capacity_accepted_at",
            "over_capacity_reason",
            "updated_at",
        ]
    )
    audit.record(
        actor=actor,
        action="placement.over_capacity_accepted",
        target=placement,
        agency=placement.shelter.agency,
        details={"shelter": placement.shelter.public_id, "category": placement.category, **figures},
    )


@transaction.atomic
def admit(
    *,
    actor: User,
    shelter: Shelter,
    referral: Referral,
    category: str,
    at: dt.datetime | None = None,
    accept_over_capacity: bool = False,
    over_capacity_reason: str = "",
) -> Placement:
    """Admit the person of an accepted shelter referral into `shelter` (see the module docstring)."""
    access = access_for(actor)
    shelter = _lock_shelter(shelter)
    if not (operates(access, shelter) or oversees(access, shelter)):
        raise PermissionDenied
    if not shelter.is_active:
        raise DomainError(_("This shelter is closed: it admits nobody."), code="inactive")
    kind = _check_category(category)
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("case", "service", "to_agency")
        .defer("case__narrative", "case__guardian")
        .get(pk=referral.pk)
    )
    if referral.to_agency_id != shelter.agency_id or referral.service.category != ServiceCategory.SHELTER:
        raise DomainError(
            _("A person is admitted on a referral for a shelter service to %(agency)s.")
            % {"agency": shelter.agency.name},
            code="invalid_referral",
        )
    if referral.status != ReferralStatus.ACCEPTED:
        raise DomainError(
            _("The referral is “%(status)s”: only an accepted referral leads to an admission.")
            % {"status": referral.get_status_display()},
            code="referral_not_accepted",
        )
    case = referral.case
    if case.status == CaseStatus.CLOSED:
        raise DomainError(_("The case is closed: reopen it before admitting the person."), code="closed")
    now = timezone.now()
    at = _check_moment(at, now)
    if referral.responded_at and timezone.localdate(at) < timezone.localdate(referral.responded_at):
        raise DomainError(
            _("The admission cannot be before the referral was accepted (%(date)s).")
            % {"date": _date(timezone.localdate(referral.responded_at))},
            code="before_referral",
        )
    if Placement.objects.filter(case=case, discharged_at__isnull=True).exists():
        raise DomainError(
            _("This person is in a shelter already: transfer or discharge them first."), code="already_placed"
        )
    if Placement.objects.filter(case=case, discharged_at__gt=at).exists():
        raise DomainError(
            _("The admission cannot be before the end of the person's previous stay."),
            code="overlapping_stay",
        )
    figures = _check_room(
        access=access,
        shelter=shelter,
        category=kind,
        accept_over_capacity=accept_over_capacity,
        reason=over_capacity_reason,
    )
    limit, maximum, rule = stay_terms(active_profile(), timezone.localdate(at))
    try:
        with transaction.atomic():
            placement = Placement.objects.create(
                shelter=shelter,
                case=case,
                referral=referral,
                category=kind,
                admitted_at=at,
                admitted_by=actor,
                stay_limit=limit,
                stay_maximum=maximum,
                stay_rule=rule,
            )
    except IntegrityError:  # the same person admitted twice at once
        raise DomainError(
            _("This person is in a shelter already: transfer or discharge them first."), code="already_placed"
        ) from None
    audit.record(
        actor=actor,
        action="placement.admitted",
        target=placement,
        agency=shelter.agency,
        details={
            "case": case.reference,
            "shelter": shelter.public_id,
            "referral": referral.public_id,
            "category": kind.value,
            "stay_limit": limit.isoformat() if limit else "",
        },
    )
    if figures is not None:
        _record_over_capacity(actor, placement, figures, over_capacity_reason, now)
    _event(
        case,
        actor,
        "shelter_admitted",
        agency=shelter.agency,
        shelter=shelter.name,
        category=kind.value,
        stay_limit=limit.isoformat() if limit else "",
        over_capacity=figures is not None,
    )
    return placement


def _complete_referral(actor: User, referral: Referral) -> None:
    """The shelter's work for the person is done: complete its referral, if the actor may and no stay rests on
    it any more."""
    if referral.status != ReferralStatus.ACCEPTED or not can_respond(access_for(actor), referral):
        return
    if Placement.objects.filter(referral=referral, discharged_at__isnull=True).exists():
        return
    referral_services.complete_referral(actor=actor, referral=referral)


@transaction.atomic
def discharge(
    *,
    actor: User,
    placement: Placement,
    reason: str,
    at: dt.datetime | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> Placement:
    """The person leaves the shelter (staff of the shelter's agency), with the reason."""
    placement = _lock(placement, expected_version)
    if not operates(access_for(actor), placement.shelter):
        raise PermissionDenied
    if not placement.is_current:
        raise DomainError(_("This person has left the shelter already."), code="discharged")
    if reason not in DischargeReason.values:
        raise DomainError(_("Unknown reason for leaving: %(code)s") % {"code": reason}, code="invalid_reason")
    if reason == DischargeReason.TRANSFERRED:
        raise DomainError(
            _("To move the person to another shelter, use the transfer."), code="invalid_reason"
        )
    at = _check_moment(at, timezone.now())
    if at < placement.admitted_at:
        raise DomainError(
            _("The person cannot leave before they were admitted (%(date)s).")
            % {"date": _date(timezone.localdate(placement.admitted_at))},
            code="before_admission",
        )
    placement.discharged_at = at
    placement.discharged_by = actor
    placement.discharge_reason = reason
    placement.discharge_note = note.strip()
    placement.version += 1
    placement.save(
        update_fields=[
            "discharged_at",
            "discharged_by",
            "discharge_reason",
            "discharge_note",
            "version",
            "updated_at",
        ]
    )
    audit.record(
        actor=actor,
        action="placement.discharged",
        target=placement,
        agency=placement.shelter.agency,
        details={"case": placement.case.reference, "shelter": placement.shelter.public_id, "reason": reason},
    )
    _event(
        placement.case,
        actor,
        "shelter_discharged",
        agency=placement.shelter.agency,
        shelter=placement.shelter.name,
        reason=reason,
    )
    _complete_referral(actor, placement.referral)
    return placement


def _transfer_referral(placement: Placement, to_shelter: Shelter) -> Referral:
    if to_shelter.agency_id == placement.shelter.agency_id:
        referral = placement.referral
        if referral.status == ReferralStatus.ACCEPTED:
            return referral
    found = (
        Referral.objects.filter(
            case_id=placement.case_id,
            to_agency_id=to_shelter.agency_id,
            status=ReferralStatus.ACCEPTED,
            service__category=ServiceCategory.SHELTER,
        )
        .order_by("-responded_at")
        .first()
    )
    if found is None:
        raise DomainError(
            _(
                "%(agency)s has no accepted shelter referral for this person. The case team refers the case to "
                "it first."
            )
            % {"agency": to_shelter.agency.name},
            code="invalid_referral",
        )
    return found


@transaction.atomic
def transfer(
    *,
    actor: User,
    placement: Placement,
    to_shelter: Shelter,
    category: str = "",
    at: dt.datetime | None = None,
    accept_over_capacity: bool = False,
    over_capacity_reason: str = "",
    expected_version: int | None = None,
) -> Placement:
    """Move the person to another shelter: the placement closes ("transferred") and a new one opens."""
    placement = _lock(placement, expected_version)
    access = access_for(actor)
    source = placement.shelter
    if not (operates(access, source) or oversees(access, source)):
        raise PermissionDenied
    target = _lock_shelter(to_shelter)
    if not (operates(access, target) or oversees(access, target)):
        raise PermissionDenied
    if not placement.is_current:
        raise DomainError(_("This person has left the shelter already."), code="discharged")
    if target.pk == source.pk:
        raise DomainError(_("Choose another shelter than the present one."), code="same_shelter")
    if not target.is_active:
        raise DomainError(_("This shelter is closed: it admits nobody."), code="inactive")
    kind = _check_category(category or placement.category)
    now = timezone.now()
    at = _check_moment(at, now)
    if at < placement.admitted_at:
        raise DomainError(
            _("The person cannot leave before they were admitted (%(date)s).")
            % {"date": _date(timezone.localdate(placement.admitted_at))},
            code="before_admission",
        )
    referral = _transfer_referral(placement, target)
    figures = _check_room(
        access=access,
        shelter=target,
        category=kind,
        accept_over_capacity=accept_over_capacity,
        reason=over_capacity_reason,
    )
    placement.discharged_at = at
    placement.discharged_by = actor
    placement.discharge_reason = DischargeReason.TRANSFERRED
    placement.version += 1
    placement.save(
        update_fields=["discharged_at", "discharged_by", "discharge_reason", "version", "updated_at"]
    )
    new = Placement.objects.create(
        shelter=target,
        case=placement.case,
        referral=referral,
        category=kind,
        admitted_at=at,
        admitted_by=actor,
        # The stay goes on: same limit, same maximum, and an alert already sent is not sent again.
        stay_limit=placement.current_limit,
        stay_maximum=placement.stay_maximum,
        stay_rule=placement.stay_rule,
        stay_alert_sent_at=placement.stay_alert_sent_at,
    )
    placement.transferred_to = new
    placement.save(update_fields=["transferred_to", "updated_at"])
    audit.record(
        actor=actor,
        action="placement.transferred",
        target=placement,
        agency=source.agency,
        details={
            "case": placement.case.reference,
            "from_shelter": source.public_id,
            "to_shelter": target.public_id,
            "new_placement": new.public_id,
            "referral": referral.public_id,
            "category": kind.value,
        },
    )
    if figures is not None:
        _record_over_capacity(actor, new, figures, over_capacity_reason, now)
    _event(
        placement.case,
        actor,
        "shelter_transferred",
        agency=source.agency,
        from_shelter=source.name,
        to_shelter=target.name,
        category=kind.value,
        over_capacity=figures is not None,
    )
    if referral.pk != placement.referral_id:
        _complete_referral(actor, placement.referral)
    return new


@transaction.atomic
def decide_extension(
    *,
    actor: User,
    placement: Placement,
    extend: bool,
    reason: str,
    until: dt.date | None = None,
    expected_version: int | None = None,
) -> ExtensionDecision:
    """A coordinator extends the stay to `until` (never beyond the maximum of the profile at admission), or
    refuses to, with the reasons."""
    placement = _lock(placement, expected_version)
    if not oversees(access_for(actor), placement.shelter):
        raise PermissionDenied
    if not placement.is_current:
        raise DomainError(_("This person has left the shelter already."), code="discharged")
    current = placement.current_limit
    if current is None or placement.stay_maximum is None:
        raise DomainError(
            _("The country profile sets no limit to a shelter stay: there is nothing to extend."),
            code="no_limit",
        )
    if not reason.strip():
        raise DomainError(_("Give the reasons for the decision."), code="reason_required")
    if extend:
        if until is None:
            raise DomainError(_("Give the date the stay is extended to."), code="required")
        if until <= current:
            raise DomainError(
                _("The new date must be after the present limit (%(date)s).") % {"date": _date(current)},
                code="not_later",
            )
        if until > placement.stay_maximum:
            raise DomainError(
                _(
                    "The stay cannot be extended beyond %(date)s: that is the maximum the country's rules allow "
                    "for this stay."
                )
                % {"date": _date(placement.stay_maximum)},
                code="beyond_maximum",
            )
    decision = ExtensionDecision.objects.create(
        placement=placement,
        granted=extend,
        previous_until=current,
        new_until=until if extend else None,
        reason=reason.strip(),
        decided_by=actor,
    )
    fields = ["version", "updated_at"]
    if extend:
        placement.extended_until = until
        placement.stay_alert_sent_at = None  # a new alert before the new limit
        fields += ["extended_until", "stay_alert_sent_at"]
    placement.version += 1
    placement.save(update_fields=fields)
    action = "placement.extension_granted" if extend else "placement.extension_refused"
    dates = {"previous": current.isoformat(), "until": until.isoformat() if extend and until else ""}
    audit.record(
        actor=actor,
        action=action,
        target=placement,
        agency=placement.shelter.agency,
        details={"case": placement.case.reference, "decision": decision.public_id, **dates},
    )
    _event(
        placement.case,
        actor,
        "shelter_stay_extended" if extend else "shelter_extension_refused",
        shelter=placement.shelter.name,
        previous=dates["previous"],
        until=dates["until"],
    )
    return decision
