"""Placeholder: being written."""

from django.http import Http404, HttpRequest, HttpResponse


def screen(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def preview(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404

