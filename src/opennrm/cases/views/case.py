"""Placeholder: being written."""

from django.http import Http404, HttpRequest, HttpResponse


def detail(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def edit(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def identity(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def identity_edit(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def consent(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def timeline(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404

