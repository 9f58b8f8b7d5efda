"""The case page and what hangs off it: editing, identity (shown on request, audited), consent, timeline.

A case the user may not see answers 404 (`get_case`); so does an act the user may not do on a case they see.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from opennrm.accounts.access import Access
from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import (
    CaseStatus,
    ClosureReason,
    ConsentBasis,
    ConsentPurpose,
    DecisionOutcome,
    DocumentType,
    EventType,
    htcds_snake_choices,
)
from opennrm.cases.forms import CONTACT_KINDS, YES, CaseEditForm, ConsentForm, IdentityEditForm
from opennrm.cases.models import Case, CaseEvent, Consent, Decision, Person
from opennrm.cases.selectors import IDENTITY_FIELDS, can_edit, can_read_identity
from opennrm.cases.services import (
    read_identity,
    record_consent,
    update_case,
    update_identity,
    withdraw_consent,
)
from opennrm.cases.views.common import access_of, get_case
from opennrm.core import audit
from opennrm.core.errors import ConcurrentEditError, DomainError
from opennrm.core.panels import panels_for
from opennrm.core.profiles import active_profile
from opennrm.core.reference import UnknownCodeError, country_name, language_name

TIMELINE_ON_PAGE = 20
# Apps that write their own kinds of timeline entries register a describer here (in AppConfig.ready()), so the
# timeline tells them in a sentence without cases importing those apps. A describer gets the event and the
# translated name of who acted, and returns a translated sentence, or None for kinds that are not its own.
event_describers: list[Callable[[CaseEvent, str], str | None]] = []
# Case fields that are encrypted free text: shown only to users who may read identity, and audited.
CASE_PRIVATE_FIELDS = ("narrative", "guardian")


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _label(choices: Iterable[tuple[str, Any]], value: str) -> str:
    return str(dict(choices).get(value, value)) if value else ""


def _labels(picklist: str, values: Iterable[str]) -> list[str]:
    known = dict(htcds_snake_choices(picklist))
    return [str(known.get(v, v)) for v in values]


def _country(code: str) -> str:
    try:
        return country_name(code) if code else ""
    except UnknownCodeError:
        return code


def _region(code: str) -> str:
    try:
        return active_profile().region_name(code) if code else ""
    except UnknownCodeError:
        return code


def _language(code: str) -> str:
    try:
        return language_name(code)
    except UnknownCodeError:
        return code


# --- the timeline --------------------------------------------------------------------------------------


def _actor(event: CaseEvent) -> str:
    if event.actor is None:
        return _("The system")
    name = event.actor.get_full_name() or event.actor.get_username()
    if event.agency is not None:
        return _("%(name)s (%(agency)s)") % {"name": name, "agency": event.agency.name}
    return name


def _field_names(names: Iterable[str]) -> str:
    labels = []
    for name in names:
        if name == "exploitation_forms":
            labels.append(_("forms of exploitation"))
            continue
        for model in (Case, Person):
            try:
                field = model._meta.get_field(name)
                labels.append(str(getattr(field, "verbose_name", name)))
                break
            except FieldDoesNotExist:
                continue
        else:
            labels.append(name)
    return ", ".join(labels)


def _when(value: Any) -> str:
    if not value:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    from django.utils.formats import date_format

    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return date_format(moment, "SHORT_DATETIME_FORMAT")


def describe_event(event: CaseEvent) -> str:
    """One translated sentence for a timeline entry (the time is shown next to it). Unknown kinds stay readable."""
    d = event.data or {}
    who = _actor(event)
    agency = str(d.get("agency_name") or d.get("to_agency") or d.get("agency") or "")
    kind = event.kind
    if kind == "consent" and d.get("country"):
        agency = _country(str(d["country"]))  # consent to sharing with another country names the country
    service = _service_name(str(d.get("service") or d.get("service_name") or ""), _event_country(event))
    if kind == "imported":
        return _("%(who)s imported the case from a file (import %(import)s, row %(row)s).") % {
            "who": who,
            "import": d.get("import", ""),
            "row": d.get("row", ""),
        }
    if kind == "referred":
        text = _("%(who)s referred the person to %(owner)s.") % {
            "who": who,
            "owner": d.get("owning_agency", ""),
        }
        return text + (" " + _("The person is a child.") if d.get("child") else "")
    if kind == "consent":
        values = {
            "who": who,
            "purpose": _label(ConsentPurpose.choices, d.get("purpose", "")),
            "basis": _label(ConsentBasis.choices, d.get("basis", "")),
            "agency": agency,
        }
        if not d.get("given"):
            return _("%(who)s recorded that consent was refused for: %(purpose)s.") % values
        if agency:
            return _("%(who)s recorded consent for: %(purpose)s, to %(agency)s (%(basis)s).") % values
        return _("%(who)s recorded consent for: %(purpose)s (%(basis)s).") % values
    if kind == "consent_withdrawn":
        return _("%(who)s recorded that consent was withdrawn for: %(purpose)s.") % {
            "who": who,
            "purpose": _label(ConsentPurpose.choices, d.get("purpose", "")),
        }
    if kind == "updated":
        return _("%(who)s changed the case: %(fields)s.") % {
            "who": who,
            "fields": _field_names(d.get("fields", [])),
        }
    if kind == "identity_updated":
        return _("%(who)s changed the identity: %(fields)s.") % {
            "who": who,
            "fields": _field_names(d.get("fields", [])),
        }
    if kind == "screened":
        return _("%(who)s screened the person (%(instrument)s %(version)s): %(conclusion)s.") % {
            "who": who,
            "instrument": d.get("instrument", ""),
            "version": d.get("version", ""),
            "conclusion": _conclusion_label(str(d.get("conclusion", ""))),
        }
    if kind in ("decision_requested", "appeal_lodged"):
        values = {"who": who, "route": _route(d.get("route", "")), "deadline": _when(d.get("deadline"))}
        if kind == "appeal_lodged":
            return _("%(who)s lodged an appeal (%(route)s); the decision is due by %(deadline)s") % values
        return _("%(who)s requested an identification decision (%(route)s), due by %(deadline)s") % values
    if kind == "decided":
        values = {
            "who": who,
            "outcome": _label(DecisionOutcome.choices, d.get("outcome", "")),
            "route": _route(d.get("route", "")),
        }
        if d.get("within_deadline") is False:
            return _("%(who)s recorded the decision (%(route)s): %(outcome)s, after the deadline.") % values
        return _("%(who)s recorded the decision (%(route)s): %(outcome)s.") % values
    if kind == "closed":
        return _("%(who)s closed the case: %(reason)s.") % {
            "who": who,
            "reason": _label(ClosureReason.choices, d.get("reason", "")),
        }
    if kind == "reopened":
        return _("%(who)s reopened the case (now: %(status)s).") % {
            "who": who,
            "status": _label(CaseStatus.choices, d.get("status", "")),
        }
    if kind in ("compensation_approved", "compensation_paid"):
        values = {"who": who, "amount": d.get("amount", ""), "currency": d.get("currency", "")}
        if kind == "compensation_paid":
            return _("%(who)s recorded the payment of the compensation (%(amount)s %(currency)s).") % values
        return _("%(who)s approved the compensation (%(amount)s %(currency)s).") % values
    if kind in ("plan_item_added", "plan_item_completed"):
        values = {"who": who, "type": _label(htcds_snake_choices("spl_Type"), d.get("type", ""))}
        if kind == "plan_item_completed":
            return _("%(who)s completed a support plan item: %(type)s.") % values
        return _("%(who)s added a support plan item: %(type)s.") % values
    if kind == "note_added":
        return _("%(who)s added a note.") % {"who": who}
    if kind == "attachment_added":
        return _("%(who)s attached a file.") % {"who": who}
    described = _describe_referral(kind, who, agency, service)
    if described:
        return described
    for describer in event_describers:
        if (sentence := describer(event, who)) is not None:
            return sentence
    return _("%(who)s: %(kind)s.") % {"who": who, "kind": kind.replace("_", " ")}


def _event_country(event: CaseEvent) -> str:
    field = CaseEvent._meta.get_field("case")
    case = field.get_cached_value(event) if field.is_cached(event) else None
    if case is None and event.case_id:
        case = Case.objects.filter(pk=event.case_id).only("country").first()
    return str(getattr(case, "country", "")) if case is not None else ""


def _service_name(code: str, country: str) -> str:
    """The service's name in the reader's language (events store the stable code)."""
    if not code:
        return ""
    from django.apps import apps

    if not apps.is_installed("opennrm.referrals"):
        return code
    service = apps.get_model("referrals", "ServiceType").objects.filter(country=country, code=code).first()
    return str(service.name) if service is not None else code


def _conclusion_label(value: str) -> str:
    from opennrm.cases.screening import Conclusion

    try:
        return str(Conclusion(value).label)
    except ValueError:
        return value.replace("_", " ")


def _describe_referral(kind: str, who: str, agency: str, service: str) -> str:
    values = {"who": who, "agency": agency, "service": service}
    if kind == "referral_sent":
        if agency and service:
            return _("%(who)s referred the person to %(agency)s for %(service)s.") % values
        return _("%(who)s sent a referral to a service.") % values
    sentences = {
        "referral_accepted": (
            _("%(who)s accepted the referral for %(service)s."),
            _("%(who)s accepted a referral."),
        ),
        "referral_declined": (
            _("%(who)s declined the referral for %(service)s."),
            _("%(who)s declined a referral."),
        ),
        "referral_completed": (
            _("%(who)s completed the referral for %(service)s."),
            _("%(who)s completed a referral."),
        ),
        "referral_withdrawn": (
            _("%(who)s withdrew the referral for %(service)s."),
            _("%(who)s withdrew a referral."),
        ),
        "service_delivered": (
            _("%(who)s recorded a service given: %(service)s."),
            _("%(who)s recorded a service given."),
        ),
    }
    if kind not in sentences:
        return ""
    with_service, without = sentences[kind]
    return (with_service if service else without) % values


def _route(key: str) -> str:
    try:
        return str(active_profile().authority(key).name) if key else ""
    except UnknownCodeError:
        return key


@dataclass(frozen=True)
class TimelineEntry:
    event: CaseEvent
    text: str


def timeline_of(case: Case, *, last: int | None = None) -> tuple[list[TimelineEntry], int]:
    events: QuerySet[CaseEvent] = case.timeline.select_related("actor", "agency")
    total = events.count()
    chosen = list(events.order_by("-at", "-id")[:last]) if last else list(events.order_by("-at", "-id"))
    return [TimelineEntry(event=e, text=describe_event(e)) for e in chosen], total


# --- the case page -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    decision: Decision
    overdue: bool
    placeholder: bool


def _clock(case: Case) -> Clock | None:
    decision = case.decisions.filter(outcome="").order_by("deadline_at").first()
    if decision is None:
        return None
    placeholder = not active_profile().deadline(child=case.is_child).configured
    return Clock(decision=decision, overdue=decision.deadline_at < timezone.now(), placeholder=placeholder)


def _overview(case: Case) -> dict[str, Any]:
    forms = sorted(case.exploitation_forms.values_list("form", flat=True))
    events = [
        {
            "type": _label(EventType.choices, e.type),
            "country": _country(e.country),
            "place": e.place,
            "date": e.date,
        }
        for e in case.events.all()
    ]
    return {
        "forms": _labels("vic_TypeOfExploitation", forms),
        "region": _region(case.region),
        "industry": _label(htcds_snake_choices("vic_ForcedLabourIndustry"), case.forced_labour_industry),
        "sexual": _labels("vic_TypeOfSexExploitation", case.sexual_exploitation_types),
        "control": _labels("vic_MethodsOfControl", case.methods_of_control),
        "recruitment": _labels("vic_MethodOfRecruitment", case.methods_of_recruitment),
        "relationship": _label(
            htcds_snake_choices("vic_RelationshipToTrafficker"), case.relationship_to_trafficker
        ),
        "perpetrators": _labels("per_RoleInProcess", case.perpetrator_roles),
        "events": events,
        "route": _route(case.identification_route),
    }


def _detail_context(request: HttpRequest, case: Case, access: Access) -> dict[str, Any]:
    timeline, total = timeline_of(case, last=TIMELINE_ON_PAGE)
    return _page(
        case,
        access,
        can_identity=can_read_identity(access, case),
        overview=_overview(case),
        consents=_consents(case),
        panels=panels_for("case_detail", request, case),
        timeline=timeline,
        timeline_total=total,
    )


def _page(case: Case, access: Access, **extra: Any) -> dict[str, Any]:
    """What every page of a case shows in its header and navigation."""
    return {
        "case": case,
        "access": access,
        "clock": _clock(case),
        "today": timezone.localdate(),
        "can_edit": can_edit(access, case),
        **extra,
    }


def _consents(case: Case) -> list[Consent]:
    consents = list(case.consents.select_related("agency", "recorded_by").order_by("-created_at"))
    for consent in consents:  # a consent to sharing with another country names it: shown by its name
        setattr(consent, "country_name", _country(consent.country))  # noqa: B010
    return consents


@require_GET
def detail(request: HttpRequest, public_id: str = "") -> HttpResponse:
    access = access_of(request)
    case = get_case(request, public_id)
    return render(request, "cases/detail.html", _detail_context(request, case, access))


# --- identity ------------------------------------------------------------------------------------------


def _identity_view(case: Case, values: dict[str, Any], private: dict[str, Any]) -> dict[str, Any]:
    person = case.person
    return {
        "given_name": values.get("given_name", ""),
        "family_name": values.get("family_name", ""),
        "other_names": values.get("other_names") or [],
        "date_of_birth": values.get("date_of_birth"),
        "documents": [
            {"type": _label(DocumentType.choices, str(doc.get("type", ""))), "number": doc.get("number", "")}
            for doc in values.get("documents") or []
        ],
        "contacts": [
            {"kind": _label(CONTACT_KINDS, str(c.get("kind", ""))), "value": c.get("value", "")}
            for c in values.get("contacts") or []
        ],
        "address": values.get("address", ""),
        "sex": person.get_sex_display(),
        "citizenship": _country(person.citizenship),
        "languages": [_language(code) for code in person.languages],
        "narrative": private.get("narrative", ""),
        "guardian": private.get("guardian", ""),
    }


def read_case_private(*, actor: User, case: Case) -> dict[str, str]:
    """The encrypted free text of the case (what happened, guardian), with the read audited."""
    audit.record_read(actor=actor, target=case, fields=CASE_PRIVATE_FIELDS, action="case.read")
    return {name: getattr(case, name) for name in CASE_PRIVATE_FIELDS}


@require_GET
def identity(request: HttpRequest, public_id: str = "") -> HttpResponse:
    """The identity of the person, shown on request (htmx: the section only). Every showing is audited."""
    access = access_of(request)
    case = get_case(request, public_id)
    if not can_read_identity(access, case):
        raise Http404
    values = read_identity(actor=_user(request), case=case, fields=IDENTITY_FIELDS)
    private = read_case_private(actor=_user(request), case=case)
    context = _page(case, access, identity=_identity_view(case, values, private))
    template = "cases/_identity.html" if getattr(request, "htmx", False) else "cases/identity.html"
    response = render(request, template, context)
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
def identity_edit(request: HttpRequest, public_id: str = "") -> HttpResponse:
    access = access_of(request)
    case = get_case(request, public_id, perm=Perm.CASE_EDIT)
    if not can_read_identity(access, case):
        raise Http404
    person = case.person
    if request.method == "POST":
        form = IdentityEditForm(request.POST, person=person, version=case.version)
        if form.is_valid():
            changes = form.changes()
            if not changes:
                messages.info(request, _("Nothing was changed."))
                return redirect("cases:detail", public_id=case.public_id)
            try:
                update_identity(
                    actor=_user(request),
                    case=case,
                    expected_version=form.cleaned_data["version"],
                    changes=changes,
                )
            except ConcurrentEditError as exc:
                form.add_error(None, exc)
            except DomainError as exc:
                form.add_error("date_of_birth" if exc.code == "future_date" else None, exc)
            else:
                messages.success(request, _("The identity was saved."))
                return redirect("cases:detail", public_id=case.public_id)
    else:
        read_identity(actor=_user(request), case=case, fields=IDENTITY_FIELDS)
        form = IdentityEditForm(person=person, version=case.version)
    concurrent = _is_concurrent(form)
    response = render(
        request, "cases/identity_edit.html", _page(case, access, form=form, concurrent=concurrent)
    )
    response["Cache-Control"] = "no-store"
    return response


def _is_concurrent(form: Any) -> bool:
    return any(getattr(e, "code", "") == "concurrent_edit" for e in form.non_field_errors().as_data())


# --- editing the case ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, public_id: str = "") -> HttpResponse:
    access = access_of(request)
    case = get_case(request, public_id, perm=Perm.CASE_EDIT)
    may_read_private = can_read_identity(access, case)
    if request.method == "POST":
        form = CaseEditForm(request.POST, case=case)
        if not may_read_private:
            for name in CASE_PRIVATE_FIELDS:
                form.fields.pop(name)
        if form.is_valid():
            changes, exploitation_forms = form.changes()
            if not changes and exploitation_forms is None:
                messages.info(request, _("Nothing was changed."))
                return redirect("cases:detail", public_id=case.public_id)
            try:
                update_case(
                    actor=_user(request),
                    case=case,
                    expected_version=form.cleaned_data["version"],
                    changes=changes,
                    exploitation_forms=exploitation_forms,
                )
            except DomainError as exc:  # a ConcurrentEditError too: the user's input stays in the form
                form.add_error(None, exc)
            else:
                messages.success(request, _("The case was saved."))
                return redirect("cases:detail", public_id=case.public_id)
    else:
        form = CaseEditForm(case=case)
        if may_read_private:
            read_case_private(actor=_user(request), case=case)
        else:
            for name in CASE_PRIVATE_FIELDS:
                form.fields.pop(name)
    response = render(
        request, "cases/edit.html", _page(case, access, form=form, concurrent=_is_concurrent(form))
    )
    response["Cache-Control"] = "no-store"
    return response


# --- consent -------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, public_id: str = "") -> HttpResponse:
    access = access_of(request)
    case = get_case(request, public_id)
    editable = can_edit(access, case)
    form = ConsentForm(request.POST or None) if editable else None
    if request.method == "POST":
        if not editable:
            raise Http404
        withdraw = request.POST.get("withdraw")
        if withdraw:
            target = case.consents.filter(public_id=withdraw, withdrawn_at__isnull=True).first()
            if target is None:
                raise Http404
            try:
                withdraw_consent(actor=_user(request), consent=target)
            except DomainError as exc:  # withdrawn by someone else meanwhile
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("The withdrawal of consent was recorded."))
            return redirect("cases:consent", public_id=case.public_id)
        if form is not None and form.is_valid():
            data = form.cleaned_data
            try:
                record_consent(
                    actor=_user(request),
                    case=case,
                    purpose=ConsentPurpose(data["purpose"]),
                    given=data["given"] == YES,
                    agency=data.get("agency"),
                    basis=ConsentBasis(data["basis"]),
                    justification=data.get("justification", ""),
                    country=data.get("country", ""),
                )
            except DomainError as exc:
                field = {
                    "agency_required": "agency",
                    "justification_required": "justification",
                    "invalid_basis": "basis",
                    "country_required": "country",
                    "unknown_code": "country",
                }.get(exc.code or "")
                form.add_error(field, exc)
            else:
                messages.success(request, _("The consent was recorded."))
                return redirect("cases:consent", public_id=case.public_id)
    context = _page(
        case, access, consents=_consents(case), form=form, can_identity=can_read_identity(access, case)
    )
    return render(request, "cases/consent.html", context)


@require_GET
def timeline(request: HttpRequest, public_id: str = "") -> HttpResponse:
    case = get_case(request, public_id)
    entries, total = timeline_of(case)
    context = _page(case, access_of(request), timeline=entries, timeline_total=total)
    return render(request, "cases/timeline.html", context)
