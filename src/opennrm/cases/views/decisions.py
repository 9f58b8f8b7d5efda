"""Identification decisions: requesting one (which starts the statutory clock of the country profile), the
decision makers' queue, deciding, and appealing a refusal.

The deadline shown is always the one stored with the request (computed once by the service), in local time.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from opennrm.accounts.roles import Perm
from opennrm.cases import services
from opennrm.cases.choices import DecisionOutcome
from opennrm.cases.forms_assistance import DecideForm, RequestDecisionForm
from opennrm.cases.models import Decision
from opennrm.cases.selectors import decision_queue
from opennrm.cases.selectors_assistance import case_object, clock, decision_file, describe_rule, route_name
from opennrm.cases.views.assistance import act_on_form, actor_of, done, form_page, or_404, posted_data
from opennrm.cases.views.common import access_of, get_case, require
from opennrm.core.errors import DomainError
from opennrm.core.profiles import active_profile


@require_http_methods(["GET", "POST"])
def request_decision(request: HttpRequest, public_id: str) -> HttpResponse:
    case = get_case(request, public_id, perm=Perm.DECISION_REQUEST)
    profile = active_profile()
    deadline = profile.deadline(child=case.is_child)
    return act_on_form(
        request,
        case=case,
        form=RequestDecisionForm(posted_data(request)),
        template="cases/decide_request.html",
        act=lambda data: services.request_decision(actor=actor_of(request), case=case, route=data["route"]),
        message=_("The decision was requested; its deadline is shown on the case."),
        context={
            "deadline": deadline,
            "rule": describe_rule(f"{deadline.amount} {deadline.unit}"),
            "authorities": profile.authorities,
        },
    )


@require_http_methods(["GET", "POST"])
def appeal(request: HttpRequest, public_id: str) -> HttpResponse:
    case = get_case(request, public_id, perm=Perm.DECISION_REQUEST)
    return act_on_form(
        request,
        case=case,
        form=forms.Form(posted_data(request)),
        template="cases/decide_appeal.html",
        act=lambda data: services.appeal(actor=actor_of(request), case=case),
        message=_("The appeal was lodged; its deadline is shown on the case."),
        context={
            "refused": case.decisions.filter(outcome=DecisionOutcome.REFUSED)
            .defer("reasons")
            .order_by("-decided_at")
            .first()
        },
    )


@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    access = require(request, Perm.DECISION_MAKE)
    now = timezone.now()
    profile = active_profile()
    items = decision_queue(access, now=now)
    rows = [
        (item, clock(item.decision.deadline_at, now), route_name(profile, item.decision.route))
        for item in items
    ]
    context = {"rows": rows, "overdue": sum(1 for item in items if item.overdue), "profile": profile}
    return render(request, "cases/queue.html", context)


@require_http_methods(["GET", "POST"])
def decide(request: HttpRequest, public_id: str) -> HttpResponse:
    access = access_of(request)
    decision = or_404(case_object(access, Decision, public_id, perm=Perm.DECISION_MAKE))
    case = decision.case
    form = DecideForm(posted_data(request))
    refused = False
    if request.method == "POST":
        if form.is_valid():
            try:
                services.decide(
                    actor=actor_of(request),
                    decision=decision,
                    outcome=DecisionOutcome(form.cleaned_data["outcome"]),
                    reasons=form.cleaned_data["reasons"],
                    members=form.members_list(),
                )
            except DomainError as exc:
                form.add_error(None, exc)
            else:
                return done(request, case, _("The decision was recorded."))
        refused = True
    context = {
        "case": case,
        "form": form,
        "file": decision_file(access=access, actor=actor_of(request), decision=decision),
    }
    return form_page(request, "cases/decide.html", context, refused=refused)
