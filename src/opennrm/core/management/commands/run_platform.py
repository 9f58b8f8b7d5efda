"""Start the web server and the task worker together, print the URL and the demo logins, stop both on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from opennrm.conf import env, env_int


class Command(BaseCommand):
    help = "Run OpenNRM (web server and background task worker) in the foreground."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=env_int("OPENNRM_PORT", 8000))

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        child_env = {**os.environ, "OPENNRM_HTTPS": env("OPENNRM_HTTPS", "false")}
        web = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                python,
                "-m",
                "gunicorn",
                "opennrm.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(env_int("OPENNRM_WEB_WORKERS", 2)),
                "--access-logfile",
                "-",
                # Path without the query string: a search term must never reach a log.
                "--access-logformat",
                '{"access": "%(m)s %(U)s", "status": %(s)s, "ms": %(M)s}',
                "--chdir",
                str(settings.BASE_DIR / "src"),
            ],
            env=child_env,
        )
        worker = subprocess.Popen([python, manage, "db_worker"], env=child_env)  # noqa: S603
        scheduler = subprocess.Popen([python, manage, "run_scheduler"], env=child_env)  # noqa: S603
        children = [web, worker, scheduler]

        def stop(*_args: object) -> None:
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        from opennrm.accounts.management.commands.load_demo import credentials_path, format_logins

        time.sleep(1.5)
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"OpenNRM is running at http://{host}:{port}/"))
        if credentials_path().exists():
            self.stdout.write(format_logins())
        self.stdout.write("Press Ctrl-C to stop.\n")
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            stop()
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
        crashed = [
            {web: "web server", worker: "task worker", scheduler: "scheduler"}[child]
            for child in children
            if child.returncode not in (0, None, -signal.SIGTERM)
        ]
        if crashed:
            self.stderr.write(f"Stopped because a process exited unexpectedly: {crashed}")
            sys.exit(1)
