"""The import task: reads an uploaded HTCDS or CTDC file and saves it row by row, in the background.

- Rows are processed in batches of `BATCH_SIZE`, each batch one short transaction that also moves the job's
  progress (rows read / total), so the job page can show it while the import runs.
- Each good row is saved in its own savepoint: a row that fails while saving is rolled back alone and reported.
- Each row's problems are stored (row number, field, code, and the offending value only when it cannot identify
  anyone; see `htcds.IDENTIFYING_FIELDS` and the shape checks of the readers).
- Idempotent: a row saved once is recorded in `ImportedRow` under a key that recognises it again, and skipped
  on any later run (the same job run again, or the same, or a corrected, file uploaded again).
- Once the import has run to the end the uploaded file is deleted; a job stopped by an error keeps it, so that it
  can be run again.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.tasks import task
from django.utils import timezone

from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.stats import ctdc, htcds, imports
from opennrm.stats.htcds import Problem
from opennrm.stats.imports import SourceRow
from opennrm.stats.models import (
    ImportedRow,
    ImportIssue,
    ImportJob,
    ImportKind,
    ImportStatus,
    IssueSeverity,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 50


@dataclass
class Tally:
    done: int = 0
    saved: int = 0
    skipped: int = 0
    failed: int = 0
    occurrences: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, int]:
        return {"rows": self.done, "saved": self.saved, "skipped": self.skipped, "failed": self.failed}


@task()
def run_import(job_id: str) -> dict[str, int]:
    """Import the file of job `job_id` (its public id). Safe to run twice: see the module docstring."""
    job = ImportJob.objects.select_related("agency", "created_by").filter(public_id=job_id).first()
    if job is None:
        return {}
    return process(job)


def _issue(job: ImportJob, row: int, problem: Problem, severity: str | None = None) -> ImportIssue:
    identifying = problem.field.split("[")[0] in htcds.IDENTIFYING_FIELDS
    return ImportIssue(
        job=job,
        row=row,
        field=problem.field[:100],
        severity=severity or (IssueSeverity.WARNING if problem.warning else IssueSeverity.ERROR),
        code=problem.code,
        value="" if identifying else problem.value[:100],
        params=problem.params,
    )


def _claim(job: ImportJob) -> bool:
    """Take the job for this worker: only a queued job starts (a rerun queues it again)."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING,
        started_at=now,
        finished_at=None,
        total_rows=None,
        done_rows=0,
        saved_rows=0,
        skipped_rows=0,
        failed_rows=0,
        failure="",
        updated_at=now,
    )
    if claimed:
        job.refresh_from_db()
        ImportIssue.objects.filter(job=job).delete()  # the report describes the latest run
    return bool(claimed)


def process(job: ImportJob) -> dict[str, int]:
    if not _claim(job):
        return {}
    tally = Tally()
    try:
        with job.file.open("rb") as handle:
            data = handle.read()
        source = imports.read_source(job.file_format, data)
        del data
        header_problems, fatal = imports.check_columns(job.kind, source)
        file_issues = [_issue(job, source.header_row, p) for p in header_problems]
        file_issues += [_issue(job, 0, p) for p in source.problems]
        ImportIssue.objects.bulk_create(file_issues)
        rows = [] if fatal else source.rows
        ImportJob.objects.filter(pk=job.pk).update(total_rows=len(rows), updated_at=timezone.now())
        for start in range(0, len(rows), BATCH_SIZE):
            _run_batch(job, rows[start : start + BATCH_SIZE], tally)
    except Exception:
        logger.exception("import %s stopped", job.public_id)
        _finish(job, tally, ImportStatus.FAILED, failure="crashed")
        raise
    _finish(job, tally, ImportStatus.DONE)
    return tally.as_dict()


def _run_batch(job: ImportJob, rows: list[SourceRow], tally: Tally) -> None:
    with transaction.atomic():
        issues: list[ImportIssue] = []
        for row in rows:
            outcome = _import_row(job, row, tally, issues)
            tally.done += 1
            setattr(tally, outcome, getattr(tally, outcome) + 1)
        ImportIssue.objects.bulk_create(issues)
        ImportJob.objects.filter(pk=job.pk).update(
            done_rows=tally.done,
            saved_rows=tally.saved,
            skipped_rows=tally.skipped,
            failed_rows=tally.failed,
            updated_at=timezone.now(),
        )


