"""Imports of HTCDS 2.0 and CTDC-layout files: who may import, reading a file into rows, and the writes.

An import runs in the background (`stats.tasks.run_import`): the upload only stores the file (encrypted) and
queues the job. Each row is then validated on its own; a row with problems is reported (row, field, what was
wrong) and not saved, a good row is saved in its own savepoint. Nothing is lost: every row ends up saved, reported,
or recognised as already imported (see `ImportedRow` for the keys that make a re-run save nothing twice).

Who may import
- HTCDS (identified cases): a user who reads identity and runs cases (case worker) with agency or national scope,
  into an agency where they hold both permissions (national: any agency). The cases are owned by that agency and
  encrypted and blind-indexed exactly like cases entered at intake (same fields, `identity.index_person`).
- CTDC (statistics only, no identity): a user with `stats.export`, for an agency in their scope.
A job and its report are visible to the users who could have started it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, cast

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opennrm.accounts.access import Access
from opennrm.accounts.models import Agency, User
from opennrm.accounts.roles import Perm, Scope
from opennrm.cases import choices, identity
from opennrm.cases.choices import CaseStatus, ConsentBasis, ConsentPurpose, TraffickingStatus
from opennrm.cases.models import (
    Case,
    CaseCounter,
    CaseEvent,
    CaseExploitation,
    Consent,
    Person,
    SupportPlanItem,
    TraffickingEvent,
)
from opennrm.cases.services import next_reference
from opennrm.core import audit
from opennrm.core.crypto import get_keyring
from opennrm.core.errors import DomainError
from opennrm.core.profiles import active_profile
from opennrm.stats import ctdc, htcds
from opennrm.stats.htcds import CaseData, Problem
from opennrm.stats.models import (
    ImportedStatisticRecord,
    ImportFormat,
    ImportJob,
    ImportKind,
    ImportStatus,
)

STALLED_AFTER = dt.timedelta(minutes=15)
_BAD_BYTES = re.compile("[\udc80-\udcff]")
_SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\[\]]{0,63}")
_REFERENCE = re.compile(r"^([A-Z]{2})-(\d{4})-(\d{5,7})$")
_ISSUE_MESSAGES = {
    "required": _("This field is required."),
    "bad_type": _("This value has the wrong type (text, list or object where another was expected)."),
    "too_long": _("The value is longer than %(limit)s characters."),
    "bad_date": _("Not a date in the form YYYY-MM-DD."),
    "future_date": _("The date is in the future."),
    "too_old": _("The date of birth is more than %(maximum)s years ago."),
    "born_after_contact": _("The date of birth is after the date of first contact."),
    "unknown_value": _("This value is not in the standard's list for this field."),
    "unknown_country": _("Not an ISO 3166-1 alpha-2 country code."),
    "unknown_language": _("Not an ISO 639 language code."),
    "bad_boolean": _("Not a yes/no value (true/false or 1/0)."),
    "bad_number": _("Not a whole number."),
    "out_of_range": _("The number must be between %(minimum)s and %(maximum)s."),
    "bad_year": _("Not a year between 1900 and %(maximum)s."),
    "inconsistent_age": _("The majority status contradicts the age group %(age)s."),
    "consent_required": _(
        "An adult's identified record can be imported only with their consent to the processing of their data "
        "(con_Consent true). Without it, import the case as CTDC statistics instead."
    ),
    "no_route": _(
        "No identification route of this country's profile matches this decision-making organisation: the case "
        "was saved without its route."
    ),
    "reason_not_kept": _("The closure reason is free text that OpenNRM does not keep: recorded as 'Other'."),
    "deceased_open_case": _(
        "The person is marked deceased but the case is open: OpenNRM records a death when "
        "a case is closed, so this was not kept."
    ),
    "referring_unknown": _(
        "No agency has this name: the importing agency is recorded as the referring agency."
    ),
    "reference_not_kept": _(
        "The record id could not be kept as the case reference: a new reference was given."
    ),
    "not_utf8": _(
        "The row contains bytes that are not UTF-8 text. Save the file as UTF-8 and upload it again."
    ),
    "column_count": _("The row has %(found)s values but the header has %(expected)s columns."),
    "bad_json": _("Not valid JSON (line %(line)s, column %(column)s)."),
    "not_object": _("Each record must be a JSON object."),
    "unreadable_from": _("The file could not be read from row %(row)s on; the rows before it were imported."),
    "unknown_column": _("Unknown column: its values were ignored."),
    "unmapped_column": _("HTCDS field with no counterpart in OpenNRM: its values were not imported."),
    "duplicate_column": _("This column appears more than once: only its first occurrence was read."),
    "missing_column": _("This required column is missing from the file."),
    "no_known_columns": _(
        "No column of the file has a name of this layout: is the header row missing, or was "
        "the wrong kind of import chosen?"
    ),
    "empty_file": _("The file holds no rows."),
    "already_imported": _("Already imported (import %(job)s, row %(row)s): not saved again."),
    "save_failed": _("The row could not be saved (%(reason)s)."),
    "crashed": _("The import stopped on an unexpected error. Run it again: rows already saved are skipped."),
}


def issue_message(code: str, params: dict[str, Any]) -> str:
    template = _ISSUE_MESSAGES.get(code)
    if template is None:
        return code
    try:
        text = str(template) % params if "%(" in str(template) else str(template)
    except (KeyError, TypeError, ValueError):
        text = str(template)
    if params.get("suggestion"):
        text += " " + str(_("Did you mean %(suggestion)s?") % {"suggestion": params["suggestion"]})
    return text


# --- who may import and see imports ------------------------------------------------------------------------


def _agencies_with_all(access: Access, perms: Iterable[Perm]) -> QuerySet[Agency]:
    perms = list(perms)
    if all(access.is_national(p) for p in perms):
        return Agency.objects.filter(is_active=True)
    ids: set[int] | None = None
    for perm in perms:
        found = access.agency_ids_with(perm, min_scope=Scope.AGENCY)
        ids = found if ids is None else ids & found
    return Agency.objects.filter(pk__in=ids or set(), is_active=True)


def import_agencies(access: Access, kind: str) -> QuerySet[Agency]:
    """Agencies the user may import into, for one kind of import."""
    if kind == ImportKind.HTCDS:
        return _agencies_with_all(access, (Perm.CASE_EDIT, Perm.CASE_VIEW_IDENTITY))
    return _agencies_with_all(access, (Perm.STATS_EXPORT,))


def import_kinds(access: Access) -> list[str]:
    return [kind for kind in ImportKind.values if import_agencies(access, kind).exists()]


def visible_jobs(access: Access) -> QuerySet[ImportJob]:
    condition = Q(pk__in=[])
    for kind in ImportKind.values:
        condition |= Q(kind=kind, agency__in=import_agencies(access, kind))
    return ImportJob.objects.filter(condition).select_related("agency", "created_by")


# --- reading a file ----------------------------------------------------------------------------------------


@dataclass
class SourceRow:
    number: int
    values: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Source:
    rows: list[SourceRow] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    header_row: int = 0
    problems: list[Problem] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def _decode(data: bytes) -> str:
    text = data.decode("utf-8", errors="surrogateescape")
    return text.removeprefix("\ufeff")


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(data: bytes) -> Source:
    text = _decode(data)
    source = Source()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]))
    header: list[str] | None = None
    number = 0
    try:
        for cells in reader:
            number += 1
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip() for cell in cells]
                source.header_row = number
                source.columns = header
                for position, name in enumerate(header):
                    if name in header[:position] and name not in source.duplicates:
                        source.duplicates.append(name)
                continue
            row = SourceRow(number=number, values={})
            if len(cells) != len(header):
                row.problems.append(
                    Problem("", "column_count", params={"found": len(cells), "expected": len(header)})
                )
            for name, cell in zip(header, cells, strict=False):
                if not name or name in row.values:
                    continue
                if _BAD_BYTES.search(cell):
                    row.problems.append(Problem(name if _safe_column(name) else "", "not_utf8"))
                    continue
                row.values[name] = htcds.uncsv_cell(cell)
            source.rows.append(row)
    except csv.Error:
        source.problems.append(Problem("", "unreadable_from", params={"row": number + 1}))
    return source


def _bad_strings(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_BAD_BYTES.search(value))
    if isinstance(value, list):
        return any(_bad_strings(v) for v in value)
    if isinstance(value, dict):
        return any(_bad_strings(k) or _bad_strings(v) for k, v in value.items())
    return False


def _json_row(number: int, item: Any, source: Source) -> SourceRow:
    if not isinstance(item, dict):
        return SourceRow(number=number, values={}, problems=[Problem("", "not_object")])
    row = SourceRow(number=number, values={})
    for key, value in item.items():
        if key not in source.columns:
            source.columns.append(key)
        if _bad_strings(key) or _bad_strings(value):
            row.problems.append(Problem(key if _safe_column(key) else "", "not_utf8"))
            continue
        row.values[key] = value
    return row


def read_json(data: bytes) -> Source:
    """JSON Lines (one object per line), a JSON list of objects, or a single object."""
    text = _decode(data)
    source = Source()
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError as exc:
            whole = exc  # not one JSON document: read it as JSON Lines below (a list must parse as a whole)
            if stripped.startswith("["):
                source.problems.append(
                    Problem("", "bad_json", params={"line": exc.lineno, "column": exc.colno})
                )
                return source
        if isinstance(whole, list):
            source.rows = [_json_row(n, item, source) for n, item in enumerate(whole, start=1)]
            return source
        if isinstance(whole, dict):
            source.rows = [_json_row(1, whole, source)]
            return source
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            source.rows.append(
                SourceRow(number, {}, [Problem("", "bad_json", params={"line": number, "column": exc.colno})])
            )
            continue
        source.rows.append(_json_row(number, item, source))
    return source


def read_source(file_format: str, data: bytes) -> Source:
    return read_json(data) if file_format == ImportFormat.JSON else read_csv(data)


def detect_format(name: str, data: bytes) -> str:
    suffix = PurePath(name or "").suffix.lower()
    if suffix in (".json", ".jsonl", ".ndjson"):
        return ImportFormat.JSON
    if suffix in (".csv", ".tsv", ".txt"):
        return ImportFormat.CSV
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return ImportFormat.JSON if head in (b"[", b"{") else ImportFormat.CSV


def _safe_column(name: str) -> bool:
    """A column name is shown in a report only when it has the shape of a field name (never data)."""
    return bool(_SAFE_NAME.fullmatch(name))


def check_columns(kind: str, source: Source) -> tuple[list[Problem], bool]:
    """Problems of the header (or of the JSON keys): unknown and unmapped columns are warnings; no known column,
    or a required one missing, are errors. The flag is True when no row can be read at all."""
    problems: list[Problem] = []
    required: tuple[str, ...]
    if not source.rows and not source.problems:
        return [Problem("", "empty_file")], True
    columns = [c for c in source.columns if c]
    if kind == ImportKind.CTDC:
        known = {c: ctdc.canonical_column(c) for c in columns}
        required = ("yearOfRegistration",)
        present = set(known.values())
        for name, canonical in known.items():
            if not canonical:
                problems.append(Problem(name if _safe_column(name) else "", "unknown_column", warning=True))
    else:
        classes = {c: htcds.classify_column(c) for c in columns}
        required = htcds.REQUIRED_FIELDS
        present = {c for c, k in classes.items() if k in ("id", "field", "group")}
        present |= {"hte_Type"} if any(k == "group" for k in classes.values()) else set()
        for name, kind_of in classes.items():
            if kind_of == "unknown":
                shown = name if _safe_column(name) else ""
                suggestion = htcds.suggest_column(name) if shown else ""
                problems.append(
                    Problem(shown, "unknown_column", warning=True, params={"suggestion": suggestion})
                )
            elif kind_of == "unmapped":
                problems.append(Problem(name, "unmapped_column", warning=True))
    if columns and not present - {""}:
        return [Problem("", "no_known_columns")], True
    for name in source.duplicates:
        problems.append(Problem(name if _safe_column(name) else "", "duplicate_column", warning=True))
    if kind == ImportKind.CTDC or source.header_row:  # JSON records each name their own missing fields
        for name in required:
            if name not in present:
                problems.append(Problem(name, "missing_column"))
    return problems, False


# --- idempotency keys ----------------------------------------------------------------------------------------


def _keyed_digest(purpose: str, payload: bytes) -> str:
    key = get_keyring().blind_index_key
    return hmac.new(key, purpose.encode() + b"\x00" + payload, hashlib.sha256).hexdigest()


def file_digest(data: bytes) -> str:
    return _keyed_digest("stats.import_file", data)


def content_digest(values: dict[str, Any]) -> str:
    canonical = json.dumps(
        {k: v.strip() if isinstance(v, str) else v for k, v in values.items()},
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return _keyed_digest("stats.import_row", canonical.encode("utf-8", "surrogateescape"))[:40]


# --- writes ------------------------------------------------------------------------------------------------


def _upload_limit() -> int:
    return int(settings.OPENNRM_MAX_UPLOAD_BYTES)


@transaction.atomic
def start_import(
    *, actor: User, agency: Agency, kind: str, upload: UploadedFile, keep_references: bool = False
) -> ImportJob:
    """Store the uploaded file (encrypted) and queue its import. The caller has checked that `actor` may import
    into `agency` (`import_agencies`)."""
    if kind not in ImportKind.values:
        raise DomainError(_("Unknown kind of import."), code="unknown_code")
    size = upload.size or 0
    if size > _upload_limit():
        raise DomainError(
            _("The file is too large (%(size)s MB; at most %(limit)s MB): split it into several files.")
            % {"size": round(size / 1e6, 1), "limit": round(_upload_limit() / 1e6, 1)},
            code="too_large",
        )
    data = upload.read()
    if not data.strip():
        raise DomainError(_("The file is empty."), code="empty")
    file_format = detect_format(upload.name or "", data)
    job = ImportJob(
        kind=kind,
        file_format=file_format,
        agency=agency,
        created_by=actor,
        file_name=(upload.name or "")[:255],
        file_digest=file_digest(data),
        keep_references=keep_references and kind == ImportKind.HTCDS,
    )
    job.file.save("upload", ContentFile(data), save=False)
    job.save()
    audit.record(
        actor=actor,
        action="stats.import_started",
        target=job,
        agency=agency,
        details={"kind": kind, "format": file_format, "bytes": len(data)},
    )
    _enqueue_on_commit(job)
    return job


def _enqueue_on_commit(job: ImportJob) -> None:
    from opennrm.stats.tasks import run_import

    public_id = job.public_id
    transaction.on_commit(lambda: run_import.enqueue(public_id))


def can_rerun(job: ImportJob) -> bool:
    if not job.file:
        return False
    if job.status == ImportStatus.FAILED:
        return True
    return (
        job.status in (ImportStatus.RUNNING, ImportStatus.QUEUED)
        and job.updated_at < timezone.now() - STALLED_AFTER
    )


@transaction.atomic
def rerun_import(*, actor: User, job: ImportJob) -> ImportJob:
    """Run a stopped (or stalled) import again: rows it already saved are recognised and skipped."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if not can_rerun(job):
        raise DomainError(
            _("This import is running or finished: it cannot be run again."), code="invalid_state"
        )
    job.status = ImportStatus.QUEUED
    job.failure = ""
    job.save(update_fields=["status", "failure", "updated_at"])
    audit.record(actor=actor, action="stats.import_rerun", target=job, agency=job.agency)
    _enqueue_on_commit(job)
    return job


