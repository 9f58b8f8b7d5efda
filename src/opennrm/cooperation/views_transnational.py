"""Pages of transnational referrals: the country's incoming inbox (national focal points only), the referrals
sent, one referral with its acts and updates, and the form that refers a case to a partner country.

A referral is looked up through `referrals_visible_to(access)` and a case through `get_case`: what the user may
not see answers 404, exactly like what does not exist; so does an act the user may not take. The person's
identity and free text as they crossed are shown only to whoever may read them, and each showing is audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import (
    AgeGroup,
    ConsentBasis,
    ConsentPurpose,
    TraffickingStatus,
    htcds_snake_choices,
)
from opennrm.cases.models import Consent
from opennrm.cases.selectors import can_do, can_edit
from opennrm.cases.services import record_consent
from opennrm.cases.views.common import access_of, get_case
from opennrm.cooperation import transnational as tn
from opennrm.cooperation.forms_transnational import (
    AcceptForm,
    DeclineForm,
    TransnationalReferralForm,
    UpdateForm,
)
from opennrm.cooperation.models import Direction, TransnationalReferral, TransnationalStatus
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.core.reference import UnknownCodeError, country_name, language_name

ANSWERED_SHOWN = 50


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _referral(request: HttpRequest, public_id: str) -> TransnationalReferral:
    referral = tn.referrals_visible_to(access_of(request)).filter(public_id=public_id).first()
    if referral is None:
        raise Http404
    return referral


# --- showing what crossed ---------------------------------------------------------------------------------


def _names(codes: Any, name: Any) -> str:
    shown = []
    for code in codes or []:
        try:
            shown.append(str(name(code)))
        except (UnknownCodeError, KeyError, ValueError):
            shown.append(str(code))
    return ", ".join(shown)


def _day(value: Any) -> str:
    try:
        return date_format(dt.date.fromisoformat(str(value)), "SHORT_DATE_FORMAT") if value else "—"
    except ValueError:
        return str(value)


def _choice(choices: Any, value: Any) -> str:
    return str(dict(choices).get(value, value)) if value else "—"


def person_rows(payload: dict[str, Any]) -> list[tuple[str, str]]:
    person = payload.get("person") or {}
    return [
        (_("Given name"), person.get("given_name") or "—"),
        (_("Family name"), person.get("family_name") or "—"),
        (_("Date of birth"), _day(person.get("date_of_birth"))),
        (_("Sex / gender"), _choice(htcds_snake_choices("prs_Gender"), person.get("sex"))),
        (
            _("Citizenship"),
            _names([person["citizenship"]] if person.get("citizenship") else [], country_name),
        ),
        (_("Languages"), _names(person.get("languages"), language_name) or "—"),
    ]


def case_rows(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """What crossed about the case: no identifying value (shown to whoever sees the referral)."""
    case = payload.get("case") or {}
    consent = payload.get("consent") or {}
    screening = payload.get("screening")
    forms = dict(htcds_snake_choices("vic_TypeOfExploitation"))
    rows = [
        (_("Their reference"), payload.get("sender_reference") or "—"),
        (_("Sending agency"), payload.get("sender_agency") or "—"),
        (_("Child"), _("Yes") if case.get("is_child") else _("No")),
        (_("Age group"), _choice(AgeGroup.choices, case.get("age_group"))),
        (_("Forms of exploitation"), _names(case.get("exploitation_forms"), lambda c: forms[c]) or "—"),
        (
            _("Country of exploitation"),
            _names([case["exploitation_country"]] if case.get("exploitation_country") else [], country_name)
            or "—",
        ),
        (_("Date of first contact"), _day(case.get("first_contact_date"))),
        (_("Trafficking status"), _choice(TraffickingStatus.choices, case.get("trafficking_status"))),
    ]
    if screening:
        rows.append(
            (
                _("Screening"),
                f"{screening.get('instrument')} {screening.get('version')}: "
                f"{_conclusion(screening.get('conclusion', ''))} ({_day(screening.get('date'))})",
            )
        )
    else:
        rows.append((_("Screening"), _("Not screened")))
    rows += [
        (_("Needs"), _names(payload.get("services_needed"), lambda c: tn.ServiceNeed(c).label) or "—"),
        (_("Planned arrival"), _day(payload.get("planned_arrival"))),
        (
            _("Consent to sharing"),
            _("%(basis)s, recorded on %(date)s by %(agency)s")
            % {
                "basis": _choice(ConsentBasis.choices, consent.get("basis")),
                "date": _day(str(consent.get("recorded_at", ""))[:10]),
                "agency": consent.get("recorded_by_agency") or "—",
            },
        ),
    ]
    return rows


def _conclusion(value: str) -> str:
    from opennrm.cases.screening import Conclusion

    try:
        return str(Conclusion(value).label)
    except ValueError:
        return value.replace("_", " ")


def _detail_context(request: HttpRequest, referral: TransnationalReferral, **forms: Any) -> dict[str, Any]:
    access = access_of(request)
    updates = list(referral.updates.select_related("recorded_by"))
    private = tn.can_see_person(access, referral)
    if private:
        tn.record_person_read(_user(request), referral, updates)
    answering = referral.direction == Direction.INCOMING and tn.receives_for_country(access)
    return {
        "referral": referral,
        "incoming": referral.direction == Direction.INCOMING,
        "case_rows": case_rows(referral.payload),
        "person": person_rows(referral.payload) if private else None,
        "private": private,
        "updates": updates,
        "can_answer": answering and referral.status == TransnationalStatus.RECEIVED,
        "can_update": tn.can_update(access, referral),
        "case_link": referral.case is not None and can_do(access, Perm.CASE_VIEW, referral.case),
        "accept_form": forms.get("accept_form") or AcceptForm(),
        "decline_form": forms.get("decline_form") or DeclineForm(),
        "update_form": forms.get("update_form") or UpdateForm(),
    }


# --- lists -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    referral: TransnationalReferral
    needs: str
    name: str | None = None  # None: the user may not read the person's name (or it is not shown here)


def _needs(referral: TransnationalReferral) -> str:
    return _names(referral.services, lambda c: tn.ServiceNeed(c).label) or "—"


def _rows(request: HttpRequest, referrals: list[TransnationalReferral]) -> list[Row]:
    """Rows of incoming referrals, with the person's name for who may read it (the read is audited)."""
    access = access_of(request)
    rows = []
    for referral in referrals:
        name = None
        if tn.can_see_person(access, referral):
            person = referral.payload.get("person") or {}
            name = f"{person.get('given_name', '')} {person.get('family_name', '')}".strip()
        rows.append(Row(referral=referral, needs=_needs(referral), name=name))
    shown = [r.referral.public_id for r in rows if r.name is not None]
    if shown:
        audit.record(
            actor=_user(request),
            action="coop.transnational_list_read",
            fields=["payload.person.given_name", "payload.person.family_name"],
            details={"referrals": shown},
        )
    return rows


