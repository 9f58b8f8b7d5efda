"""Pages of the referrals app: the provider's inbox, a referral (with its acts and deliveries), the referral form.

Every referral is looked up through `referrals_visible_to(access)` and every case through `get_case`: what the
user may not see answers 404, exactly like what does not exist. An act the user may not take also answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import AgeGroup, ConsentBasis, ConsentPurpose, DocumentType, htcds_snake_choices
from opennrm.cases.models import Case, Person
from opennrm.cases.services import record_consent
from opennrm.cases.views.common import access_of, get_case, require
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.core.reference import UnknownCodeError, country_name, language_name
from opennrm.referrals import services
from opennrm.referrals.forms import DeclineForm, DeliveryForm, ReferralForm
from opennrm.referrals.models import ACTIVE_STATUSES, PERSON_FIELDS, Referral, ReferralStatus
from opennrm.referrals.selectors import (
    allowed_actions,
    can_see_person,
    can_withdraw,
    deliveries_of,
    inbox,
    provider_view,
    referral_consents,
    referrals_visible_to,
    sending_agencies,
)

FINISHED_SHOWN = 50


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _referral(request: HttpRequest, public_id: str) -> Referral:
    referral = referrals_visible_to(access_of(request)).filter(public_id=public_id).first()
    if referral is None:
        raise Http404
    return referral


# --- showing the person's data the service needs ------------------------------------------------------


def field_label(name: str) -> str:
    if name == "exploitation_forms":
        return str(gettext_lazy("forms of exploitation"))
    model = Person if name in PERSON_FIELDS else Case
    return str(getattr(model._meta.get_field(name), "verbose_name", name))


def _codes(values: Any, name: Callable[[str], str]) -> str:
    shown = []
    for code in values or []:
        try:
            shown.append(name(code))
        except (UnknownCodeError, KeyError, ValueError):
            shown.append(str(code))
    return ", ".join(shown)


def _display(name: str, value: Any) -> str:
    if value in (None, "", []):
        return "—"
    if name == "date_of_birth":
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    if name == "is_child":
        return _("Yes") if value else _("No")
    if name == "sex":
        return str(dict(htcds_snake_choices("prs_Gender")).get(value, value))
    if name == "age_group":
        return str(AgeGroup(value).label) if value in AgeGroup.values else str(value)
    if name in ("citizenship", "other_citizenships"):
        return _codes([value] if isinstance(value, str) else value, country_name)
    if name == "languages":
        return _codes(value, language_name)
    if name == "exploitation_forms":
        return _codes(value, lambda code: str(dict(htcds_snake_choices("vic_TypeOfExploitation"))[code]))
    if name == "documents":
        kinds = dict(DocumentType.choices)
        return "; ".join(f"{kinds.get(d.get('type'), d.get('type'))}: {d.get('number', '')}" for d in value)
    if name == "contacts":
        return "; ".join(f"{c.get('kind', '')}: {c.get('value', '')}" for c in value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def person_rows(values: dict[str, Any]) -> list[tuple[str, str]]:
    return [(field_label(name), _display(name, value)) for name, value in values.items()]


# --- pages -------------------------------------------------------------------------------------------


@require_GET
def inbox_view(request: HttpRequest) -> HttpResponse:
    access = require(request, Perm.REFERRAL_RESPOND)
    received = inbox(access)
    context = {
        "pending": list(received.filter(status=ReferralStatus.PENDING)),
        "accepted": list(received.filter(status=ReferralStatus.ACCEPTED)),
        "finished": list(received.exclude(status__in=ACTIVE_STATUSES)[:FINISHED_SHOWN]),
        "finished_shown": FINISHED_SHOWN,
    }
    return render(request, "referrals/inbox.html", context)


def _detail_context(request: HttpRequest, referral: Referral, **forms: Any) -> dict[str, Any]:
    access = access_of(request)
    actor = _user(request)
    actions = allowed_actions(access, referral)
    sending_side = can_withdraw(access, referral)
    deliveries = list(deliveries_of(referral))
    person = None
    if can_see_person(access, referral):
        person = person_rows(provider_view(actor=actor, referral=referral))
    # Free text may name the person: showing it is an audited read, like any identifying field.
    shown = [name for name in ("reason", "decline_reason") if getattr(referral, name)]
    if sending_side and referral.override_justification:
        shown.append("override_justification")
    if any(d.description for d in deliveries):
        shown.append("deliveries.description")
    if shown:
        audit.record_read(actor=actor, target=referral, fields=shown, action="referral.read")
    return {
        "referral": referral,
        "case": referral.case,
        "actions": actions,
        "sending_side": sending_side,
        "needs": [field_label(name) for name in referral.service.needs],
        "person": person,
        "deliveries": deliveries,
        "decline_form": forms.get("decline_form") or DeclineForm(),
        "delivery_form": forms.get("delivery_form") or DeliveryForm(),
        "basis": ConsentBasis(referral.override_basis).label if referral.override_basis else None,
    }


@require_GET
def detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    referral = _referral(request, public_id)
    return render(request, "referrals/detail.html", _detail_context(request, referral))


def _act(
    request: HttpRequest, public_id: str, action: str, done: str, call: Callable[[Referral], Any]
) -> HttpResponse:
    referral = _referral(request, public_id)
    if action not in allowed_actions(access_of(request), referral):
        raise Http404
    try:
        call(referral)
    except PermissionDenied:
        raise Http404 from None
    except DomainError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, done)
    return redirect("referrals:detail", public_id=referral.public_id)


@require_POST
def accept_view(request: HttpRequest, public_id: str) -> HttpResponse:
    return _act(
        request,
        public_id,
        "accept",
        _("Referral accepted."),
        lambda r: services.accept_referral(actor=_user(request), referral=r),
    )


@require_POST
def complete_view(request: HttpRequest, public_id: str) -> HttpResponse:
    return _act(
        request,
        public_id,
        "complete",
        _("Referral marked as completed."),
        lambda r: services.complete_referral(actor=_user(request), referral=r),
    )


@require_POST
def withdraw_view(request: HttpRequest, public_id: str) -> HttpResponse:
    return _act(
        request,
        public_id,
        "withdraw",
        _("Referral withdrawn."),
        lambda r: services.withdraw_referral(actor=_user(request), referral=r),
    )


@require_POST
def decline_view(request: HttpRequest, public_id: str) -> HttpResponse:
    referral = _referral(request, public_id)
    if "decline" not in allowed_actions(access_of(request), referral):
        raise Http404
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            services.decline_referral(
                actor=_user(request), referral=referral, reason=form.cleaned_data["reason"]
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Referral declined."))
            return redirect("referrals:detail", public_id=referral.public_id)
    return render(request, "referrals/detail.html", _detail_context(request, referral, decline_form=form))


@require_POST
def delivery_view(request: HttpRequest, public_id: str) -> HttpResponse:
    referral = _referral(request, public_id)
    if "record" not in allowed_actions(access_of(request), referral):
        raise Http404
    form = DeliveryForm(request.POST)
    if form.is_valid():
        try:
            services.record_delivery(actor=_user(request), referral=referral, **form.cleaned_data)
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Service recorded."))
            return redirect("referrals:detail", public_id=referral.public_id)
    return render(request, "referrals/detail.html", _detail_context(request, referral, delivery_form=form))


@require_http_methods(["GET", "POST"])
def create_view(request: HttpRequest, case_public_id: str) -> HttpResponse:
    case = get_case(request, case_public_id, perm=Perm.REFERRAL_SEND)
    access = access_of(request)
    senders = sending_agencies(access, case)
    if not senders:
        raise Http404
    consents = list(referral_consents(case))
    consented = {c.agency_id for c in consents if c.agency_id is not None}
    form = ReferralForm(request.POST or None, case=case, senders=senders, consented=consented)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actor = _user(request)
        try:
            with transaction.atomic():  # the consent and the referral are saved together, or neither
                if data["consent_now"]:
                    record_consent(
                        actor=actor,
                        case=case,
                        purpose=ConsentPurpose.REFERRAL,
                        given=True,
                        agency=data["to_agency"],
                    )
                referral = services.refer_to_service(
                    actor=actor,
                    case=case,
                    service=data["service"],
                    to_agency=data["to_agency"],
                    from_agency=data["from_agency"],
                    reason=data["reason"],
                    override_basis=data["override_basis"],
                    override_justification=data["override_justification"],
                )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Referral sent to %(agency)s.") % {"agency": referral.to_agency.name})
            return redirect("referrals:detail", public_id=referral.public_id)
    context = {"case": case, "form": form, "consents": consents}
    return render(request, "referrals/create.html", context)
