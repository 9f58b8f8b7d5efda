"""Assistance on a case: the support plan, notes, attachments, compensation, closure and reopening.

Every act is a POST handled by one service. A refused act (`DomainError`) re-renders its form with the service's
translated message and changes nothing; a done act redirects to the case page with a message (post/redirect/get).
A GET shows the form on its own page (for phones, without JavaScript, and after an error). The helpers at the top
are shared by the screening and decision views.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases import services
from opennrm.cases.forms_assistance import (
    AttachmentForm,
    CloseForm,
    NoteForm,
    PaymentForm,
    PlanCompleteForm,
    PlanItemForm,
    ReopenForm,
)
from opennrm.cases.models import Attachment, Case, Compensation, SupportPlanItem
from opennrm.cases.selectors_assistance import case_object
from opennrm.cases.views.common import access_of, get_case
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.core.profiles import active_profile

# --- shared by the screening, decision and assistance views ----------------------------------------------


def actor_of(request: HttpRequest) -> User:
    return cast(User, request.user)


def posted_data(request: HttpRequest) -> QueryDict | None:
    """The data to bind a form to: the POST, even when empty (so that an empty POST shows its errors)."""
    return request.POST if request.method == "POST" else None


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def form_page(
    request: HttpRequest, template: str, context: Mapping[str, Any], *, refused: bool
) -> HttpResponse:
    """The form's page; after a refused or invalid POST, 400 for htmx (which then swaps nothing), 200 otherwise."""
    return render(request, template, dict(context), status=400 if refused and is_htmx(request) else 200)


def done(request: HttpRequest, case: Case, message: str) -> HttpResponse:
    """Post/redirect/get: back to the case page, with a message."""
    messages.success(request, message)
    url = reverse("cases:detail", args=[case.public_id])
    return HttpResponseClientRedirect(url) if is_htmx(request) else HttpResponseRedirect(url)


def act_on_form(
    request: HttpRequest,
    *,
    case: Case,
    form: forms.Form,
    template: str,
    act: Callable[[dict[str, Any]], object],
    message: str,
    context: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """GET shows the form; POST runs `act` with the cleaned data. A `DomainError` goes on the form as a
    non-field error (the service's transaction rolled back: nothing changed)."""
    refused = False
    if request.method == "POST":
        if form.is_valid():
            try:
                act(form.cleaned_data)
            except DomainError as exc:
                form.add_error(None, exc)
            else:
                return done(request, case, message)
        refused = True
    return form_page(request, template, {"case": case, "form": form, **(context or {})}, refused=refused)


def or_404[T](obj: T | None) -> T:
    if obj is None:
        raise Http404
    return obj


# --- support plan ----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def plan_add(request: HttpRequest, public_id: str) -> HttpResponse:
    case = get_case(request, public_id, perm=Perm.CASE_EDIT)
    return act_on_form(
        request,
        case=case,
        form=PlanItemForm(posted_data(request)),
        template="cases/plan_add.html",
        act=lambda data: services.add_plan_item(
            actor=actor_of(request),
            case=case,
            type=data["type"],
            objective=data["objective"],
            action=data["action"],
            planned_end=data["planned_end"],
        ),
        message=_("The plan item was added."),
    )


@require_http_methods(["GET", "POST"])
def plan_complete(request: HttpRequest, public_id: str) -> HttpResponse:
    item = or_404(case_object(access_of(request), SupportPlanItem, public_id, perm=Perm.CASE_EDIT))
    return act_on_form(
        request,
        case=item.case,
        form=PlanCompleteForm(posted_data(request)),
        template="cases/plan_complete.html",
        act=lambda data: services.complete_plan_item(
            actor=actor_of(request), item=item, actual_end=data["actual_end"]
        ),
        message=_("The plan item was marked as done."),
        context={"item": item},
    )


# --- notes and attachments ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def note_add(request: HttpRequest, public_id: str) -> HttpResponse:
    case = get_case(request, public_id, perm=Perm.CASE_EDIT)
    return act_on_form(
        request,
        case=case,
        form=NoteForm(posted_data(request)),
        template="cases/note_add.html",
        act=lambda data: services.add_note(actor=actor_of(request), case=case, body=data["body"]),
        message=_("The note was added."),
    )


@require_http_methods(["GET", "POST"])
def attachment_add(request: HttpRequest, public_id: str) -> HttpResponse:
    from django.conf import settings

    case = get_case(request, public_id, perm=Perm.CASE_EDIT)
    form = AttachmentForm(request.POST, request.FILES) if request.method == "POST" else AttachmentForm()
    return act_on_form(
        request,
        case=case,
        form=form,
        template="cases/attachment_add.html",
        act=lambda data: services.add_attachment(actor=actor_of(request), case=case, upload=data["file"]),
        message=_("The file was attached."),
        context={"limit_mb": round(settings.OPENNRM_MAX_UPLOAD_BYTES / 1e6, 1)},
    )


@require_GET
def attachment_download(request: HttpRequest, public_id: str) -> FileResponse:
    """The decrypted file, as a download, for users who may read identity on the case; the read is audited."""
    attachment = or_404(case_object(access_of(request), Attachment, public_id, identity=True))
    audit.record_read(actor=actor_of(request), target=attachment, fields=["file"])
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store, private"
    return response


# --- compensation ---------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def compensation_approve(request: HttpRequest, public_id: str) -> HttpResponse:
    case = get_case(request, public_id, perm=Perm.COMPENSATION_APPROVE)
    rule = active_profile().compensation
    if rule is None:
        raise Http404
    return act_on_form(
        request,
        case=case,
        form=forms.Form(posted_data(request)),
        template="cases/compensation_approve.html",
        act=lambda data: services.approve_compensation(actor=actor_of(request), case=case),
        message=_("The compensation was approved."),
        context={"rule": rule},
    )


@require_http_methods(["GET", "POST"])
def compensation_pay(request: HttpRequest, public_id: str) -> HttpResponse:
    compensation = or_404(
        case_object(access_of(request), Compensation, public_id, perm=Perm.COMPENSATION_APPROVE)
    )
    return act_on_form(
        request,
        case=compensation.case,
        form=PaymentForm(posted_data(request)),
        template="cases/compensation_pay.html",
        act=lambda data: services.pay_compensation(
            actor=actor_of(request), compensation=compensation, payment_reference=data["payment_reference"]
        ),
        message=_("The payment was recorded."),
        context={"compensation": compensation},
    )


# --- closure ----------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def close(request: HttpRequest, public_id: str) -> HttpResponse:
    case = get_case(request, public_id, perm=Perm.CASE_EDIT)
    return act_on_form(
        request,
        case=case,
        form=CloseForm(posted_data(request)),
        template="cases/close.html",
        act=lambda data: services.close_case(
            actor=actor_of(request), case=case, reason=data["reason"], follow_up_date=data["follow_up_date"]
        ),
        message=_("The case was closed."),
    )


@require_http_methods(["GET", "POST"])
def reopen(request: HttpRequest, public_id: str) -> HttpResponse:
    case = get_case(request, public_id, perm=Perm.CASE_EDIT)
    return act_on_form(
        request,
        case=case,
        form=ReopenForm(posted_data(request)),
        template="cases/reopen.html",
        act=lambda data: services.reopen_case(actor=actor_of(request), case=case, reason=data["reason"]),
        message=_("The case was reopened."),
    )
