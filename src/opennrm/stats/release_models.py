"""Public releases: an immutable, versioned record of what was published and with which parameters.

Imported at the end of `opennrm.stats.models` (its models belong to the `stats` app).

**Immutable.** A release and its files are written once, by `opennrm.stats.release.create_release`, in one
transaction, and never changed or removed afterwards: `save()` of an existing row, `delete()`, and the
querysets' `update()`, `delete()` and `bulk_update()` all raise `ReleaseImmutableError`. What was published
stays exactly what was published; a mistake is corrected by a new release (a new version), which the list
shows beside the old one. The guard is in the application, like the audit log's model guard; the database
itself does not refuse (no triggers), so someone with direct database access can still change rows — the
content hash published with every release (SHA-256 of its file manifest) lets anyone check a copy they
downloaded against the page.

Published data is public by design: files are stored in clear (a BinaryField), never anything identifying.
The user who created a release is kept for the audit trail and never shown on the public pages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from opennrm.core.models import BaseModel

__all__ = ["Release", "ReleaseFile", "ReleaseImmutableError", "ReleaseKind", "manifest_hash", "plain_number"]


class ReleaseImmutableError(Exception):
    """Raised when code tries to change or remove a published release or one of its files."""


class ReleaseKind(models.TextChoices):
    K_ANONYMOUS = "k_anonymous", _("k-anonymous tables")
    DIFFERENTIALLY_PRIVATE = "differentially_private", _("Differentially private counts")
    SYNTHETIC = "synthetic", _("Synthetic microdata")


class _ImmutableQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: object) -> NoReturn:
        raise ReleaseImmutableError("published releases cannot be changed")

    def _update(self, values: object) -> NoReturn:  # Model.save() of an existing row, bulk_update()
        raise ReleaseImmutableError("published releases cannot be changed")

    def bulk_update(self, objs: object, fields: object, batch_size: int | None = None) -> NoReturn:
        raise ReleaseImmutableError("published releases cannot be changed")

    def delete(self) -> NoReturn:
        raise ReleaseImmutableError("published releases cannot be deleted")

    def _raw_delete(self, using: str | None) -> NoReturn:
        raise ReleaseImmutableError("published releases cannot be deleted")


class _WriteOnce(models.Model):
    class Meta:
        abstract = True

    def save(
        self,
        *,
        force_insert: bool | tuple[models.base.ModelBase, ...] = False,
        force_update: bool = False,
        using: str | None = None,
        update_fields: Iterable[str] | None = None,
    ) -> None:
        if not self._state.adding or force_update or update_fields is not None:
            raise ReleaseImmutableError("published releases cannot be changed")
        super().save(force_insert=True, using=using)

    def delete(self, using: str | None = None, keep_parents: bool = False) -> NoReturn:
        raise ReleaseImmutableError("published releases cannot be deleted")


class Release(_WriteOnce, BaseModel):
    version = models.PositiveIntegerField(_("version"), unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=24, choices=ReleaseKind.choices, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("published by"),
    )
    year_from = models.PositiveSmallIntegerField(_("from year"), editable=False)
    year_to = models.PositiveSmallIntegerField(_("to year"), editable=False)
    # k, epsilon, delta, mechanism, tables (with their categories), years, accounting: see release.py.
    parameters = models.JSONField(_("parameters"), default=dict, editable=False)
    content_hash = models.CharField(_("content hash (SHA-256)"), max_length=64, editable=False)

    objects = _ImmutableQuerySet.as_manager()

    class Meta:
        verbose_name = _("public release")
        verbose_name_plural = _("public releases")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version}"

    @property
    def epsilon(self) -> float | None:
        value = self.parameters.get("epsilon")
        return float(value) if value is not None else None

    @property
    def delta(self) -> float | None:
        value = self.parameters.get("delta")
        return float(value) if value is not None else None

    @property
    def epsilon_text(self) -> str:
        return plain_number(self.epsilon)

    @property
    def delta_text(self) -> str:
        return plain_number(self.delta)

    @property
    def k(self) -> int | None:
        value = self.parameters.get("k")
        return int(value) if value is not None else None


class ReleaseFile(_WriteOnce, models.Model):
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="files", editable=False)
    name = models.CharField(_("file name"), max_length=100, editable=False)
    content_type = models.CharField(_("type"), max_length=100, editable=False)
    content = models.BinaryField(_("content"), editable=False)
    size = models.PositiveIntegerField(_("size (bytes)"), editable=False)
    sha256 = models.CharField(_("SHA-256"), max_length=64, editable=False)

    objects = _ImmutableQuerySet.as_manager()

    class Meta:
        verbose_name = _("release file")
        verbose_name_plural = _("release files")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["release", "name"], name="stats_release_file_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


def plain_number(value: float | None) -> str:
    """A privacy parameter as people read it: 0.5, 0.000001 (never 1e-06); empty for None."""
    if value is None:
        return ""
    text = format(Decimal(repr(float(value))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def manifest_hash(files: Iterable[tuple[str, bytes]]) -> str:
    """SHA-256 of the manifest `<sha256 of file>  <name>` (one line per file, sorted by name), as `sha256sum`
    prints it: anyone can recompute it from the downloaded files."""
    lines = [f"{hashlib.sha256(content).hexdigest()}  {name}\n" for name, content in sorted(files)]
    return hashlib.sha256("".join(lines).encode()).hexdigest()
