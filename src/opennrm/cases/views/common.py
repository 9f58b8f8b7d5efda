from __future__ import annotations

from django.http import Http404, HttpRequest

from opennrm.accounts.access import Access, request_access
from opennrm.accounts.roles import Perm
from opennrm.cases.models import Case
from opennrm.cases.selectors import can_do, visible_cases


def access_of(request: HttpRequest) -> Access:
    return request_access(request)


def get_case(request: HttpRequest, public_id: str, *, perm: Perm | None = None) -> Case:
    """The case if the user may see it — and, with `perm`, may do that act on it; otherwise 404 (forbidden looks
    exactly like missing)."""
    access = access_of(request)
    case = (
        visible_cases(access)
        .select_related("owning_agency", "referring_agency")
        .filter(public_id=public_id)
        .first()
    )
    if case is None or (perm is not None and not can_do(access, perm, case)):
        raise Http404
    return case


def require(request: HttpRequest, perm: Perm) -> Access:
    access = access_of(request)
    if not access.has(perm):
        raise Http404
    return access
