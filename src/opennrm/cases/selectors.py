"""Reads of the cases app. Every case query starts from `visible_cases(access)`: a case outside the user's scope
does not exist for them (404), exactly like a case that does not exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from opennrm.accounts.access import Access
from opennrm.accounts.roles import Perm, Scope
from opennrm.cases.models import Case, Decision

IDENTITY_FIELDS = (
    "given_name",
    "family_name",
    "other_names",
    "date_of_birth",
    "documents",
    "contacts",
    "address",
)


def scope_filter(access: Access, perm: Perm) -> Q | None:
    """The cases a permission reaches, through each active membership's scope. None: nothing."""
    condition: Q | None = None
    for membership in access.memberships_with(perm):
        if membership.scope == Scope.NATIONAL:
            return Q()
        if membership.scope == Scope.AGENCY:
            part = Q(owning_agency_id=membership.agency_id) | Q(referring_agency_id=membership.agency_id)
        else:
            part = Q(created_by_id=access.user_id) | Q(case_worker_id=access.user_id)
        condition = part if condition is None else condition | part
    return condition


def visible_cases(access: Access) -> QuerySet[Case]:
    """Cases the user may see: owned or referred by their agency (agency scope), their own (own scope), or all
    (national scope). An agency that a case was referred to for a service does NOT see the case: it sees the
    referral, and through it only what the service needs (`opennrm.referrals.selectors.provider_view`)."""
    conditions: list[Q] = []
    for c in (scope_filter(access, Perm.CASE_VIEW), scope_filter(access, Perm.CASE_REFER)):
        if c is not None and c not in conditions:  # one membership often grants both: no duplicate OR terms
            conditions.append(c)
    if not conditions:
        return Case.objects.none()
    combined = conditions[0]
    for c in conditions[1:]:
        combined |= c
    return Case.objects.filter(combined)


def can_read_identity(access: Access, case: Case) -> bool:
    """Full identity: a case worker/decision maker whose scope reaches the case, or the first responder who filed it."""
    condition = scope_filter(access, Perm.CASE_VIEW_IDENTITY)
    if condition is not None and Case.objects.filter(condition, pk=case.pk).exists():
        return True
    return (
        access.has(Perm.CASE_REFER)
        and case.created_by_id == access.user_id
        and not access.has(Perm.CASE_VIEW)
    )


def can_edit(access: Access, case: Case) -> bool:
    condition = scope_filter(access, Perm.CASE_EDIT)
    return condition is not None and Case.objects.filter(condition, pk=case.pk).exists()


def can_do(access: Access, perm: Perm, case: Case) -> bool:
    condition = scope_filter(access, perm)
    return condition is not None and Case.objects.filter(condition, pk=case.pk).exists()


@dataclass(frozen=True)
class QueueItem:
    decision: Decision
    overdue: bool
    remaining_seconds: float


def decision_queue(access: Access, *, now: datetime | None = None) -> list[QueueItem]:
    """Open decision requests the user may decide, soonest deadline first; overdue ones flagged."""
    now = now or timezone.now()
    condition = scope_filter(access, Perm.DECISION_MAKE)
    if condition is None:
        return []
    cases = Case.objects.filter(condition)
    decisions = (
        Decision.objects.filter(outcome="", case__in=cases)
        .select_related("case", "case__owning_agency", "appeal_of")
        .defer("reasons", "case__narrative", "case__guardian")
        .order_by("deadline_at")
    )
    return [
        QueueItem(
            decision=d, overdue=d.deadline_at < now, remaining_seconds=(d.deadline_at - now).total_seconds()
        )
        for d in decisions
    ]


def overdue_decisions(*, now: datetime | None = None) -> QuerySet[Decision]:
    """For the background task (system scope): open decisions past their deadline not yet notified."""
    now = now or timezone.now()
    return Decision.objects.filter(outcome="", deadline_at__lt=now, overdue_notified_at__isnull=True)
