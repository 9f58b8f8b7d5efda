"""Encrypted model fields. The database holds only ciphertext (see `opennrm.core.crypto`).

Encrypted columns cannot be filtered or ordered on (only `isnull`): search goes through blind indexes.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression
from django.utils.translation import gettext_lazy as _

from opennrm.core.crypto import DecryptionError, decrypt_text, encrypt_text
from opennrm.core.storage import EncryptedFileSystemStorage, random_upload_name


class EncryptedMixin:
    """Turns a field's Python value into ciphertext on the way to the database, and back."""

    encrypted = True
    name: str
    model: type[models.Model]

    def encryption_context(self) -> str:
        return f"{self.model._meta.app_label}.{self.model._meta.model_name}.{self.name}"

    def to_plaintext(self, value: Any) -> str:
        raise NotImplementedError

    def from_plaintext(self, text: str) -> Any:
        raise NotImplementedError

    def get_internal_type(self) -> str:
        return "TextField"

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        value = self.to_python(value)  # type: ignore[attr-defined]
        if value is None:
            return None
        return encrypt_text(self.to_plaintext(value), context=self.encryption_context())

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> Any:
        if value is None:
            return None
        try:
            return self.from_plaintext(decrypt_text(value, context=self.encryption_context()))
        except DecryptionError as exc:
            raise DecryptionError(f"{self.encryption_context()}: {exc}") from exc

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise FieldError(
                f"{self.encryption_context()} is encrypted: filter through its blind index, not with {lookup_name!r}"
            )
        return super().get_lookup(lookup_name)  # type: ignore[misc]


class EncryptedTextField(EncryptedMixin, models.TextField):
    description = _("Encrypted text")

    def to_plaintext(self, value: Any) -> str:
        return str(value)

    def from_plaintext(self, text: str) -> str:
        return text


class EncryptedCharField(EncryptedTextField):
    """Encrypted short text; `max_length` is enforced on the plaintext by forms and `full_clean`."""

    description = _("Encrypted short text")

    def formfield(self, **kwargs: Any) -> Any:
        from django import forms

        defaults: dict[str, Any] = {"max_length": self.max_length, "form_class": forms.CharField}
        defaults.update(kwargs)
        return super().formfield(**defaults)


class EncryptedDateField(EncryptedMixin, models.DateField):
    description = _("Encrypted date")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("auto_now") or kwargs.get("auto_now_add"):
            raise ValueError("An encrypted date cannot be automatic")
        super().__init__(*args, **kwargs)

    def get_internal_type(self) -> str:
        return "TextField"

    def to_plaintext(self, value: dt.date) -> str:
        return value.isoformat()

    def from_plaintext(self, text: str) -> dt.date:
        return dt.date.fromisoformat(text)

    def get_db_prep_value(self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False) -> Any:
        return value if prepared else self.get_prep_value(value)

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        return models.TextField().db_type(connection)


class EncryptedJSONField(EncryptedMixin, models.TextField):
    """Encrypted JSON (lists of other names, contacts, addresses ...)."""

    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    description = _("Encrypted JSON")

    def to_python(self, value: Any) -> Any:
        return value

    def to_plaintext(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    def from_plaintext(self, text: str) -> Any:
        return json.loads(text)

    def validate(self, value: Any, model_instance: models.Model | None) -> None:
        try:
            json.dumps(value)
        except TypeError as exc:
            raise ValidationError(_("This value cannot be stored as JSON.")) from exc
        super().validate(value, model_instance)


encrypted_storage = EncryptedFileSystemStorage()


class EncryptedFileField(models.FileField):
    """A file encrypted with the keyring before it touches the disk, stored under a random name."""

    encrypted = True
    description = _("Encrypted file")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("storage", encrypted_storage)
        kwargs.setdefault("upload_to", random_upload_name)
        kwargs.setdefault("max_length", 200)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("storage", None)
        kwargs.pop("upload_to", None)
        return name, path, args, kwargs


def encrypted_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if getattr(f, "encrypted", False)]
