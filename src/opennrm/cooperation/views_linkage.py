"""Record-linkage pages: the case panel ("Is this person known to a partner country?"), asking a partner, and the
duplicates across the agencies of this instance.

Cases are looked up through `get_case` (404 for what the user may not see or not do); a role that may not use a
page gets 404 too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from opennrm.accounts.access import request_access
from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import ConsentPurpose
from opennrm.cases.models import Case, CaseEvent
from opennrm.cases.selectors import can_do
from opennrm.cases.services import has_consent
from opennrm.cases.views.common import get_case
from opennrm.cooperation import linkage_service as service
from opennrm.cooperation import messaging
from opennrm.cooperation.models import LinkageCandidate, LinkageQuery, Partner, PartnerStatus
from opennrm.core.errors import DomainError
from opennrm.core.panels import Panel
from opennrm.core.reference import UnknownCodeError, country_name

QUERIES_SHOWN = 20


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _country(code: str) -> str:
    try:
        return country_name(code)
    except (UnknownCodeError, KeyError, ValueError):
        return code


@dataclass(frozen=True)
class QueryRow:
    query: LinkageQuery
    candidates: list[LinkageCandidate]
    failed: bool  # the partner never took the question (refused it, or delivery gave up)
    country: str
    consent: bool  # the person consented to sharing with the partner's country


def case_panel(request: HttpRequest, case: Case) -> Panel | None:
    """Who runs the case may ask partners about its person and sees the answers; nobody else sees the panel."""
    access = request_access(request)
    if not service.can_query(access, case):
        return None
    queries = list(
        LinkageQuery.objects.filter(case=case)
        .select_related("partner", "requested_by")
        .prefetch_related("candidates")
        .order_by("-created_at")[:QUERIES_SHOWN]
    )
    failed = service.failed_deliveries(queries)
    consents: dict[str, bool] = {}
    rows = []
    for query in queries:
        candidates = list(query.candidates.all())
        country = query.partner.country
        if candidates and country not in consents:
            consents[country] = has_consent(case, ConsentPurpose.CROSS_BORDER, country=country) is not None
        rows.append(
            QueryRow(
                query=query,
                candidates=candidates,
                failed=query.query_id in failed,
                country=_country(country),
                consent=consents.get(country, False),
            )
        )
    waiting = service.waiting_partners(case)
    partners = [
        (p, p.pk in waiting) for p in Partner.objects.filter(status=PartnerStatus.ACTIVE).order_by("code")
    ]
    return Panel(
        template="cooperation/linkage_panel.html",
        context={
            "case": case,
            "configured": service.is_configured(),
            "partners": partners,
            "rows": rows,
            "matched": any(r.candidates for r in rows),
            "consent_url": reverse("cases:consent", kwargs={"public_id": case.public_id}),
            "referral_url": reverse("coop:transnational_create", kwargs={"case_public_id": case.public_id})
            if can_do(access, Perm.TRANSNATIONAL_SEND, case)
            else "",
        },
        order=60,
    )


@require_POST
def ask(request: HttpRequest, public_id: str) -> HttpResponse:
    case = get_case(request, public_id, perm=Perm.CASE_EDIT)
    try:
        partner = messaging.active_partner(request.POST.get("partner", ""))
    except DomainError:
        raise Http404 from None
    try:
        service.query_partner(actor=_user(request), case=case, partner=partner)
    except PermissionDenied:
        raise Http404 from None
    except DomainError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("The question was sent to %(partner)s. You will be alerted when it answers.")
            % {"partner": partner.name},
        )
    return HttpResponseRedirect(
        reverse("cases:detail", kwargs={"public_id": case.public_id}) + "#linkage-panel"
    )


@require_GET
def duplicates(request: HttpRequest) -> HttpResponse:
    access = request_access(request)
    if not service.can_find_duplicates(access):
        raise Http404
    include_same = request.GET.get("same_agency") == "1"
    found = None
    if service.is_configured():
        found = service.find_duplicates(actor=_user(request), include_same_agency=include_same)
    return render(
        request,
        "cooperation/linkage_duplicates.html",
        {
            "configured": found is not None,
            "found": found,
            "include_same": include_same,
            "threshold_percent": round(service.DEFAULT_THRESHOLD * 100),
            "limit": service.MAX_DUPLICATE_PAIRS,
        },
    )


def describe_event(event: CaseEvent, who: str) -> str | None:
    """Timeline sentences of the record-linkage kinds (registered with the case page)."""
    d = event.data or {}
    partner = str(d.get("partner", ""))
    if event.kind == "linkage_queried":
        return _("%(who)s asked %(partner)s whether the person is known there (record linkage).") % {
            "who": who,
            "partner": partner,
        }
    if event.kind == "linkage_answered":
        return _("%(partner)s answered the record-linkage question: %(count)s candidate(s).") % {
            "partner": partner,
            "count": d.get("candidates", 0),
        }
    if event.kind == "linkage_partner_match":
        return _(
            "%(partner)s asked whether a person is known here; this case is a candidate (similarity %(score)s%%)."
        ) % {"partner": partner, "score": d.get("score", "")}
    return None