@require_GET
def inbox_view(request: HttpRequest) -> HttpResponse:
    """The country's incoming referrals: for national focal points only."""
    access = access_of(request)
    if not tn.receives_for_country(access):
        raise Http404
    received = tn.incoming_inbox(access).order_by("-created_at")
    waiting = list(received.filter(status=TransnationalStatus.RECEIVED))
    answered = list(received.exclude(status=TransnationalStatus.RECEIVED)[:ANSWERED_SHOWN])
    rows = _rows(request, waiting + answered)
    context = {
        "tab": "incoming",
        "waiting": rows[: len(waiting)],
        "answered": rows[len(waiting) :],
        "answered_shown": ANSWERED_SHOWN,
        "can_send": access.has(Perm.TRANSNATIONAL_SEND),
        "receives": True,
    }
    return render(request, "cooperation/transnational_inbox.html", context)


@require_GET
def sent_view(request: HttpRequest) -> HttpResponse:
    access = access_of(request)
    if not access.has(Perm.TRANSNATIONAL_SEND):
        raise Http404
    sent = (
        tn.referrals_visible_to(access)
        .filter(direction=Direction.OUTGOING)
        .defer("payload", "decline_reason")
        .order_by("-created_at")[:ANSWERED_SHOWN]
    )
    context = {
        "tab": "sent",
        "sent": [Row(referral=r, needs=_needs(r)) for r in sent],
        "shown": ANSWERED_SHOWN,
        "can_send": True,
        "receives": tn.receives_for_country(access),
    }
    return render(request, "cooperation/transnational_inbox.html", context)


# --- one referral and its acts ----------------------------------------------------------------------------


@require_GET
def detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    referral = _referral(request, public_id)
    response = render(request, "cooperation/transnational_detail.html", _detail_context(request, referral))
    response["Cache-Control"] = "no-store"
    return response


def _answerable(request: HttpRequest, public_id: str) -> TransnationalReferral:
    """An incoming referral, for a national focal point; 404 for anyone else. Whether it is still waiting is the
    service's to say (a second answer is refused with a message, not hidden)."""
    referral = _referral(request, public_id)
    if referral.direction != Direction.INCOMING or not tn.receives_for_country(access_of(request)):
        raise Http404
    return referral


