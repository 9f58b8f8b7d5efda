"""Background tasks of the shelters app (registered with the scheduler in `apps.py`)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.tasks import task
from django.urls import reverse
from django.utils import timezone

from opennrm.accounts.models import Membership
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Scope
from opennrm.core import audit
from opennrm.core.models import Alert
from opennrm.shelters.models import Placement
from opennrm.shelters.selectors import stays_ending

# How many days before a stay reaches its limit the shelter's staff and the coordinators are alerted (once per
# limit: an extension sets a new limit, and a new alert comes before it). An operating choice, not a legal rule.
STAY_ALERT_DAYS = 7
# How often the scheduler runs the check. Hourly: an alert comes at most an hour after it is due.
CHECK_EVERY_MINUTES = 60


def _roles_with(perm: Perm) -> list[str]:
    return [role.value for role, perms in ROLE_PERMISSIONS.items() if perm in perms]


def stay_alert_recipients(placement: Placement) -> list[int]:
    """User ids of the shelter's staff and of the coordinators whose scope reaches the shelter."""
    agency_id = placement.shelter.agency_id
    staff = Q(role__in=_roles_with(Perm.SHELTER_OPERATE), agency_id=agency_id)
    coordinators = Q(role__in=_roles_with(Perm.SHELTER_OVERSEE)) & (
        Q(scope=Scope.NATIONAL) | Q(agency_id=agency_id)
    )
    return sorted(
        set(Membership.objects.active().filter(staff | coordinators).values_list("user_id", flat=True))
    )


@task()
def notify_stays_ending() -> int:
    """Alert about stays whose limit is at most STAY_ALERT_DAYS away (or passed), once each; returns how many."""
    by = timezone.localdate() + dt.timedelta(days=STAY_ALERT_DAYS)
    count = 0
    for candidate in stays_ending(by=by):
        with transaction.atomic():
            placement = (
                Placement.objects.select_for_update(of=("self",))
                .select_related("shelter", "case")
                .defer("shelter__address", "case__narrative", "case__guardian")
                .filter(pk=candidate.pk, discharged_at__isnull=True, stay_alert_sent_at__isnull=True)
                .first()
            )
            limit = placement.current_limit if placement is not None else None
            if placement is None or limit is None:
                continue  # alerted, discharged or extended by someone else meanwhile
            recipients = stay_alert_recipients(placement)
            url = reverse("shelters:placement", kwargs={"public_id": placement.public_id})
            Alert.objects.bulk_create(
                [
                    Alert(
                        recipient_id=user_id,
                        kind="stay_ending",
                        params={"reference": placement.case.reference, "date": limit.isoformat()},
                        url=url,
                    )
                    for user_id in recipients
                ]
            )
            placement.stay_alert_sent_at = timezone.now()
            placement.save(update_fields=["stay_alert_sent_at", "updated_at"])
            audit.record(
                actor=None,
                action="placement.stay_alert_sent",
                target=placement,
                details={"limit": limit.isoformat(), "recipients": len(recipients)},
            )
            count += 1
    return count
