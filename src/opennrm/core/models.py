"""Base model pieces shared by every app, and the core's own models."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from typing import NoReturn

from django.db import models
from django.utils.translation import gettext_lazy as _


def new_public_id() -> str:
    """An opaque, unguessable identifier for URLs (100 random bits, base32, lower case)."""
    return base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class PublicIdModel(models.Model):
    """Every row a URL can name carries an opaque public id; primary keys never leave the database."""

    public_id = models.CharField(
        _("public id"), max_length=24, unique=True, default=new_public_id, editable=False
    )

    class Meta:
        abstract = True


class BaseModel(PublicIdModel, TimeStampedModel):
    class Meta:
        abstract = True


# --- Audit log ------------------------------------------------------------------------------------------
# Entries are written only by `opennrm.core.audit.record()`, which numbers and hash-chains them. The table is
# append-only: the model, its queryset and database triggers (migration 0002) all refuse updates and deletes.


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an audit entry."""


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: object) -> NoReturn:
        raise AppendOnlyError("audit entries cannot be updated")

    def _update(self, values: object) -> NoReturn:  # used by Model.save() and bulk_update()
        raise AppendOnlyError("audit entries cannot be updated")

    def bulk_update(self, objs: object, fields: object, batch_size: int | None = None) -> NoReturn:
        raise AppendOnlyError("audit entries cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit entries cannot be deleted")

    def _raw_delete(self, using: str | None) -> NoReturn:
        raise AppendOnlyError("audit entries cannot be deleted")

    def bulk_create(
        self,
        objs: Iterable[AuditEntry],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_conflicts: bool = False,
        update_fields: Iterable[str] | None = None,
        unique_fields: Iterable[str] | None = None,
    ) -> NoReturn:
        raise AppendOnlyError("audit entries are written one at a time by opennrm.core.audit.record()")


class AuditEntry(models.Model):
    """One line of the append-only, hash-chained audit log.

    No foreign keys: the log outlives the users, agencies and records it names, which it refers to by public
    id. `details` is small and never holds identifying values (names, dates of birth, document numbers,
    free text); `fields` names the fields that were read, never their values.
    """

    sequence = models.BigIntegerField(_("sequence"), primary_key=True, editable=False)
    at = models.DateTimeField(_("time"), editable=False)
    actor = models.CharField(_("actor"), max_length=64, blank=True, editable=False)
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True, editable=False)
    agency = models.CharField(_("agency"), max_length=64, blank=True, editable=False)
    action = models.CharField(_("action"), max_length=100, editable=False)
    target_type = models.CharField(_("target type"), max_length=100, blank=True, editable=False)
    target_id = models.CharField(_("target id"), max_length=64, blank=True, editable=False)
    request_id = models.CharField(_("request id"), max_length=64, blank=True, editable=False)
    fields = models.JSONField(_("fields read"), default=list, blank=True, editable=False)
    details = models.JSONField(_("details"), default=dict, blank=True, editable=False)
    prev_hash = models.CharField(_("previous hash"), max_length=64, editable=False)
    hash = models.CharField(_("hash"), max_length=64, editable=False)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="core_audit_target_idx"),
            models.Index(fields=["actor", "at"], name="core_audit_actor_idx"),
            models.Index(fields=["at"], name="core_audit_at_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action}"

    def save(
        self,
        *,
        force_insert: bool | tuple[models.base.ModelBase, ...] = False,
        force_update: bool = False,
        using: str | None = None,
        update_fields: Iterable[str] | None = None,
    ) -> None:
        if not self._state.adding or force_update or update_fields is not None:
            raise AppendOnlyError("audit entries cannot be updated")
        if len(self.hash) != 64 or len(self.prev_hash) != 64:
            raise AppendOnlyError("audit entries are written by opennrm.core.audit.record()")
        super().save(force_insert=True, using=using)

    def delete(self, using: str | None = None, keep_parents: bool = False) -> NoReturn:
        raise AppendOnlyError("audit entries cannot be deleted")


class Alert(BaseModel):
    """A message for one user in the app (overdue decisions, shelter stays ending ...). No identifying data:
    it names a case by its reference and links to it; the link still goes through the case's access check."""

    recipient = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="alerts", verbose_name=_("recipient")
    )
    kind = models.CharField(_("kind"), max_length=48)
    params = models.JSONField(_("details"), default=dict, blank=True)
    url = models.CharField(_("link"), max_length=200, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="core_alert_inbox_idx")]

    def __str__(self) -> str:
        return self.kind

    @property
    def text(self) -> str:
        """The message in the reader's language (templates per kind live in `core.alerts`)."""
        from opennrm.core.alerts import render

        return render(self.kind, self.params)
