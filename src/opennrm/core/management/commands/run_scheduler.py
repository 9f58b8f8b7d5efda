from __future__ import annotations

import logging
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from opennrm.core.scheduler import registered

logger = logging.getLogger("opennrm.scheduler")


class Command(BaseCommand):
    help = "Enqueue the periodic tasks at their intervals (the db_worker runs them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Enqueue every periodic task once and exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        running = True

        def stop(*_args: object) -> None:
            nonlocal running
            running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        due = {p.task.module_path: 0.0 for p in registered()}
        while running:
            now = time.monotonic()
            for periodic in registered():
                if now >= due[periodic.task.module_path]:
                    periodic.task.enqueue()
                    logger.info("enqueued", extra={"task": periodic.task.module_path})
                    due[periodic.task.module_path] = now + periodic.seconds
            if options["once"]:
                return
            time.sleep(1)
