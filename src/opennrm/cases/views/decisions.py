"""Placeholder: being written."""

from django.http import Http404, HttpRequest, HttpResponse


def queue(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def decide(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def request_decision(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404


def appeal(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404

