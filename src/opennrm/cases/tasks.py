from __future__ import annotations

from django.db import transaction
from django.tasks import task
from django.urls import reverse
from django.utils import timezone

from opennrm.accounts.models import Membership
from opennrm.accounts.roles import Perm, Role, Scope
from opennrm.cases.models import Decision
from opennrm.cases.selectors import overdue_decisions
from opennrm.core import audit
from opennrm.core.models import Alert


def _coordinators_for(decision: Decision, memberships: list[Membership]) -> set[int]:
    """Coordinators whose scope reaches the case: national, or the agency that owns or referred it."""
    case = decision.case
    return {
        m.user_id
        for m in memberships
        if Perm.CASE_VIEW in m.permissions
        and (m.scope == Scope.NATIONAL or m.agency_id in (case.owning_agency_id, case.referring_agency_id))
    }


@task()
def notify_overdue_decisions() -> int:
    """Alert the coordinators who oversee a case when its identification decision passes the statutory deadline.

    Each decision is notified once. While no coordinator can be told, nothing is marked, so a coordinator
    appointed later still gets the alert."""
    memberships = list(Membership.objects.active().filter(role=Role.COORDINATOR))
    count = 0
    for decision in overdue_decisions().select_related("case"):
        recipients = _coordinators_for(decision, memberships)
        if not recipients:
            continue
        with transaction.atomic():
            Alert.objects.bulk_create(
                [
                    Alert(
                        recipient_id=user_id,
                        kind="decision_overdue",
                        params={
                            "reference": decision.case.reference,
                            "deadline": timezone.localtime(decision.deadline_at).strftime("%Y-%m-%d %H:%M"),
                        },
                        url=reverse("cases:detail", args=[decision.case.public_id]),
                    )
                    for user_id in sorted(recipients)
                ]
            )
            decision.overdue_notified_at = timezone.now()
            decision.save(update_fields=["overdue_notified_at", "updated_at"])
            audit.record(
                actor=None,
                action="decision.overdue_notified",
                target=decision.case,
                details={"recipients": len(recipients)},
            )
            count += 1
    return count
