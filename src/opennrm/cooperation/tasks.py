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
            "coop statistics not submitted", extra={"reason": messaging.error_text(exc)}
        )
        return 0


REJECTIONS_KEPT_DAYS = 90


@task()
def prune_rejections() -> int:
    """Refused messages are kept 90 days for investigation, then deleted: anyone can post to the inbox, so the
    table must not grow without bound."""
    import datetime as dt

    from django.utils import timezone

    from opennrm.cooperation.models import Rejection

    cutoff = timezone.now() - dt.timedelta(days=REJECTIONS_KEPT_DAYS)
    deleted, _by_model = Rejection.objects.filter(at__lt=cutoff).delete()
    return deleted
