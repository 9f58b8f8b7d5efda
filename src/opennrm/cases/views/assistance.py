"""Placeholder: being written."""

from django.http import Http404, HttpRequest, HttpResponse


def plan_complete(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def attachment_download(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def compensation_pay(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def plan_add(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def note_add(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def attachment_add(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def compensation_approve(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def close(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def reopen(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404

