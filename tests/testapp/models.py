from django.db import models

from opennrm.core.fields import (
    EncryptedCharField,
    EncryptedDateField,
    EncryptedFileField,
    EncryptedJSONField,
    EncryptedTextField,
)
from opennrm.core.models import BaseModel


class Secretive(BaseModel):
    """A model with every kind of encrypted field, for the encryption tests."""

    name = EncryptedCharField(max_length=200)
    notes = EncryptedTextField(blank=True)
    born_on = EncryptedDateField(null=True, blank=True)
    contacts = EncryptedJSONField(null=True, blank=True)
    document = EncryptedFileField(blank=True)
    name_index = models.CharField(max_length=32, blank=True, db_index=True)
    plain = models.CharField(max_length=50, blank=True)