def _key(job: ImportJob, row: SourceRow, record_id: str, tally: Tally) -> str:
    if record_id:
        return f"id:{record_id}"
    if job.kind == ImportKind.HTCDS:
        digest = imports.content_digest(row.values)
        tally.occurrences[digest] += 1
        return f"content:{digest}#{tally.occurrences[digest]}"
    return f"row:{job.file_digest}:{row.number}"


def _import_row(job: ImportJob, row: SourceRow, tally: Tally, issues: list[ImportIssue]) -> str:
    """Validate and save one row; returns "saved", "skipped" or "failed"."""
    if row.problems:
        issues += [_issue(job, row.number, p) for p in row.problems]
        return "failed"
    record: Any
    if job.kind == ImportKind.HTCDS:
        record, problems = htcds.read_record(row.values)
        record_id = record.record_id
    else:
        values = {ctdc.canonical_column(k): v for k, v in row.values.items() if ctdc.canonical_column(k)}
        record, problems = ctdc.read_row(values)
        record_id = ""
    key = _key(job, row, record_id, tally)
    errors = [p for p in problems if not p.warning]
    if errors or record is None:
        issues += [_issue(job, row.number, p) for p in problems]
        return "failed"
    earlier = (
        ImportedRow.objects.filter(kind=job.kind, agency=job.agency, key=key).select_related("job").first()
    )
    if earlier is not None:
        params = {"job": earlier.job.public_id, "row": earlier.row}
        issues.append(
            _issue(job, row.number, Problem("", "already_imported", params=params), IssueSeverity.SKIPPED)
        )
        return "skipped"
    try:
        with transaction.atomic():
            if job.kind == ImportKind.HTCDS:
                case, warnings = imports.save_case(job=job, row=row.number, data=record)
                ImportedRow.objects.create(
                    job=job, kind=job.kind, agency=job.agency, key=key, row=row.number, case=case
                )
            else:
                statistic = imports.save_statistic(job=job, fields=record)
                warnings = []
                ImportedRow.objects.create(
                    job=job, kind=job.kind, agency=job.agency, key=key, row=row.number, statistic=statistic
                )
    except IntegrityError:
        saved = (
            ImportedRow.objects.filter(kind=job.kind, agency=job.agency, key=key)
            .select_related("job")
            .first()
        )
        if saved is None:  # not the ledger: report it like any other failure to save
            issues.append(
                _issue(job, row.number, Problem("", "save_failed", params={"reason": "IntegrityError"}))
            )
            return "failed"
        # Another run saved the same row a moment ago (the ledger's unique key): nothing was saved twice.
        params = {"job": saved.job.public_id, "row": saved.row}
        issues.append(
            _issue(job, row.number, Problem("", "already_imported", params=params), IssueSeverity.SKIPPED)
        )
        return "skipped"
    except DomainError as exc:
        issues.append(
            _issue(job, row.number, Problem("", "save_failed", params={"reason": exc.code or "invalid"}))
        )
        return "failed"
    except Exception as exc:
        logger.exception("import %s: row %s could not be saved", job.public_id, row.number)
        issues.append(
            _issue(job, row.number, Problem("", "save_failed", params={"reason": type(exc).__name__}))
        )
        return "failed"
    issues += [_issue(job, row.number, p) for p in [*problems, *warnings]]
    return "saved"


def _finish(job: ImportJob, tally: Tally, status: str, failure: str = "") -> None:
    with transaction.atomic():
        now = timezone.now()
        ImportJob.objects.filter(pk=job.pk).update(
            status=status,
            failure=failure,
            finished_at=now,
            done_rows=tally.done,
            saved_rows=tally.saved,
            skipped_rows=tally.skipped,
            failed_rows=tally.failed,
            updated_at=now,
        )
        job.refresh_from_db()
        audit.record(
            actor=job.created_by,
            action="stats.import_finished" if status == ImportStatus.DONE else "stats.import_failed",
            target=job,
            agency=job.agency,
            details={"kind": job.kind, **tally.as_dict()},
        )
    if status == ImportStatus.DONE and job.file:
        # The file may identify people and its rows are saved or reported: it is not kept.
        job.file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(file="")
