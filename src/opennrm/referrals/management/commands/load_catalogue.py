"""Load the service catalogue (catalogue.yaml, or another file) into the database. Safe to run again."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from opennrm.core import audit
from opennrm.referrals import catalogue
from opennrm.referrals.models import ServiceType


class Command(BaseCommand):
    help = (
        "Create or update the services of catalogue.yaml; deactivate those the file no longer lists "
        "(referrals keep pointing to them). Edits made in the admin to listed services are overwritten."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--file", type=Path, default=catalogue.CATALOGUE_PATH, help="catalogue file to load"
        )
        parser.add_argument(
            "--country",
            action="append",
            default=None,
            help="load only this country (two-letter code; repeat for several)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            specs = catalogue.read(options["file"])
        except catalogue.CatalogueError as exc:
            raise CommandError(str(exc)) from exc
        countries = {c.upper() for c in options["country"]} if options["country"] else None
        if countries and (unknown := countries - {s.country for s in specs}):
            raise CommandError(f"the catalogue has no services for {', '.join(sorted(unknown))}")
        with transaction.atomic():
            result = catalogue.load(ServiceType, specs, countries=countries)
            audit.record(
                actor=None,
                action="referrals.catalogue_loaded",
                details={
                    "file_sha256": hashlib.sha256(options["file"].read_bytes()).hexdigest(),
                    "countries": sorted(countries or {s.country for s in specs}),
                    "created": len(result.created),
                    "updated": len(result.updated),
                    "deactivated": len(result.deactivated),
                    "unchanged": result.unchanged,
                },
            )
        self.stdout.write(
            f"{len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.deactivated)} deactivated, {result.unchanged} unchanged"
        )
        for label in result.created:
            self.stdout.write(f"  + {label}")
        for label in result.updated:
            self.stdout.write(f"  ~ {label}")
        for label in result.deactivated:
            self.stdout.write(f"  - {label}")
