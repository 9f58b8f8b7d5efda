"""Writes of the referrals app: one function per act, atomic, audited, on the case timeline.

A refused act raises `DomainError` (a rule of the mechanism, shown to the user) or `PermissionDenied` (the actor
may not do it at all; pages and the API answer 404) and, each service being one transaction, changes nothing.

The consent gate: a case is referred to an agency for a service only with the person's standing consent to a
referral to that agency (`has_consent`), or — without it — on a basis the law allows: for a child, the best
interests of the child or the guardian's consent; for anyone, a legal obligation, with the provision written
down. Such an override is recorded on the referral (not as a consent: it covers this one referral) and audited
as "referral.consent_override".

Which agency can receive a referral: an active agency of the case's country, other than the sending agency,
whose kind provides the service (`ServiceType.provider_kinds`, from the catalogue; empty means any kind).
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.access import access_for
from opennrm.accounts.models import Agency, Membership, User
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm
from opennrm.cases.choices import CaseStatus, ConsentBasis, ConsentPurpose
from opennrm.cases.models import Case, Consent
from opennrm.cases.services import _event, has_consent
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.core.models import Alert
from opennrm.referrals.models import ACTIVE_STATUSES, Referral, ReferralStatus, ServiceDelivery, ServiceType
from opennrm.referrals.selectors import can_record, can_respond, can_withdraw, sending_agencies
from opennrm.referrals.workflow import check_transition

# Bases on which a referral may go ahead without the person's own consent.
CHILD_BASES = (ConsentBasis.CHILD_BEST_INTERESTS, ConsentBasis.GUARDIAN)
OVERRIDE_BASES = (*CHILD_BASES, ConsentBasis.LEGAL_OBLIGATION)


def _check_override(case: Case, basis: str, justification: str) -> None:
    if basis not in OVERRIDE_BASES:
        raise DomainError(_("Unknown basis for a referral without consent."), code="invalid_basis")
    if basis in CHILD_BASES and not case.is_child:
        raise DomainError(
            _(
                "Only a child can be referred on this basis: an adult is referred with their consent, or where "
                "the law requires it."
            ),
            code="invalid_basis",
        )
    if basis == ConsentBasis.GUARDIAN and not case.guardian.strip():
        raise DomainError(
            _(
                "No guardian is recorded on this case: record the guardian first, or refer in the best interests "
                "of the child."
            ),
            code="guardian_required",
        )
    if basis == ConsentBasis.LEGAL_OBLIGATION and not justification.strip():
        raise DomainError(
            _("Say which legal provision requires this referral without consent."),
            code="justification_required",
        )


def _lock(referral: Referral) -> Referral:
    """The referral, re-read and locked: two people answering at once cannot both succeed."""
    return (
        Referral.objects.select_for_update(of=("self",))
        .select_related("case", "service", "from_agency", "to_agency")
        .get(pk=referral.pk)
    )


def _notify_providers(referral: Referral) -> None:
    roles = [role for role, perms in ROLE_PERMISSIONS.items() if Perm.REFERRAL_RESPOND in perms]
    recipients = {
        m.user_id: m.user
        for m in Membership.objects.active()
        .filter(agency=referral.to_agency, role__in=roles)
        .select_related("user")
    }
    url = reverse("referrals:detail", kwargs={"public_id": referral.public_id})
    Alert.objects.bulk_create(
        [
            Alert(
                recipient=user,
                kind="referral_received",
                # Names only by reference and service, in the recipient's language: no identifying data.
                params={
                    "reference": referral.case.reference,
                    "service": referral.service.name_in(user.preferred_language),
                },
                url=url,
            )
            for user in recipients.values()
        ]
    )


@transaction.atomic
def refer_to_service(
    *,
    actor: User,
    case: Case,
    service: ServiceType,
    to_agency: Agency,
    from_agency: Agency,
    reason: str = "",
    override_basis: str = "",
    override_justification: str = "",
) -> Referral:
    """Refer the case to `to_agency` for `service`, behind the consent gate (see the module docstring)."""
    access = access_for(actor)
    if from_agency not in sending_agencies(access, case):
        raise PermissionDenied
    if case.status == CaseStatus.CLOSED:
        raise DomainError(_("A closed case cannot be referred. Reopen it first."), code="closed")
    if not service.is_active or service.country != case.country:
        raise DomainError(
            _("This service is not in the catalogue of the case's country."), code="unknown_service"
        )
    if not to_agency.is_active or to_agency.country != case.country:
        raise DomainError(_("Choose an active agency of the case's country."), code="invalid_agency")
    if to_agency.pk == from_agency.pk:
        raise DomainError(_("An agency cannot refer a case to itself."), code="invalid_agency")
    if not service.can_be_provided_by(to_agency):
        raise DomainError(
            _("%(agency)s (%(kind)s) does not provide “%(service)s”.")
            % {"agency": to_agency.name, "kind": to_agency.get_kind_display(), "service": service.name},
            code="invalid_agency",
        )
    if Referral.objects.filter(
        case=case, service=service, to_agency=to_agency, status__in=ACTIVE_STATUSES
    ).exists():
        raise DomainError(
            _("This case already has an open referral to this agency for this service."), code="duplicate"
        )
    consent = has_consent(case, ConsentPurpose.REFERRAL, to_agency)
    if consent is None:
        if not override_basis:
            raise DomainError(
                _(
                    "The person has not consented to a referral to %(agency)s. Record their consent first, or give "
                    "the basis in law for referring without it."
                )
                % {"agency": to_agency.name},
                code="consent_required",
            )
        _check_override(case, override_basis, override_justification)
    else:
        override_basis, override_justification = "", ""
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                case=case,
                service=service,
                from_agency=from_agency,
                to_agency=to_agency,
                reason=reason.strip(),
                consent=consent,
                override_basis=override_basis,
                override_justification=override_justification.strip(),
                created_by=actor,
            )
    except IntegrityError:  # the same referral sent twice at once
        raise DomainError(
            _("This case already has an open referral to this agency for this service."), code="duplicate"
        ) from None
    details = {
        "referral": referral.public_id,
        "service": service.code,
        "from_agency": from_agency.public_id,
        "to_agency": to_agency.public_id,
    }
    if consent is None:
        audit.record(
            actor=actor,
            action="referral.consent_override",
            target=case,
            agency=from_agency,
            details={**details, "basis": override_basis, "child": case.is_child},
        )
    audit.record(
        actor=actor,
        action="referral.sent",
        target=referral,
        agency=from_agency,
        details={**details, "case": case.reference, "basis": override_basis or ConsentBasis.CONSENT},
    )
    _event(
        case,
        actor,
        "referral_sent",
        agency=from_agency,
        referral=referral.public_id,
        service=service.code,
        to_agency=to_agency.name,
        basis=override_basis or ConsentBasis.CONSENT,
    )
    _notify_providers(referral)
    return referral


def _respond(actor: User, referral: Referral, target: ReferralStatus) -> Referral:
    referral = _lock(referral)
    if not can_respond(access_for(actor), referral):
        raise PermissionDenied
    check_transition(referral.status, target)
    return referral


def _referral_event(referral: Referral, actor: User, kind: str, **extra: object) -> None:
    _event(
        referral.case,
        actor,
        kind,
        agency=referral.to_agency,
        referral=referral.public_id,
        service=referral.service.code,
        **extra,
    )


@transaction.atomic
def accept_referral(*, actor: User, referral: Referral) -> Referral:
    referral = _respond(actor, referral, ReferralStatus.ACCEPTED)
    if referral.case.status == CaseStatus.CLOSED:
        raise DomainError(_("The case was closed: this referral can no longer be accepted."), code="closed")
    referral.status = ReferralStatus.ACCEPTED
    referral.responded_by = actor
    referral.responded_at = timezone.now()
    referral.save(update_fields=["status", "responded_by", "responded_at", "updated_at"])
    audit.record(actor=actor, action="referral.accepted", target=referral, agency=referral.to_agency)
    _referral_event(referral, actor, "referral_accepted")
    return referral


@transaction.atomic
def decline_referral(*, actor: User, referral: Referral, reason: str) -> Referral:
    referral = _respond(actor, referral, ReferralStatus.DECLINED)
    if not reason.strip():
        raise DomainError(
            _("Say why the referral is declined, so the sender can look for another provider."),
            code="required",
        )
    referral.status = ReferralStatus.DECLINED
    referral.responded_by = actor
    referral.responded_at = timezone.now()
    referral.decline_reason = reason.strip()
    referral.save(update_fields=["status", "responded_by", "responded_at", "decline_reason", "updated_at"])
    audit.record(actor=actor, action="referral.declined", target=referral, agency=referral.to_agency)
    # The reason is free text: it stays on the referral (encrypted), not on the timeline.
    _referral_event(referral, actor, "referral_declined")
    return referral


@transaction.atomic
def complete_referral(*, actor: User, referral: Referral) -> Referral:
    referral = _respond(actor, referral, ReferralStatus.COMPLETED)
    referral.status = ReferralStatus.COMPLETED
    referral.completed_at = timezone.now()
    referral.save(update_fields=["status", "completed_at", "updated_at"])
    audit.record(
        actor=actor,
        action="referral.completed",
        target=referral,
        agency=referral.to_agency,
        details={"deliveries": referral.deliveries.count()},
    )
    _referral_event(referral, actor, "referral_completed")
    return referral


def _mark_withdrawn(actor: User, referral: Referral, **details: str) -> None:
    referral.status = ReferralStatus.WITHDRAWN
    referral.withdrawn_at = timezone.now()
    referral.save(update_fields=["status", "withdrawn_at", "updated_at"])
    audit.record(actor=actor, action="referral.withdrawn", target=referral, details=details or None)
    _event(
        referral.case,
        actor,
        "referral_withdrawn",
        referral=referral.public_id,
        service=referral.service.code,
        to_agency=referral.to_agency.name,
    )


@transaction.atomic
def withdraw_referral(*, actor: User, referral: Referral) -> Referral:
    """The sending side takes the referral back; the provider loses access to the case through it."""
    referral = _lock(referral)
    if not can_withdraw(access_for(actor), referral):
        raise PermissionDenied
    check_transition(referral.status, ReferralStatus.WITHDRAWN)
    _mark_withdrawn(actor, referral)
    return referral


def end_referrals_on_withdrawn_consent(*, actor: User, consent: Consent) -> None:
    """The person withdrew the consent a referral rested on: the referral ends at once (withdrawn), whoever
    records the withdrawal, and the provider loses access through it. Registered as a cases hook."""
    if consent.purpose != ConsentPurpose.REFERRAL:
        return
    for referral in Referral.objects.select_for_update().filter(consent=consent, status__in=ACTIVE_STATUSES):
        _mark_withdrawn(actor, referral, because="consent_withdrawn")


@transaction.atomic
def record_delivery(
    *,
    actor: User,
    referral: Referral,
    start_date: dt.date,
    end_date: dt.date | None = None,
    description: str = "",
) -> ServiceDelivery:
    referral = _lock(referral)
    if not can_record(access_for(actor), referral):
        raise PermissionDenied
    if referral.status != ReferralStatus.ACCEPTED:
        raise DomainError(_("Services are recorded on an accepted referral only."), code="invalid_state")
    if start_date > timezone.localdate():
        raise DomainError(_("The start date cannot be in the future."), code="future_date")
    if end_date is not None and end_date < start_date:
        raise DomainError(_("The end date cannot be before the start date."), code="invalid_dates")
    delivery = ServiceDelivery.objects.create(
        referral=referral,
        start_date=start_date,
        end_date=end_date,
        description=description.strip(),
        recorded_by=actor,
    )
    dates = {"start": start_date.isoformat(), "end": end_date.isoformat() if end_date else ""}
    audit.record(
        actor=actor,
        action="referral.service_delivered",
        target=referral,
        agency=referral.to_agency,
        details={"delivery": delivery.public_id, **dates},
    )
    _event(
        referral.case,
        actor,
        "service_delivered",
        agency=referral.to_agency,
        referral=referral.public_id,
        service=referral.service.code,
        **dates,
    )
    return delivery
