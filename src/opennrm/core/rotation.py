"""Key rotation without downtime.

1. A new key is added to the ring and made active (the file is replaced atomically; every process reloads it on
   its next encryption or decryption), so new writes use it at once and old ciphertexts stay readable.
2. Every encrypted column and file is re-encrypted in batches, each batch its own short transaction. A row is
   rewritten only if it still holds the ciphertext that was read (compare-and-swap), so a concurrent edit by the
   application is never overwritten.
3. Once nothing is left under an old key, the key can be retired from the ring (`--retire`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import connection, transaction

from opennrm.core.crypto import get_keyring
from opennrm.core.fields import EncryptedFileField, encrypted_fields


@dataclass
class RotationReport:
    active_id: str
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    remaining: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _columns() -> list[tuple[str, str, str, str, str]]:
    """(label, table, pk column, column, context) for every encrypted text column of every installed model."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for f in encrypted_fields(model):
            if isinstance(f, EncryptedFileField):
                continue
            label = f"{model._meta.label}.{f.name}"
            pk_column = str(model._meta.pk.column)
            context = f.encryption_context()  # type: ignore[attr-defined]
            found.append((label, model._meta.db_table, pk_column, str(f.column), context))
    return found


def reencrypt_all(*, batch_size: int = 500, progress: Callable[[str], None] | None = None) -> RotationReport:
    keyring = get_keyring()
    prefix = f"v1:{keyring.active_id}:"
    report = RotationReport(active_id=keyring.active_id)
    qn = connection.ops.quote_name
    for label, table, pk, column, context in _columns():
        done = 0
        last_pk = None
        while True:
            where = f"{qn(column)} IS NOT NULL AND {qn(column)} NOT LIKE %s"
            params: list[Any] = [prefix + "%"]
            if last_pk is not None:
                where += f" AND {qn(pk)} > %s"
                params.append(last_pk)
            with connection.cursor() as cur:
                cur.execute(
                    f"SELECT {qn(pk)}, {qn(column)} FROM {qn(table)} WHERE {where} ORDER BY {qn(pk)} LIMIT %s",  # noqa: S608
                    [*params, batch_size],
                )
                rows = cur.fetchall()
            if not rows:
                break
            with transaction.atomic(), connection.cursor() as cur:
                for row_pk, token in rows:
                    fresh = keyring.encrypt(keyring.decrypt(token, context=context), context=context)
                    cur.execute(
                        f"UPDATE {qn(table)} SET {qn(column)} = %s WHERE {qn(pk)} = %s AND {qn(column)} = %s",  # noqa: S608
                        [fresh, row_pk, token],
                    )
                    done += cur.rowcount
            last_pk = rows[-1][0]
            if progress:
                progress(f"{label}: {done} re-encrypted")
        report.rows[label] = done
    for model in apps.get_models():
        for f in encrypted_fields(model):
            if not isinstance(f, EncryptedFileField):
                continue
            names = model._base_manager.exclude(**{f.name: ""}).values_list(f.name, flat=True).iterator()
            for name in names:
                if name and f.storage.reencrypt(name):  # type: ignore[attr-defined]
                    report.files += 1
    report.remaining = count_under_old_keys()
    return report


def count_under_old_keys() -> dict[str, int]:
    """How many values per column are still encrypted under a key other than the active one."""
    prefix = f"v1:{get_keyring().active_id}:"
    qn = connection.ops.quote_name
    remaining: dict[str, int] = {}
    with connection.cursor() as cur:
        for label, table, _pk, column, _context in _columns():
            cur.execute(
                f"SELECT COUNT(*) FROM {qn(table)} WHERE {qn(column)} IS NOT NULL AND {qn(column)} NOT LIKE %s",  # noqa: S608
                [prefix + "%"],
            )
            count = cur.fetchone()[0]
            if count:
                remaining[label] = count
    return remaining


def keys_in_use() -> set[str]:
    """Key ids that some stored value still needs (text columns and files)."""
    qn = connection.ops.quote_name
    used: set[str] = set()
    keyring = get_keyring()
    with connection.cursor() as cur:
        for _label, table, _pk, column, _context in _columns():
            for key_id in keyring.keys:
                cur.execute(
                    f"SELECT 1 FROM {qn(table)} WHERE {qn(column)} LIKE %s LIMIT 1",  # noqa: S608
                    [f"v1:{key_id}:%"],
                )
                if cur.fetchone():
                    used.add(key_id)
    for model in apps.get_models():
        for f in encrypted_fields(model):
            if isinstance(f, EncryptedFileField):
                for name in (
                    model._base_manager.exclude(**{f.name: ""}).values_list(f.name, flat=True).iterator()
                ):
                    if name:
                        used.add(f.storage.key_id(name))  # type: ignore[attr-defined]
    return used
