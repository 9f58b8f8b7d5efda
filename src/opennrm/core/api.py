"""API helpers shared by every app."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Forbidden looks like missing: a permission refusal on an object answers 404, like a missing one.

    Authentication failures still answer 401 (the client must know to log in); a role that lacks a
    permission for a whole endpoint gets 403 with no detail about any object.
    """
    if isinstance(exc, PermissionDenied | exceptions.PermissionDenied) and context.get("kwargs"):
        exc = Http404()
    return drf_exception_handler(exc, context)
