from __future__ import annotations

from django.tasks import task

from opennrm.cooperation import messaging


@task()
def deliver_outbox() -> int:
    """Deliver the messages to partners that are due (queued after each commit, and every minute)."""
    return messaging.deliver_due()


@task()
def submit_statistics() -> int:
    """Submit this instance's statistics to the regional hub when a quarter ended since the last submission
    (registered only when OPENNRM_COOP_HUB is set)."""
    import logging

    from opennrm.cooperation import hub
    from opennrm.core.errors import DomainError

    try:
        return len(hub.submit_due())
    except DomainError as exc:
        logging.getLogger("opennrm.cooperation").warning(
            "coop statistics not submitted", extra={"reason": "; ".join(str(m) for m in exc.messages)}
        )
        return 0
