"""Submit this instance's statistics to the regional hub now (the platform also does it on a schedule)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from opennrm.cooperation import hub, messaging
from opennrm.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Queue a statistics submission to the regional hub (OPENNRM_COOP_HUB): the ended quarters of the previous "
        "and the current year, or of the year given with --period. The outbox delivers it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", help="a year, e.g. 2025 (default: the previous and the current year)")

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        period = options.get("period")
        if period:
            if not period.isdigit() or not hub.FIRST_YEAR <= int(period) <= today.year:
                raise CommandError(f"--period must be a year between {hub.FIRST_YEAR} and {today.year}")
            years = [int(period)]
        else:
            years = [y for y in (today.year - 1, today.year) if hub.ended_quarters(y, today)]
        try:
            partner = hub.hub_partner()
            for year in years:
                message = hub.submit(partner=partner, year=year, today=today)
                quarters = len(message.payload["tables"]["victims"]["rows"]) - 1
                method = message.payload["method"]
                protection = f"epsilon {method['dp']['epsilon']}" if method["dp"] else f"k {method['k']}"
                self.stdout.write(
                    f"queued {year} ({quarters} quarter{'s' if quarters > 1 else ''}, {protection}) "
                    f"to {partner.code}: message {message.message_id}"
                )
        except DomainError as exc:
            raise CommandError(messaging.error_text(exc)) from exc
