"""Deliver due messages to partners now, once or in a loop (the platform also does it every minute)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from opennrm.cooperation import messaging


class Command(BaseCommand):
    help = "Deliver the outbox messages that are due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="keep delivering until stopped")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between passes with --loop")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            delivered = messaging.deliver_due()
            if delivered or not options["loop"]:
                self.stdout.write(f"delivered {delivered}")
            if not options["loop"]:
                return
            time.sleep(options["interval"])
