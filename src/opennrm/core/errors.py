from __future__ import annotations

from django.core.exceptions import ValidationError


class DomainError(ValidationError):
    """A rule of the mechanism refused an act. The message is translated and shown to the user as is;
    the act changed nothing (services raise it before writing, inside their transaction)."""


class ConcurrentEditError(DomainError):
    """Someone else saved the record since it was loaded (optimistic locking)."""
