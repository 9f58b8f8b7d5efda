"""The append-only, hash-chained audit log.

Services write entries explicitly with `record()` (and `record_read()` for reads of identifying data); nothing
is written implicitly by signals. Every entry carries the SHA-256 of its own content and of the entry before
it, so `verify_chain()` (and `manage.py verify_audit`) can tell when an entry was altered or removed.
See docs/audit.md for the format, the guarantees and their limits.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from django.db import NotSupportedError, connections, models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from opennrm.core.context import agency_var, request_id_var
from opennrm.core.models import AppendOnlyError, AuditEntry

__all__ = [
    "GENESIS_HASH",
    "Actor",
    "AppendOnlyError",
    "HasPublicId",
    "Problem",
    "VerifyResult",
    "entry_hash",
    "missing_guards",
    "record",
    "record_read",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
# Key of the PostgreSQL transaction-level advisory lock that serialises appends to the chain ("ONRMAUDT").
ADVISORY_LOCK_KEY = 0x4F4E524D41554454
# The content that is hashed, in addition to nothing else: changing this list breaks every existing chain.
HASHED_FIELDS = (
    "sequence",
    "at",
    "actor",
    "actor_name",
    "agency",
    "action",
    "target_type",
    "target_id",
    "request_id",
    "fields",
    "details",
    "prev_hash",
)
MAX_DETAILS_BYTES = 4096

_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class Actor(Protocol):
    """Who acts: a user (`opennrm.accounts.models.User`) or anything shaped like one."""

    @property
    def public_id(self) -> str: ...

    def get_username(self) -> str: ...


class HasPublicId(Protocol):
    @property
    def public_id(self) -> str: ...


# --- Writing ----------------------------------------------------------------------------------------------


def record(
    *,
    actor: Actor | None,
    action: str,
    target: models.Model | None = None,
    agency: HasPublicId | None = None,
    fields: Iterable[str] = (),
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the audit log and return it.

    `actor` None means the system. `agency` defaults to the agency of the current request (`agency_var`).
    `fields` names the fields that were read (never their values). `details` is a small JSON object of
    codes, counts and public ids; it must never hold identifying values (names, dates of birth, document
    numbers, contacts, free text). Runs in its own atomic block (a savepoint inside the caller's
    transaction), so the entry is written or rolled back together with the act it records.
    """
    if not _ACTION.match(action) or len(action) > 100:
        raise ValueError(f"audit action must be a dotted lower-case name, got {action!r}")
    if actor is not None and getattr(actor, "is_authenticated", True) is False:
        raise ValueError("an anonymous user cannot be an audit actor; pass actor=None for the system")
    field_names = _clean_fields(fields)
    clean_details = _clean_details(details)
    target_type, target_id = _target_ref(target)
    entry = AuditEntry(
        actor=actor.public_id if actor is not None else "",
        actor_name=actor.get_username()[:150] if actor is not None else "",
        agency=agency.public_id if agency is not None else agency_var.get(),
        action=action,
        target_type=target_type,
        target_id=target_id,
        request_id=request_id_var.get()[:64],
        fields=field_names,
        details=clean_details,
    )
    using = router.db_for_write(AuditEntry)
    with transaction.atomic(using=using):
        _lock_chain(using)
        last = AuditEntry.objects.using(using).order_by("-sequence").values_list("sequence", "hash").first()
        entry.sequence, entry.prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
        entry.at = timezone.now()
        entry.hash = entry_hash(_values_of(entry))
        entry.save(using=using)
    return entry


