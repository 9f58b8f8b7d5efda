"""The audit log: entries chain and verify, tampering is detected, and nothing can be changed or removed."""

from __future__ import annotations

import importlib
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory
from django.urls import path

from opennrm.accounts.models import Agency
from opennrm.accounts.tests.factories import AgencyFactory, UserFactory
from opennrm.core import audit
from opennrm.core.admin_audit import AuditedModelAdmin
from opennrm.core.context import agency_var, request_id_var
from opennrm.core.models import AppendOnlyError, AuditEntry

TABLE = AuditEntry._meta.db_table
triggers_migration = importlib.import_module("opennrm.core.migrations.0002_audit_append_only_triggers")


@dataclass
class FakeUser:
    public_id: str
    username: str

    def get_username(self) -> str:
        return self.username


ALICE = FakeUser(public_id="alicepublicid000000000000", username="alice")


@contextmanager
def owner_rights() -> Iterator[None]:
    """Act as someone with the table owner's rights: switch the append-only triggers off, then on again."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        else:
            for statement in triggers_migration.SQLITE_REMOVE:
                cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
            else:
                for statement in triggers_migration.SQLITE_INSTALL:
                    cursor.execute(statement)


def tamper(sql: str, params: list[object]) -> None:
    with owner_rights(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def record_several(count: int) -> list[AuditEntry]:
    return [
        audit.record(actor=ALICE if n % 2 else None, action="case.viewed", details={"n": n})
        for n in range(count)
    ]


def verify_fails() -> tuple[str, str]:
    """Run `manage.py verify_audit`, expect it to fail, and return (error message, output)."""
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit", stdout=out)
    return str(failure.value), out.getvalue()


# --- Writing and verifying ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_entries_form_a_chain_that_verifies() -> None:
    first, second, third = record_several(3)

    assert [e.sequence for e in (first, second, third)] == [1, 2, 3]
    assert first.prev_hash == audit.GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert (first.actor, first.actor_name) == ("", "")
    assert (second.actor, second.actor_name) == (ALICE.public_id, "alice")

    result = audit.verify_chain()
    assert result.ok
    assert (result.checked, result.head_id, result.head_hash) == (3, 3, third.hash)

    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert f"Verified 3 audit entries. Head: #3 {third.hash}" in out.getvalue()


@pytest.mark.django_db
def test_verify_walks_many_batches() -> None:
    entries = record_several(12)

    result = audit.verify_chain(batch_size=5)

    assert result.ok
    assert (result.checked, result.head_hash) == (12, entries[-1].hash)


@pytest.mark.django_db
def test_hash_covers_every_content_field_with_a_canonical_timestamp() -> None:
    entry = record_several(1)[0]
    stored = AuditEntry.objects.values(*audit.HASHED_FIELDS).get(sequence=entry.sequence)

    canonical = json.loads(audit.canonical_json(stored))

    assert set(canonical) == set(audit.HASHED_FIELDS)
    assert canonical["at"] == entry.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert audit.entry_hash(stored) == entry.hash


@pytest.mark.django_db
def test_entry_records_actor_agency_request_id_and_fields_read() -> None:
    user = UserFactory(username="officer7")
    agency = AgencyFactory()
    request_token = request_id_var.set("req-1234567890")
    agency_token = agency_var.set(agency.public_id)
    try:
        entry = audit.record_read(actor=user, target=agency, fields=["name", "short_name", "name"])
    finally:
        request_id_var.reset(request_token)
        agency_var.reset(agency_token)

    stored = AuditEntry.objects.get(sequence=entry.sequence)
    assert stored.action == "accounts.agency.read"
    assert (stored.actor, stored.actor_name) == (user.public_id, "officer7")
    assert stored.agency == agency.public_id
    assert (stored.target_type, stored.target_id) == ("accounts.agency", agency.public_id)
    assert stored.request_id == "req-1234567890"
    assert stored.fields == ["name", "short_name"]
    assert audit.verify_chain().ok


@pytest.mark.django_db
def test_explicit_agency_wins_over_the_request_agency() -> None:
    agency = AgencyFactory()
    token = agency_var.set("someotheragency")
    try:
        entry = audit.record(actor=None, action="report.exported", agency=agency)
    finally:
        agency_var.reset(token)
    assert entry.agency == agency.public_id


@pytest.mark.django_db
def test_an_entry_rolled_back_with_its_transaction_leaves_no_gap() -> None:
    record_several(1)
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(actor=None, action="case.created")
        raise RuntimeError("the act failed after it was recorded")
    last = audit.record(actor=None, action="case.created")

    assert last.sequence == 2
    assert audit.verify_chain().ok


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"action": "Case Viewed"}, ValueError),
        ({"action": "case"}, ValueError),
        ({"action": "case.viewed", "fields": "name"}, TypeError),
        ({"action": "case.viewed", "fields": ["first name"]}, ValueError),
        ({"action": "case.viewed", "details": {"score": 0.5}}, TypeError),
        ({"action": "case.viewed", "details": {"note": "x" * 5000}}, ValueError),
    ],
)
@pytest.mark.django_db
def test_malformed_entries_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        audit.record(actor=None, **kwargs)  # type: ignore[arg-type]
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_an_anonymous_user_is_not_taken_for_the_system() -> None:
    with pytest.raises(ValueError, match="anonymous"):
        audit.record(actor=AnonymousUser(), action="case.viewed")  # type: ignore[arg-type]
    assert not AuditEntry.objects.exists()


# --- Tampering is detected ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [("action", "case.closed"), ("actor", "someoneelse"), ("target_id", "anothercase"), ("request_id", "x")],
)
@pytest.mark.django_db
def test_verify_names_the_first_altered_entry(column: str, value: str) -> None:
    record_several(4)
    tamper(f"UPDATE {TABLE} SET {column} = %s WHERE sequence = %s", [value, 2])  # noqa: S608

    message, output = verify_fails()

    assert message.startswith("Audit entry #2 at ")
    assert "content altered" in message
    assert "1 audit entries verified before the first problem" in output
    result = audit.verify_chain()
    assert (result.ok, result.first_bad_id, result.problem) == (False, 2, audit.Problem.CONTENT_ALTERED)


@pytest.mark.django_db
def test_an_altered_entry_with_a_recomputed_hash_breaks_the_link_to_the_next() -> None:
    record_several(4)
    forged = AuditEntry.objects.values(*audit.HASHED_FIELDS).get(sequence=2)
    forged["action"] = "case.closed"
    tamper(
        f"UPDATE {TABLE} SET action = %s, hash = %s WHERE sequence = %s",  # noqa: S608
        ["case.closed", audit.entry_hash(forged), 2],
    )

    message, _output = verify_fails()

    assert message.startswith("Audit entry #3 at ")
    assert "chain broken" in message
    assert "entry #2" in message


@pytest.mark.django_db
def test_verify_reports_a_deleted_middle_entry_as_missing() -> None:
    record_several(5)
    tamper(f"DELETE FROM {TABLE} WHERE sequence = %s", [3])  # noqa: S608

    message, output = verify_fails()

    assert message.startswith("Audit entry #4 at ")
    assert "entry missing: #3 to #3" in message
    assert "2 audit entries verified before the first problem" in output


@pytest.mark.django_db
def test_verify_reports_a_deleted_first_entry_as_missing() -> None:
    record_several(3)
    tamper(f"DELETE FROM {TABLE} WHERE sequence = %s", [1])  # noqa: S608

    message, _output = verify_fails()

    assert message.startswith("Audit entry #2 at ")
    assert "entry missing" in message


@pytest.mark.django_db
def test_an_anchor_catches_a_removed_tail() -> None:
    entries = record_several(3)
    anchor = f"{entries[-1].sequence}:{entries[-1].hash}"
    call_command("verify_audit", anchor=anchor, stdout=io.StringIO())
    tamper(f"DELETE FROM {TABLE} WHERE sequence = %s", [3])  # noqa: S608

    assert audit.verify_chain().ok  # without an anchor a removed tail cannot be told from a shorter log
    with pytest.raises(CommandError, match=r"Audit entry #3: entry missing: the log ends at #2"):
        call_command("verify_audit", anchor=anchor, stdout=io.StringIO())


@pytest.mark.django_db
def test_verify_fails_while_the_append_only_triggers_are_off() -> None:
    record_several(2)
    with owner_rights():
        message, output = verify_fails()
    assert "append-only triggers are missing or disabled" in message
    assert "2 audit entries verified" in output
    assert audit.verify_chain().ok


# --- Nothing can be changed or removed ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_orm_refuses_to_change_or_remove_entries() -> None:
    entry = record_several(2)[0]
    attempts = [
        lambda: AuditEntry.objects.filter(sequence=entry.sequence).update(action="case.closed"),
        lambda: AuditEntry.objects.filter(sequence=entry.sequence).delete(),
        lambda: AuditEntry.objects.all().delete(),
        lambda: AuditEntry.objects.bulk_update([entry], ["action"]),
        lambda: AuditEntry.objects.get(sequence=entry.sequence).delete(),
        lambda: AuditEntry.objects.bulk_create([AuditEntry(action="case.closed")]),
    ]
    for attempt in attempts:
        with pytest.raises(AppendOnlyError):
            attempt()

    stored = AuditEntry.objects.get(sequence=entry.sequence)
    stored.action = "case.closed"
    with pytest.raises(AppendOnlyError):
        stored.save()
    with pytest.raises(AppendOnlyError):
        AuditEntry(sequence=99, action="case.closed", at=entry.at).save()  # not sealed by record()

    assert AuditEntry.objects.get(sequence=entry.sequence).action == "case.viewed"
    assert AuditEntry.objects.count() == 2
    assert audit.verify_chain().ok


@pytest.mark.django_db
def test_the_database_refuses_raw_updates_and_deletes() -> None:
    entry = record_several(2)[0]
    statements = [
        (f"UPDATE {TABLE} SET action = %s WHERE sequence = %s", ["case.closed", entry.sequence]),  # noqa: S608
        (f"DELETE FROM {TABLE} WHERE sequence = %s", [entry.sequence]),  # noqa: S608
        (f"DELETE FROM {TABLE}", []),  # noqa: S608
    ]
    if connection.vendor == "postgresql":
        statements.append((f"TRUNCATE {TABLE}", []))
    for sql, params in statements:
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql, params)

    assert AuditEntry.objects.get(sequence=entry.sequence).action == "case.viewed"
    assert AuditEntry.objects.count() == 2
    assert audit.verify_chain().ok


# --- Concurrency --------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain() -> None:
    threads, per_thread = 4, 10
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                audit.record(actor=None, action="case.viewed", details={"thread": n, "i": i})
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

        assert errors == []
        result = audit.verify_chain()
        assert result.ok
        assert result.checked == threads * per_thread
    finally:
        # The test database is emptied between transactional tests; only the owner may empty this table.
        with owner_rights(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608


# --- The admin ----------------------------------------------------------------------------------------------


class AgencyAdmin(AuditedModelAdmin):
    fields = ["name", "short_name", "kind", "country", "region", "is_active", "public_id"]
    readonly_fields = ["public_id"]


test_site = admin.AdminSite(name="audit_test_admin")
test_site.register(Agency, AgencyAdmin)
urlpatterns = [path("audit-admin/", test_site.urls)]


def admin_request(user: object, method: str = "get", data: dict[str, str] | None = None) -> object:
    request = getattr(RequestFactory(), method)("/audit-admin/", data or {})
    request.user = user
    request._dont_enforce_csrf_checks = True
    request._messages = CookieStorage(request)
    return request


@pytest.fixture
def superuser() -> object:
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_admin_change_form_view_is_recorded_as_a_read_of_field_names(superuser: object) -> None:
    agency = AgencyFactory(name="Safe House Tbilisi")
    model_admin = test_site.get_model_admin(Agency)

    response = model_admin.change_view(admin_request(superuser), str(agency.pk))

    assert response.status_code == 200
    entry = AuditEntry.objects.get()
    assert entry.action == "accounts.agency.read"
    assert (entry.actor, entry.target_id) == (superuser.public_id, agency.public_id)
    assert set(entry.fields) == {"name", "short_name", "kind", "country", "region", "is_active", "public_id"}
    assert "Safe House" not in audit.canonical_json(AuditEntry.objects.values().get()).decode()


@pytest.mark.urls(__name__)
@pytest.mark.django_db
def test_admin_change_and_delete_are_recorded_with_field_names_only(superuser: object) -> None:
    agency = AgencyFactory(name="Old Name Shelter", country="GE", region="GE-TB")
    model_admin = test_site.get_model_admin(Agency)
    data = {
        "name": "New Name Shelter",
        "short_name": "",
        "kind": agency.kind,
        "country": "GE",
        "region": "GE-TB",
    }
    data["is_active"] = "on"

    changed = model_admin.change_view(admin_request(superuser, "post", data), str(agency.pk))
    assert changed.status_code == 302
    agency.refresh_from_db()
    assert agency.name == "New Name Shelter"

    deleted = model_admin.delete_view(admin_request(superuser, "post", {"post": "yes"}), str(agency.pk))
    assert deleted.status_code == 302
    assert not Agency.objects.filter(pk=agency.pk).exists()

    change_entry, delete_entry = AuditEntry.objects.order_by("sequence")
    assert change_entry.action == "accounts.agency.changed"
    assert change_entry.details == {"via": "admin", "changed": ["name"]}
    assert (change_entry.actor, change_entry.target_id) == (superuser.public_id, agency.public_id)
    assert delete_entry.action == "accounts.agency.deleted"
    assert delete_entry.target_id == agency.public_id
    log = json.dumps(list(AuditEntry.objects.values()), default=str)
    assert "Name Shelter" not in log
    assert audit.verify_chain().ok