def _referring_agency(name: str, fallback: Agency) -> tuple[Agency, bool]:
    if name:
        found = Agency.objects.filter(name__iexact=name).order_by("-is_active", "pk").first()
        if found is not None:
            return found, True
    return fallback, not name


def _reference(job: ImportJob, record_id: str, year: int) -> tuple[str, bool]:
    """The record id as reference when asked, when it is a reference of this country and still free; else a new one.
    The reference counter is moved past a kept reference, so the next referral does not collide with it."""
    code = active_profile().code
    match = _REFERENCE.match(record_id)
    if (
        job.keep_references
        and match
        and match[1] == code
        and not Case.objects.filter(reference=record_id).exists()
    ):
        counter, _created = CaseCounter.objects.select_for_update().get_or_create(
            country=code, year=int(match[2])
        )
        CaseCounter.objects.filter(pk=counter.pk, last__lt=int(match[3])).update(last=int(match[3]))
        return record_id, True
    return next_reference(code, year), not (job.keep_references and record_id)


def save_case(*, job: ImportJob, row: int, data: CaseData) -> tuple[Case, list[Problem]]:
    """Create the person and case of one valid HTCDS record, owned by the job's agency. Runs inside the caller's
    savepoint. Identity is encrypted by its fields and blind-indexed by `identity.index_person`, as at intake."""
    assert data.first_contact_date is not None  # required: read_record reported it otherwise
    actor, agency = job.created_by, job.agency
    warnings: list[Problem] = []
    profile = active_profile()
    first_contact = data.first_contact_date
    person = Person.objects.create(
        given_name=data.given_name,
        family_name=data.family_name,
        date_of_birth=data.date_of_birth,
        documents=cast(Any, data.documents),
        contacts=cast(Any, data.contacts),
        address=data.address,
        sex=data.sex,
        birth_year=data.date_of_birth.year if data.date_of_birth else None,
        citizenship=data.citizenship,
        other_citizenships=data.other_citizenships,
        languages=data.languages,
    )
    identity.index_person(person)
    referring, matched = _referring_agency(data.referring_organisation, agency)
    if not matched:
        warnings.append(Problem("cas_ReferringOrganisation", "referring_unknown", warning=True))
    reference, kept = _reference(job, data.record_id, first_contact.year)
    if not kept:
        warnings.append(Problem(htcds.RECORD_ID, "reference_not_kept", warning=True))
    if data.closed:
        status = CaseStatus.CLOSED
    else:
        status = {
            TraffickingStatus.ACTUAL: CaseStatus.IDENTIFIED,
            TraffickingStatus.NOT_VICTIM: CaseStatus.NOT_IDENTIFIED,
        }.get(TraffickingStatus(data.trafficking_status), CaseStatus.REFERRED)
    case = Case.objects.create(
        reference=reference,
        country=profile.code,
        person=person,
        status=status,
        trafficking_status=data.trafficking_status,
        referring_agency=referring,
        owning_agency=agency,
        created_by=actor,
        first_contact_date=first_contact,
        age_at_exploitation=data.age,
        age_group=choices.age_group(data.age),
        is_child=data.is_child,
        forced_labour_industry=data.forced_labour_industry,
        sexual_exploitation_types=data.sexual_exploitation_types,
        methods_of_control=data.methods_of_control,
        methods_of_recruitment=data.methods_of_recruitment,
        relationship_to_trafficker=data.relationship_to_trafficker,
        perpetrator_roles=data.perpetrator_roles,
        reflection_period_ends=profile.reflection_period_end(first_contact),
        identification_route=data.identification_route
        if data.trafficking_status == TraffickingStatus.ACTUAL
        else "",
        closed_at=timezone.now() if data.closed else None,
        closure_reason=data.closure_reason if data.closed else "",
    )
    CaseExploitation.objects.bulk_create(
        [CaseExploitation(case=case, form=f) for f in data.exploitation_forms]
    )
    for event in data.events:
        TraffickingEvent.objects.create(
            case=case,
            type=event.type,
            country=event.country,
            place=event.place,
            date=event.date,
            details=event.details,
        )
    for item in data.plan:
        SupportPlanItem.objects.create(
            case=case,
            type=item.type,
            objective=item.objective,
            action=item.action,
            planned_end=item.planned_end,
            actual_end=item.actual_end,
            created_by=actor,
        )
    basis = ConsentBasis.CONSENT if data.consent else ConsentBasis.CHILD_BEST_INTERESTS
    Consent.objects.create(
        case=case, purpose=ConsentPurpose.DATA_PROCESSING, given=True, basis=basis, recorded_by=actor
    )
    audit.record(
        actor=actor,
        action="case.imported",
        target=case,
        agency=agency,
        details={"import": job.public_id, "row": row, "standard": "htcds", "child": data.is_child},
    )
    CaseEvent.objects.create(
        case=case, actor=actor, agency=agency, kind="imported", data={"import": job.public_id, "row": row}
    )
    return case, warnings


def save_statistic(*, job: ImportJob, fields: dict[str, Any]) -> ImportedStatisticRecord:
    return ImportedStatisticRecord.objects.create(job=job, agency=job.agency, **fields)