def record_read(
    *,
    actor: Actor | None,
    target: models.Model,
    fields: Iterable[str],
    agency: HasPublicId | None = None,
    action: str = "",
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Record that `actor` was shown `fields` of `target`. The action defaults to "<app>.<model>.read"."""
    names = _clean_fields(fields)
    if not names:
        raise ValueError("record_read needs the names of the fields that were read")
    meta = target._meta
    return record(
        actor=actor,
        action=action or f"{meta.app_label}.{meta.model_name}.read",
        target=target,
        agency=agency,
        fields=names,
        details=details,
    )


def _lock_chain(using: str) -> None:
    """Hold the chain's write lock until the end of the current transaction, so appends cannot fork."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
    elif connection.vendor != "sqlite":
        # SQLite runs with transaction_mode IMMEDIATE (settings.py): BEGIN already took the write lock.
        raise NotSupportedError(f"the audit log supports PostgreSQL and SQLite, not {connection.vendor}")


def _clean_fields(fields: Iterable[str]) -> list[str]:
    if isinstance(fields, str):
        raise TypeError("fields must be a list of field names, not a string")
    names: list[str] = []
    for name in fields:
        if not isinstance(name, str) or not _FIELD_NAME.match(name) or len(name) > 100:
            raise ValueError(f"not a field name: {name!r}")
        if name not in names:
            names.append(name)
    return names


def _clean_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    if not details:
        return {}
    _check_json_value(details)
    text = json.dumps(details, ensure_ascii=False, sort_keys=True)
    if len(text.encode("utf-8")) > MAX_DETAILS_BYTES:
        raise ValueError(f"audit details are limited to {MAX_DETAILS_BYTES} bytes")
    cleaned: dict[str, Any] = json.loads(text)
    return cleaned


def _check_json_value(value: object) -> None:
    # Floats are refused: PostgreSQL's jsonb may give them back in another form (1e20 as an integer), which
    # would change the hash. Details hold codes, counts and ids, never measurements.
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("audit details keys must be strings")
            _check_json_value(item)
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_json_value(item)
        return
    raise TypeError(
        f"audit details may hold strings, integers, booleans, lists and objects, not {type(value)}"
    )


def _target_ref(target: models.Model | None) -> tuple[str, str]:
    if target is None:
        return "", ""
    meta = target._meta
    public_id = getattr(target, "public_id", "")
    if public_id:
        return f"{meta.app_label}.{meta.model_name}", str(public_id)
    if target.pk is None:
        raise ValueError("the audit target has no public id and no primary key (save it first)")
    return f"{meta.app_label}.{meta.model_name}", str(target.pk)


# --- Hashing ----------------------------------------------------------------------------------------------


def canonical_json(values: Mapping[str, Any]) -> bytes:
    """The bytes that are hashed: the content fields and prev_hash as JSON with sorted keys, in UTF-8."""
    payload = {name: values[name] for name in HASHED_FIELDS}
    payload["at"] = _utc_timestamp(values["at"])
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def entry_hash(values: Mapping[str, Any]) -> str:
    """Hex SHA-256 of an entry's canonical JSON (`values` maps every name in HASHED_FIELDS)."""
    return hashlib.sha256(canonical_json(values)).hexdigest()


def _utc_timestamp(value: datetime) -> str:
    if timezone.is_naive(value):
        raise ValueError("audit timestamps must be aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _values_of(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


# --- Verifying --------------------------------------------------------------------------------------------


class Problem(enum.StrEnum):
    CONTENT_ALTERED = "content_altered"
    CHAIN_BROKEN = "chain_broken"
    ENTRY_MISSING = "entry_missing"
    UNGUARDED = "unguarded"


# The triggers migration 0002 installs; verify_chain() reports any that is missing or disabled.
GUARD_TRIGGERS = {
    "postgresql": ("core_auditentry_no_update_delete", "core_auditentry_no_truncate"),
    "sqlite": ("core_auditentry_no_update", "core_auditentry_no_delete"),
}


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str = ""
    problem: Problem | None = None
    first_bad_at: datetime | None = None
    head_id: int | None = None
    head_hash: str = ""


def verify_chain(
    *, batch_size: int = 5000, anchor: tuple[int, str] | None = None, using: str | None = None
) -> VerifyResult:
    """Walk the whole log in order, recompute every hash and check every link; stop at the first problem.

    Reads in keyset-paginated batches, so memory stays flat however long the log is. `anchor` is an entry
    (sequence, hash) written down earlier, for instance the head printed by a previous run: if the log no
    longer reaches it or it has another hash, the tail was removed or the chain rewritten from there on.
    """
    using = using or router.db_for_read(AuditEntry)
    columns = (*HASHED_FIELDS, "hash")
    rows_after = AuditEntry.objects.using(using).order_by("sequence").values(*columns)
    checked, last_sequence, prev_hash = 0, 0, GENESIS_HASH
    while batch := list(rows_after.filter(sequence__gt=last_sequence)[:batch_size]):
        for row in batch:
            sequence = row["sequence"]
            problem, reason = _check_entry(row, last_sequence, prev_hash)
            if problem is None and anchor is not None and sequence == anchor[0] and row["hash"] != anchor[1]:
                problem = Problem.CONTENT_ALTERED
                reason = _("content altered: the hash differs from the anchor written down earlier")
            if problem is not None:
                return VerifyResult(
                    ok=False,
                    checked=checked,
                    first_bad_id=sequence,
                    first_bad_at=row["at"],
                    problem=problem,
                    reason=reason,
                )
            checked, last_sequence, prev_hash = checked + 1, sequence, row["hash"]
    if anchor is not None and anchor[0] > last_sequence:
        return VerifyResult(
            ok=False,
            checked=checked,
            first_bad_id=anchor[0],
            problem=Problem.ENTRY_MISSING,
            reason=_("entry missing: the log ends at #%(head)s but the anchor #%(anchor)s was recorded")
            % {"head": last_sequence, "anchor": anchor[0]},
        )
    head_id, head_hash = (last_sequence, prev_hash) if checked else (None, "")
    if missing := missing_guards(using=using):
        return VerifyResult(
            ok=False,
            checked=checked,
            problem=Problem.UNGUARDED,
            reason=_("the append-only triggers are missing or disabled: %(names)s")
            % {"names": ", ".join(missing)},
            head_id=head_id,
            head_hash=head_hash,
        )
    return VerifyResult(ok=True, checked=checked, head_id=head_id, head_hash=head_hash)


def missing_guards(*, using: str | None = None) -> list[str]:
    """The append-only triggers that are missing from the audit table or disabled; empty when all is well."""
    connection = connections[using or router.db_for_write(AuditEntry)]
    expected = GUARD_TRIGGERS.get(connection.vendor)
    if expected is None:
        raise NotSupportedError(f"the audit log supports PostgreSQL and SQLite, not {connection.vendor}")
    table = AuditEntry._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND tgenabled IN ('O', 'A')",
                [table],
            )
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in expected if name not in present]


def _check_entry(row: Mapping[str, Any], last_sequence: int, prev_hash: str) -> tuple[Problem | None, str]:
    sequence = row["sequence"]
    if sequence != last_sequence + 1:
        return Problem.ENTRY_MISSING, _(
            "entry missing: #%(first)s to #%(last)s were deleted before this entry"
        ) % {"first": last_sequence + 1, "last": sequence - 1}
    if entry_hash(row) != row["hash"]:
        return Problem.CONTENT_ALTERED, _("content altered: the entry does not match its hash")
    if row["prev_hash"] != prev_hash:
        if last_sequence == 0:
            return Problem.CHAIN_BROKEN, _(
                "chain broken: the first entry does not start from the genesis hash"
            )
        return Problem.CHAIN_BROKEN, _(
            "chain broken: its previous hash is not the hash of entry #%(previous)s"
        ) % {"previous": last_sequence}
    return None, ""
