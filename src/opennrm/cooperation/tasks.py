from __future__ import annotations

from django.tasks import task

from opennrm.cooperation import messaging


@task()
def deliver_outbox() -> int:
    """Deliver the messages to partners that are due (queued after each commit, and every minute)."""
    return messaging.deliver_due()
