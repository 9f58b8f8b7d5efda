"""Intake: the referral of a presumed victim (with the duplicate check before anything is created), and the
anonymous notification for an adult who does not consent.

Identity is looked up (duplicate check) only once the person consented, or for a child. A possible existing case
the user may not see is shown only as the agency that holds it: no reference, no name, no score.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from opennrm.accounts.access import Access
from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases import identity
from opennrm.cases.forms import (
    NO,
    DuplicateCheckForm,
    NotificationForm,
    ReferralForm,
)
from opennrm.cases.identity import Candidate
from opennrm.cases.models import Case
from opennrm.cases.selectors import visible_cases
from opennrm.cases.services import IntakeData, notify_anonymously, refer_person
from opennrm.cases.views.common import require
from opennrm.core import audit
from opennrm.core.errors import DomainError

RECEIVED_KEY = "cases_referral_received"
NOTIFIED_KEY = "cases_notification_filed"

# Where a refused act's message belongs on the referral form (by the DomainError code); else the whole form.
REFERRAL_ERROR_FIELDS = {
    "required": "given_name",
    "invalid_date": "date_of_birth",
    "invalid_age": "age_estimate",
    "consent_required": "consent",
}
NOTIFICATION_ERROR_FIELDS = {
    "future_date": "first_contact_date",
    "invalid_age": "age",
    "child_needs_referral": "age",
}


@dataclass(frozen=True)
class Duplicates:
    """What the user is shown of the possible existing cases."""

    visible: list[Candidate]  # cases the user may see: reference and link
    hidden_agencies: list[str]  # only the name of the agency that holds each other case, once per agency

    def __bool__(self) -> bool:
        return bool(self.visible or self.hidden_agencies)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def check_duplicates(
    *,
    request: HttpRequest,
    access: Access,
    given_name: str,
    family_name: str,
    date_of_birth: dt.date | None,
    document_number: str,
) -> Duplicates:
    found = identity.find_candidates(
        given_name=given_name,
        family_name=family_name,
        date_of_birth=date_of_birth,
        document_numbers=[document_number] if document_number.strip() else [],
    )
    if not found:
        return Duplicates(visible=[], hidden_agencies=[])
    seen = set(visible_cases(access).filter(pk__in=[c.case.pk for c in found]).values_list("pk", flat=True))
    visible = [c for c in found if c.case.pk in seen]
    hidden = sorted({c.case.owning_agency.name for c in found if c.case.pk not in seen}, key=str.casefold)
    # The check linked an identity to cases: audit which cases were shown (codes and public ids only).
    audit.record(
        actor=_user(request),
        action="case.duplicate_check",
        details={"shown": [c.case.public_id for c in visible], "hidden": len(found) - len(visible)},
    )
    return Duplicates(visible=visible, hidden_agencies=hidden)


def _attach_error(form: ReferralForm | NotificationForm, exc: DomainError, fields: dict[str, str]) -> None:
    field = fields.get(exc.code or "")
    if exc.code == "future_date" and isinstance(form, ReferralForm):
        born = form.cleaned_data.get("date_of_birth")
        field = "date_of_birth" if born and born > timezone.localdate() else "first_contact_date"
    if exc.code == "unknown_code":
        field = None
    form.add_error(field if field in form.fields else None, exc)


def _intake_data(form: ReferralForm) -> IntakeData:
    data = form.cleaned_data
    return IntakeData(
        given_name=data["given_name"],
        family_name=data.get("family_name", ""),
        date_of_birth=data.get("date_of_birth"),
        age_estimate=data.get("age_estimate"),
        sex=data["sex"],
        citizenship=data.get("citizenship", ""),
        languages=list(data.get("languages") or []),
        phone=data.get("phone", ""),
        document_type=data.get("document_type", ""),
        document_number=data.get("document_number", ""),
        first_contact_date=data.get("first_contact_date"),
        region=data.get("region", ""),
        exploitation_forms=list(data.get("exploitation_forms") or []),
        exploitation_country=data.get("exploitation_country", ""),
        narrative=data.get("narrative", ""),
        guardian=data.get("guardian", ""),
    )


def _received(request: HttpRequest) -> HttpResponse:
    reference = request.session.pop(RECEIVED_KEY, None)
    if reference is None:
        return redirect("cases:refer")
    return render(request, "cases/referral_received.html", {"reference": reference})


@require_http_methods(["GET", "POST"])
def refer(request: HttpRequest, public_id: str = "") -> HttpResponse:
    access = require(request, Perm.CASE_REFER)
    if request.method == "GET" and request.GET.get("received"):
        return _received(request)
    form = ReferralForm(request.POST or None, access=access)
    duplicates: Duplicates | None = None
    notify_url = ""
    token = ""
    if request.method == "POST" and form.is_valid():
        if not form.child and not form.consent_given:
            # No consent, no identity: nothing is looked up or saved. Offer the anonymous notification instead.
            refused = form.cleaned_data.get("consent") == NO
            notify_url = reverse("cases:notify") + "?" + urlencode(form.notification_query(), doseq=True)
            form.add_error(
                "consent",
                _(
                    "An adult who does not consent cannot be referred with their identity. File an anonymous "
                    "notification instead: it keeps no name and is counted in the statistics only."
                ),
            )
            if refused:
                form.forget_identity()
        else:
            token = form.token()
            data = form.cleaned_data
            if request.POST.get("confirm") != token:
                duplicates = check_duplicates(
                    request=request,
                    access=access,
                    given_name=data["given_name"],
                    family_name=data.get("family_name", ""),
                    date_of_birth=data.get("date_of_birth"),
                    document_number=data.get("document_number", ""),
                )
            if not duplicates:
                referring = form.referring_agency()
                try:
                    if referring is None:
                        raise DomainError(
                            _("You are not a member of an agency that may refer."), code="no_agency"
                        )
                    case = refer_person(
                        actor=_user(request),
                        referring_agency=referring,
                        owning_agency=data["owning_agency"],
                        data=_intake_data(form),
                        consent_given=form.consent_given,
                    )
                except DomainError as exc:
                    _attach_error(form, exc, REFERRAL_ERROR_FIELDS)
                else:
                    return _after_referral(request, access, case)
    context = {"form": form, "duplicates": duplicates, "token": token, "notify_url": notify_url}
    return render(request, "cases/refer.html", context)


def _after_referral(request: HttpRequest, access: Access, case: Case) -> HttpResponse:
    if visible_cases(access).filter(pk=case.pk).exists():
        messages.success(request, _("Referral filed: %(reference)s.") % {"reference": case.reference})
        return redirect("cases:detail", public_id=case.public_id)
    request.session[RECEIVED_KEY] = case.reference
    return HttpResponseRedirect(reverse("cases:refer") + "?received=1")


@require_POST
def duplicates(request: HttpRequest, public_id: str = "") -> HttpResponse:
    """htmx: the duplicate check of the referral form, as the user types (same rules as on submit)."""
    access = require(request, Perm.CASE_REFER)
    form = DuplicateCheckForm(request.POST)
    found: Duplicates | None = None
    if form.is_valid() and form.may_check():
        data = form.cleaned_data
        found = check_duplicates(
            request=request,
            access=access,
            given_name=data.get("given_name", ""),
            family_name=data.get("family_name", ""),
            date_of_birth=data.get("date_of_birth"),
            document_number=data.get("document_number", ""),
        )
    return render(request, "cases/_duplicates.html", {"duplicates": found, "live": True})


@require_http_methods(["GET", "POST"])
def notify(request: HttpRequest, public_id: str = "") -> HttpResponse:
    access = require(request, Perm.CASE_REFER)
    if request.method == "GET" and request.GET.get("filed"):
        filed = request.session.pop(NOTIFIED_KEY, None)
        if filed is None:
            return redirect("cases:notify")
        return render(request, "cases/notification_filed.html", {"filed": filed})
    if request.method == "POST":
        form = NotificationForm(request.POST, access=access)
    else:
        # Carried over from a referral the adult did not consent to: only non-identifying fields.
        carried = {k: v for k, v in request.GET.lists() if k in NotificationForm.base_fields}
        initial = {k: (v if k == "exploitation_forms" else v[0]) for k, v in carried.items()}
        form = NotificationForm(access=access, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        agency = form.referring_agency()
        try:
            if agency is None:
                raise DomainError(_("You are not a member of an agency that may refer."), code="no_agency")
            notification = notify_anonymously(
                actor=_user(request),
                agency=agency,
                first_contact_date=data["first_contact_date"],
                sex=data["sex"],
                age=data.get("age"),
                citizenship=data.get("citizenship", ""),
                region=data.get("region", ""),
                exploitation_forms=data.get("exploitation_forms") or [],
                exploitation_country=data.get("exploitation_country", ""),
            )
        except DomainError as exc:
            _attach_error(form, exc, NOTIFICATION_ERROR_FIELDS)
        else:
            request.session[NOTIFIED_KEY] = notification.created_at.isoformat()
            return HttpResponseRedirect(reverse("cases:notify") + "?filed=1")
    return render(request, "cases/notify.html", {"form": form})
