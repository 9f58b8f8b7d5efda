from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from opennrm.core import audit

_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


class Command(BaseCommand):
    help = (
        "Verify the audit log: recompute the hash of every entry in order and check that each one links to "
        "the entry before it. Exits non-zero at the first altered, unlinked or missing entry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            metavar="SEQUENCE:HASH",
            help="An entry written down earlier (e.g. the head printed by a previous run); fails if the log "
            "no longer contains it unchanged, which catches a removed tail or a rewritten chain.",
        )
        parser.add_argument("--batch-size", type=int, default=5000, help="Entries read per query.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias to verify.")

    def handle(self, *args: Any, **options: Any) -> None:
        anchor = None
        if options["anchor"]:
            match = _ANCHOR.match(options["anchor"].strip().lower())
            if not match:
                raise CommandError("--anchor must look like 1234:<64 hex digits>")
            anchor = (int(match[1]), match[2])
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")

        result = audit.verify_chain(
            batch_size=options["batch_size"], anchor=anchor, using=options["database"]
        )

        if not result.ok:
            if result.first_bad_id is None:
                self.stdout.write(
                    f"{result.checked} audit entries verified. Head: #{result.head_id} {result.head_hash}"
                )
                raise CommandError(f"Audit log: {result.reason}")
            self.stdout.write(f"{result.checked} audit entries verified before the first problem.")
            at = f" at {result.first_bad_at.isoformat()}" if result.first_bad_at else ""
            raise CommandError(f"Audit entry #{result.first_bad_id}{at}: {result.reason}")
        if result.checked == 0:
            self.stdout.write("The audit log is empty.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Verified {result.checked} audit entries. Head: #{result.head_id} {result.head_hash}"
            )
        )
