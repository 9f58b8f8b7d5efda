from __future__ import annotations

from django.db import transaction
from django.tasks import task
from django.urls import reverse
from django.utils import timezone

from opennrm.accounts.models import Membership
from opennrm.accounts.roles import Role
from opennrm.cases.selectors import overdue_decisions
from opennrm.core import audit
from opennrm.core.models import Alert


@task()
def notify_overdue_decisions() -> int:
    """Alert every active coordinator about identification decisions past their statutory deadline (once each)."""
    coordinators = list(
        Membership.objects.active().filter(role=Role.COORDINATOR).values_list("user_id", flat=True).distinct()
    )
    count = 0
    for decision in overdue_decisions().select_related("case"):
        with transaction.atomic():
            alerts = [
                Alert(
                    recipient_id=user_id,
                    kind="decision_overdue",
                    params={"reference": decision.case.reference,
                            "deadline": timezone.localtime(decision.deadline_at).strftime("%Y-%m-%d %H:%M")},
                    url=reverse("cases:detail", args=[decision.case.public_id]),
                )
                for user_id in coordinators
            ]
            Alert.objects.bulk_create(alerts)
            decision.overdue_notified_at = timezone.now()
            decision.save(update_fields=["overdue_notified_at", "updated_at"])
            audit.record(actor=None, action="decision.overdue_notified", target=decision.case,
                         details={"recipients": len(alerts)})
            count += 1
    return count
