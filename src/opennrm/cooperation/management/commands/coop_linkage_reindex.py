"""Rebuild the record-linkage encodings of every person, e.g. after the shared secret changed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opennrm.cooperation import linkage_service as service
from opennrm.core.errors import DomainError


class Command(BaseCommand):
    help = "Rebuild the record-linkage encodings of every person under the installed secret, in batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="people per transaction (default 500)"
        )
        parser.add_argument(
            "--stale-only",
            action="store_true",
            help="only people without an encoding under the installed secret",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            result = service.reindex(batch_size=options["batch_size"], stale_only=options["stale_only"])
        except DomainError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"Encoded {result.encoded} people under secret {result.fingerprint}; "
            f"removed {result.removed} encodings of people without a name."
        )
