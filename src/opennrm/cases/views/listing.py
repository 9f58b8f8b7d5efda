"""Placeholder: being written."""

from django.http import Http404, HttpRequest, HttpResponse


def case_list(request: HttpRequest, public_id: str = "") -> HttpResponse:
    raise Http404

