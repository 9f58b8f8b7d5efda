"""Reads of the referrals app. Every referral query starts from `referrals_visible_to(access)`.

Who sees a referral:
- the sending side: users whose case scope (`case.view` or `referral.send`) reaches the referral's case, and
  the user who sent it while they may still send referrals;
- the providing side: members of the receiving agency with `referral.respond` or `service.record`. They see the
  referral itself (service, status, dates, deliveries) and, while it is pending or accepted, the person's data
  the service needs (`provider_view`) — nothing else of the person, and no other referral of the case.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from opennrm.accounts.access import Access, access_for
from opennrm.accounts.models import Agency, User
from opennrm.accounts.roles import Perm, Scope
from opennrm.cases.choices import ConsentPurpose
from opennrm.cases.models import Case, Consent
from opennrm.cases.selectors import can_do, scope_filter
from opennrm.cases.services import read_identity
from opennrm.core import audit
from opennrm.referrals.models import (
    ACTIVE_STATUSES,
    CASE_FIELDS,
    PERSON_FIELDS,
    PROVIDER_FIELDS,
    Referral,
    ReferralStatus,
    ServiceDelivery,
    ServiceType,
)
from opennrm.referrals.workflow import can_transition

__all__ = [
    "PROVIDER_FIELDS",
    "allowed_actions",
    "can_record",
    "can_respond",
    "can_see_person",
    "can_withdraw",
    "deliveries_of",
    "inbox",
    "provider_agencies",
    "provider_view",
    "referral_consents",
    "referrals_visible_to",
    "sending_agencies",
    "services_for",
]

_RELATED = ("case", "service", "from_agency", "to_agency")


def _provider_agency_ids(access: Access) -> set[int]:
    return access.agency_ids_with(Perm.REFERRAL_RESPOND) | access.agency_ids_with(Perm.SERVICE_RECORD)


def referrals_visible_to(access: Access) -> QuerySet[Referral]:
    conditions: list[Q] = []
    for perm in (Perm.CASE_VIEW, Perm.REFERRAL_SEND):
        scope = scope_filter(access, perm)
        if scope is not None:
            if scope == Q():  # national scope: every referral
                return Referral.objects.select_related(*_RELATED)
            conditions.append(Q(case__in=Case.objects.filter(scope)))
    if access.has(Perm.REFERRAL_SEND):
        conditions.append(Q(created_by_id=access.user_id))
        sending = access.agency_ids_with(Perm.REFERRAL_SEND, min_scope=Scope.AGENCY)
        if sending:
            conditions.append(Q(from_agency_id__in=sending))
    providing = _provider_agency_ids(access)
    if providing:
        conditions.append(Q(to_agency_id__in=providing))
    if not conditions:
        return Referral.objects.none()
    combined = conditions[0]
    for condition in conditions[1:]:
        combined |= condition
    return Referral.objects.filter(combined).select_related(*_RELATED)


def inbox(access: Access, *, status: str | None = None) -> QuerySet[Referral]:
    """Referrals received by the agencies where the user may respond to referrals; one status, or all."""
    agencies = access.agency_ids_with(Perm.REFERRAL_RESPOND)
    if not agencies:
        return Referral.objects.none()
    referrals = Referral.objects.filter(to_agency_id__in=agencies).select_related(*_RELATED)
    if status:
        referrals = referrals.filter(status=status)
    return referrals.order_by("-created_at")


def referral_consents(case: Case) -> QuerySet[Consent]:
    """The person's standing consents to a referral, one per agency they agreed to be referred to."""
    return (
        Consent.objects.filter(
            case=case, purpose=ConsentPurpose.REFERRAL, given=True, withdrawn_at__isnull=True
        )
        .select_related("agency")
        .order_by("agency__name")
    )


def services_for(country: str) -> QuerySet[ServiceType]:
    return ServiceType.objects.filter(country=country, is_active=True)


def provider_agencies(case: Case) -> QuerySet[Agency]:
    """Agencies a case can be referred to: active agencies of the case's country."""
    return Agency.objects.filter(country=case.country, is_active=True).order_by("name")


