"""Periodic tasks. Django's tasks framework runs tasks but does not schedule them; `manage.py run_scheduler`
enqueues each registered task at its interval, and the database-backed worker runs it.

Apps register in their AppConfig.ready(): `scheduler.every(minutes=5, task=notify_overdue_decisions)`.
Several schedulers running at once are harmless: every task registered here is idempotent (each acts once on
each thing it finds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Periodic:
    task: Any
    seconds: int


_periodic: dict[str, Periodic] = {}


def every(*, minutes: int, task: Any) -> None:
    _periodic[task.module_path] = Periodic(task=task, seconds=minutes * 60)


def registered() -> list[Periodic]:
    return list(_periodic.values())
