"""The record-linkage secret shared by the regional focal points: generate it once for the region, import it on
every other instance, show its fingerprint to check that all instances hold the same one."""

from __future__ import annotations

import base64
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opennrm.cooperation import linkage_service as service
from opennrm.cooperation.models import LinkageEncoding
from opennrm.core import audit


class Command(BaseCommand):
    help = (
        "Generate the record-linkage secret (printed once, for the other focal points), import it from stdin, "
        "or show its fingerprint."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        generate = sub.add_parser("generate", help="write a new random secret and print it once, in base64")
        generate.add_argument("--replace", action="store_true", help="replace an existing secret")
        imported = sub.add_parser("import", help="read the secret (base64) from stdin")
        imported.add_argument("--replace", action="store_true", help="replace an existing, different secret")
        sub.add_parser("show", help="print the fingerprint of the installed secret (never the secret)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "show":
            self._show()
            return
        before = service.current_fingerprint()
        if action == "generate":
            secret = service.new_secret()
        else:
            try:
                secret = service.parse_secret(sys.stdin.read())
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            if before == service.fingerprint(secret):
                self.stdout.write(f"This secret is already installed (fingerprint {before}).")
                return
        if before is not None and not options["replace"]:
            raise CommandError(
                f"A linkage secret is installed (fingerprint {before}). Pass --replace to replace it: every "
                "encoding must then be rebuilt (coop_linkage_reindex) and every partner must hold the new secret."
            )
        try:
            fp = service.write_secret(secret, replace=before is not None)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        audit.record(
            actor=None,
            action=f"coop.linkage_secret_{'generated' if action == 'generate' else 'imported'}",
            details={"fingerprint": fp, "replaced": before or ""},
        )
        if action == "generate":
            self.stdout.write(base64.b64encode(secret).decode("ascii"))
            self.stderr.write(
                "The line above is the secret, shown this once. Hand it only to the other regional focal points, "
                "over a channel you trust; they install it with `coop_linkage_secret import`."
            )
        self.stderr.write(f"Fingerprint: {fp}. Now run `coop_linkage_reindex`.")

    def _show(self) -> None:
        fp = service.current_fingerprint()
        if fp is None:
            self.stdout.write("Record linkage is not configured: no secret is installed.")
            return
        current = LinkageEncoding.objects.filter(secret_id=fp).count()
        stale = LinkageEncoding.objects.exclude(secret_id=fp).count()
        self.stdout.write(f"Fingerprint: {fp}")
        self.stdout.write(
            f"Encodings: {current} current, {stale} stale (rebuild them with coop_linkage_reindex)"
        )