def _rerender(request: HttpRequest, referral: TransnationalReferral, **forms: Any) -> HttpResponse:
    response = render(
        request, "cooperation/transnational_detail.html", _detail_context(request, referral, **forms)
    )
    response["Cache-Control"] = "no-store"
    return response


def _answered_meanwhile(
    request: HttpRequest, referral: TransnationalReferral, error: DomainError
) -> HttpResponse:
    """Someone answered first (or this is a second press): say so on the referral's page, which shows the answer."""
    for message in error.messages:
        messages.error(request, message)
    return redirect("coop:transnational_detail", public_id=referral.public_id)


@require_POST
def accept_view(request: HttpRequest, public_id: str) -> HttpResponse:
    referral = _answerable(request, public_id)
    form = AcceptForm(request.POST)
    if form.is_valid():
        try:
            referral = tn.accept_referral(
                actor=_user(request),
                referral=referral,
                owning_agency=form.cleaned_data["owning_agency"],
                region=form.cleaned_data["region"],
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            if error.code == "already_answered":
                return _answered_meanwhile(request, referral, error)
            form.add_error(None, error)
        else:
            assert referral.case is not None
            messages.success(
                request,
                _("Referral accepted: case %(reference)s was opened and the partner was told.")
                % {"reference": referral.case.reference},
            )
            return redirect("cases:detail", public_id=referral.case.public_id)
    return _rerender(request, referral, accept_form=form)


@require_POST
def decline_view(request: HttpRequest, public_id: str) -> HttpResponse:
    referral = _answerable(request, public_id)
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            tn.decline_referral(actor=_user(request), referral=referral, reason=form.cleaned_data["reason"])
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            if error.code == "already_answered":
                return _answered_meanwhile(request, referral, error)
            form.add_error(None, error)
        else:
            messages.success(request, _("Referral declined; the partner is told why."))
            return redirect("coop:transnational_detail", public_id=referral.public_id)
    return _rerender(request, referral, decline_form=form)


@require_POST
def update_view(request: HttpRequest, public_id: str) -> HttpResponse:
    referral = _referral(request, public_id)
    access = access_of(request)
    if referral.case is None or not can_do(access, Perm.TRANSNATIONAL_SEND, referral.case):
        raise Http404
    form = UpdateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            tn.send_update(
                actor=_user(request),
                referral=referral,
                kind=data["kind"],
                date=data["date"],
                note=data["note"],
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            form.add_error("date" if error.code == "date_required" else None, error)
        else:
            messages.success(request, _("Update sent to the partner."))
            return redirect("coop:transnational_detail", public_id=referral.public_id)
    return _rerender(request, referral, update_form=form)


# --- referring a case to a partner country ------------------------------------------------------------------


def _consented_countries(case: Any) -> set[str]:
    return set(
        Consent.objects.filter(
            case=case, purpose=ConsentPurpose.CROSS_BORDER, given=True, withdrawn_at__isnull=True
        ).values_list("country", flat=True)
    )


@require_http_methods(["GET", "POST"])
def create_view(request: HttpRequest, case_public_id: str) -> HttpResponse:
    case = get_case(request, case_public_id, perm=Perm.TRANSNATIONAL_SEND)
    access = access_of(request)
    consented = _consented_countries(case)
    may_record = can_edit(access, case)
    form = TransnationalReferralForm(request.POST or None, consented=consented, may_record_consent=may_record)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actor = _user(request)
        partner = data["partner"]
        try:
            with transaction.atomic():  # the consent and the referral are saved together, or neither
                if may_record and data.get("consent_now") and partner.country not in consented:
                    record_consent(
                        actor=actor,
                        case=case,
                        purpose=ConsentPurpose.CROSS_BORDER,
                        given=True,
                        country=partner.country,
                    )
                referral = tn.send_referral(
                    actor=actor,
                    case=case,
                    partner=partner,
                    services=data["services"],
                    planned_arrival=data["planned_arrival"],
                    note_for_partner=data["note"],
                )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            field = {"services_required": "services", "past_date": "planned_arrival"}.get(error.code or "")
            form.add_error(field, error)
        else:
            messages.success(
                request,
                _("Referral to %(partner)s queued: it leaves as soon as the partner can be reached.")
                % {"partner": partner.name},
            )
            return redirect("coop:transnational_detail", public_id=referral.public_id)
    context = {
        "case": case,
        "form": form,
        "consented": sorted(_country_label(c) for c in consented),
        "has_partners": tn.referral_partners().exists(),
    }
    return render(request, "cooperation/transnational_create.html", context)


def _country_label(code: str) -> str:
    try:
        return country_name(code)
    except UnknownCodeError:
        return code