def sending_agencies(access: Access, case: Case) -> list[Agency]:
    """The agencies on whose behalf the user may refer this case: those of their memberships with
    `referral.send` whose scope reaches the case."""
    found: dict[int, Agency] = {}
    for membership in access.memberships_with(Perm.REFERRAL_SEND):
        if membership.scope == Scope.NATIONAL:
            reaches = True
        elif membership.scope == Scope.AGENCY:
            reaches = membership.agency_id in (case.owning_agency_id, case.referring_agency_id)
        else:
            reaches = access.user_id in (case.created_by_id, case.case_worker_id)
        if reaches:
            found.setdefault(membership.agency_id, membership.agency)
    return list(found.values())


# --- what a user may do with a referral -------------------------------------------------------------


def can_respond(access: Access, referral: Referral) -> bool:
    return referral.to_agency_id in access.agency_ids_with(Perm.REFERRAL_RESPOND)


def can_record(access: Access, referral: Referral) -> bool:
    return referral.to_agency_id in access.agency_ids_with(Perm.SERVICE_RECORD)


def can_withdraw(access: Access, referral: Referral) -> bool:
    """The sending side: whoever may refer this case (the sender's case team)."""
    return can_do(access, Perm.REFERRAL_SEND, referral.case)


def can_see_person(access: Access, referral: Referral) -> bool:
    """The provider sees the person's data the service needs while the referral is pending or accepted, and
    while the consent it rests on (if it rests on one) stands."""
    if referral.status not in ACTIVE_STATUSES or referral.to_agency_id not in _provider_agency_ids(access):
        return False
    return referral.consent_id is None or referral.consent is None or referral.consent.withdrawn_at is None


def allowed_actions(access: Access, referral: Referral) -> set[str]:
    """The acts this user may take on the referral now (for buttons; the services check again)."""
    actions: set[str] = set()
    status = referral.status
    if can_respond(access, referral):
        for act, target in (
            ("accept", ReferralStatus.ACCEPTED),
            ("decline", ReferralStatus.DECLINED),
            ("complete", ReferralStatus.COMPLETED),
        ):
            if can_transition(status, target):
                actions.add(act)
    if status == ReferralStatus.ACCEPTED and can_record(access, referral):
        actions.add("record")
    if can_transition(status, ReferralStatus.WITHDRAWN) and can_withdraw(access, referral):
        actions.add("withdraw")
    return actions


def deliveries_of(referral: Referral) -> QuerySet[ServiceDelivery]:
    return referral.deliveries.select_related("recorded_by").order_by("start_date", "id")


# --- the provider's view of the person ---------------------------------------------------------------


def provider_view(*, actor: User, referral: Referral) -> dict[str, Any]:
    """Only the person and case fields the service needs (`service.needs`), in the catalogue's order.

    The read is audited: identity fields through `read_identity` (action "person.read", on the person), case
    fields with "case.read" on the case, both naming the fields shown. Raises PermissionDenied unless the actor
    is on the providing side of a pending or accepted referral.
    """
    # Re-read: a status changed since the caller loaded the referral must close the view.
    referral = Referral.objects.select_related("case__person", "service", "consent").get(pk=referral.pk)
    if not can_see_person(access_for(actor), referral):
        raise PermissionDenied
    case = referral.case
    needs = [name for name in referral.service.needs if name in PROVIDER_FIELDS]
    values: dict[str, Any] = {}
    person_fields = [name for name in needs if name in PERSON_FIELDS]
    if person_fields:
        values.update(read_identity(actor=actor, case=case, fields=person_fields))
    case_fields = [name for name in needs if name in CASE_FIELDS]
    if case_fields:
        audit.record_read(
            actor=actor,
            target=case,
            fields=case_fields,
            action="case.read",
            details={"referral": referral.public_id},
        )
        for name in case_fields:
            if name == "exploitation_forms":
                values[name] = sorted(case.exploitation_forms.values_list("form", flat=True))
            else:
                values[name] = getattr(case, name)
    return {name: values[name] for name in needs}
