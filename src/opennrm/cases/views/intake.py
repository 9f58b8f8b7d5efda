"""Placeholder: being written."""

from django.http import Http404, HttpRequest, HttpResponse


def refer(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def duplicates(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def notify(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404

