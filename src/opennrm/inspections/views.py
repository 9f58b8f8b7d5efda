"""The inspection pages: server-rendered, phone-first, htmx only as an enhancement.

Every page starts from `selectors.visible_inspections` (reading) or `selectors.writable_inspections` (acting): an
inspection the user may not see or act on answers 404, exactly like one that does not exist. A refused act
(`DomainError`) re-renders its form with the service's translated message on the field it concerns, and changed
nothing; a done act redirects (post/redirect/get) with a message.

The screening page saves a draft at every change: htmx posts the form to `screening_save` (debounced, one request
at a time), which saves and answers the updated result, the status of each dimension and the new version. Without
JavaScript the "Save the draft" button does the same through the page itself. Reloading the page shows what was
saved.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from opennrm.accounts.access import Access, request_access
from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases import screening as instruments
from opennrm.cases.choices import htcds_snake_choices
from opennrm.cases.selectors import visible_cases
from opennrm.core import audit
from opennrm.core.errors import ConcurrentEditError, DomainError
from opennrm.core.profiles import active_profile
from opennrm.inspections import selectors, services
from opennrm.inspections.forms import InspectionForm, ReferForm, ScreeningForm, StartScreeningForm
from opennrm.inspections.models import EmployerIdentifier, Inspection, ScreeningStatus, WorkerScreening

PAGE_SIZE = 50
ENCRYPTED = ("employer_name", "employer_identifiers", "findings")

# Where a refused act's message belongs on each form (by the DomainError code); else on the whole form.
INSPECTION_ERRORS = {
    "interviewed_above_present": "workers_interviewed",
    "invalid_count": "workers_present",
    "future_date": "date",
    "invalid_date": "date",
    "not_inspector": "inspectors",
}
START_ERRORS = {
    "invalid_age": "age",
    "wrong_population": "choice",
    "unknown_instrument": "choice",
    "not_labour_list": "choice",
}
REFER_ERRORS = {
    "name_required": "given_name",
    "required": "given_name",
    "age_required": "age_estimate",
    "agency_required": "owning_agency",
    "future_date": "date_of_birth",
    "invalid_date": "date_of_birth",
    "invalid_age": "age_estimate",
    "consent_required": "consent",
}


# --- helpers ---------------------------------------------------------------------------------------------------


def _access(request: HttpRequest) -> Access:
    return request_access(request)


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _attach(form: Any, exc: DomainError, fields: dict[str, str]) -> None:
    field = fields.get(exc.code or "")
    form.add_error(field if field in form.fields else None, exc)


def _inspection(request: HttpRequest, public_id: str, *, write: bool = False) -> Inspection:
    access = _access(request)
    inspections = selectors.writable_inspections(access) if write else selectors.visible_inspections(access)
    inspection = inspections.select_related("agency").defer(*ENCRYPTED).filter(public_id=public_id).first()
    if inspection is None:
        raise Http404
    return inspection


def _screening(request: HttpRequest, public_id: str, *, write: bool = False) -> WorkerScreening:
    access = _access(request)
    screenings = selectors.writable_screenings(access) if write else selectors.visible_screenings(access)
    screening = (
        screenings.select_related("inspection", "inspection__agency", "case", "notification")
        .defer(*(f"inspection__{name}" for name in ENCRYPTED), "case__narrative", "case__guardian")
        .filter(public_id=public_id)
        .first()
    )
    if screening is None:
        raise Http404
    return screening


def _labels(inspection: Inspection) -> dict[str, str]:
    sectors = dict(htcds_snake_choices("vic_ForcedLabourIndustry"))
    try:
        region = active_profile().region_name(inspection.region)
    except LookupError:
        region = inspection.region
    return {"sector": str(sectors.get(inspection.sector, inspection.sector)), "region": region}


def _read_employer(request: HttpRequest, inspection: Inspection) -> Inspection:
    """The inspection with its employer and findings decrypted, the read audited."""
    full = Inspection.objects.only("id", "public_id", *ENCRYPTED).get(pk=inspection.pk)
    audit.record_read(
        actor=_actor(request), target=inspection, fields=list(ENCRYPTED), action="inspection.employer.read"
    )
    return full


# --- inspections ---------------------------------------------------------------------------------------------


@require_GET
def inspection_list(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    if not selectors.may_list(access):
        raise Http404
    inspections = selectors.with_counts(selectors.visible_inspections(access)).select_related("agency")
    page = Paginator(inspections.order_by("-date", "-created_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    sectors = dict(htcds_snake_choices("vic_ForcedLabourIndustry"))
    regions = dict(active_profile().region_choices())
    rows = [
        (i, str(sectors.get(i.sector, i.sector)), regions.get(i.region, i.region)) for i in page.object_list
    ]
    context = {
        "page": page,
        "rows": rows,
        "can_record": bool(selectors.recording_agencies(access)),
        "oversees": selectors.oversees(access),
        "stats": access.has(Perm.STATS_VIEW),
    }
    return render(request, "inspections/list.html", context)


@require_http_methods(["GET", "POST"])
def inspection_create(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    agencies = selectors.recording_agencies(access)
    if not agencies:
        raise Http404
    form = InspectionForm(
        request.POST or None, agencies=agencies, inspectors=selectors.inspectors_of(agencies)
    )
    if request.method == "POST" and form.is_valid():
        try:
            inspection = services.record_inspection(
                actor=_actor(request),
                agency=form.chosen_agency(),
                inspectors=list(form.cleaned_data["inspectors"]) or None,
                **form.values(),
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as exc:
            _attach(form, exc, INSPECTION_ERRORS)
        else:
            messages.success(request, _("The inspection was recorded. Screen the workers you interview."))
            return HttpResponseRedirect(reverse("inspections:detail", args=[inspection.public_id]))
    return render(request, "inspections/form.html", {"form": form, "inspection": None})


@require_GET
def inspection_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    access = _access(request)
    inspection = _inspection(request, public_id)
    writer = selectors.can_act(access, inspection)
    screenings = list(
        inspection.screenings.select_related("case", "notification")
        .defer("case__narrative", "case__guardian")
        .order_by("created_at", "id")
    )
    case_ids = [s.case_id for s in screenings if s.case_id]
    visible = (
        set(visible_cases(access).filter(pk__in=case_ids).values_list("pk", flat=True)) if case_ids else set()
    )
    employer = _read_employer(request, inspection) if writer else None
    kinds = dict(EmployerIdentifier.choices)
    conclusions = dict(instruments.Conclusion.choices)
    context: dict[str, Any] = {
        "inspection": inspection,
        "labels": _labels(inspection),
        "inspectors": [
            u.get_full_name() or u.get_username() for u in inspection.inspectors.order_by("first_name")
        ],
        "writer": writer,
        "employer": employer,
        "identifiers": [
            (str(kinds.get(item["type"], item["type"])), item["value"])
            for item in (employer.identifiers if employer else [])
        ],
        "screenings": [
            (s, s.case_id in visible, conclusions.get(s.conclusion, s.conclusion)) for s in screenings
        ],
    }
    return render(request, "inspections/detail.html", context)


@require_http_methods(["GET", "POST"])
def inspection_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    inspection = _inspection(request, public_id, write=True)
    agencies = [inspection.agency]
    kwargs: dict[str, Any] = {"agencies": agencies, "inspectors": selectors.inspectors_of(agencies)}
    if request.method == "POST":
        form = InspectionForm(request.POST, **kwargs)
        if form.is_valid():
            changes = form.values()
            if form.cleaned_data["inspectors"]:
                changes["inspectors"] = list(form.cleaned_data["inspectors"])
            try:
                services.update_inspection(
                    actor=_actor(request),
                    inspection=inspection,
                    expected_version=form.cleaned_data["version"] or 0,
                    changes=changes,
                )
            except DomainError as exc:
                _attach(form, exc, INSPECTION_ERRORS)
            else:
                messages.success(request, _("The inspection was updated."))
                return HttpResponseRedirect(reverse("inspections:detail", args=[inspection.public_id]))
    else:
        full = _read_employer(request, inspection)
        inspection.employer_name, inspection.employer_identifiers = (
            full.employer_name,
            full.employer_identifiers,
        )
        inspection.findings = full.findings
        form = InspectionForm(initial=InspectionForm.initial_for(inspection), **kwargs)
    return render(request, "inspections/form.html", {"form": form, "inspection": inspection})


# --- screening workers ---------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def screening_start(request: HttpRequest, public_id: str) -> HttpResponse:
    inspection = _inspection(request, public_id, write=True)
    form = StartScreeningForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        instrument_id, version, list_id = form.chosen()
        data = form.cleaned_data
        try:
            screening = services.start_screening(
                actor=_actor(request),
                inspection=inspection,
                instrument_id=instrument_id,
                instrument_version=version,
                list_id=list_id,
                age=data.get("age"),
                sex=data["sex"],
                citizenship=data.get("citizenship", ""),
            )
        except DomainError as exc:
            _attach(form, exc, START_ERRORS)
        else:
            return HttpResponseRedirect(reverse("inspections:screening", args=[screening.public_id]))
    context = {"inspection": inspection, "labels": _labels(inspection), "form": form}
    return render(request, "inspections/screen_start.html", context)


def _setup(screening: WorkerScreening) -> tuple[Any, Any, str]:
    """The instrument and list of the screening, exactly as used (same digest); else an explanation."""
    try:
        instrument, item = services.labour_list(
            screening.instrument_id,
            screening.instrument_version,
            screening.list_id,
            digest=screening.instrument_digest,
        )
    except DomainError as exc:
        return None, None, " ".join(str(m) for m in exc.messages)
    return instrument, item, ""


def _live_context(screening: WorkerScreening, instrument: Any, item: Any, found: set[str]) -> dict[str, Any]:
    known = {indicator.id for indicator in item.indicators}
    result = instruments.evaluate(instrument=instrument, list_id=item.id, found=found & known)
    by_id = {d.id: d for d in result.dimensions}
    return {
        "result": result,
        "dimensions": [(dimension, by_id[dimension.id]) for dimension in item.dimensions],
        "found": found,
    }


def _screening_page(
    request: HttpRequest,
    screening: WorkerScreening,
    *,
    form: ScreeningForm | None = None,
    status: int = 200,
) -> HttpResponse:
    access = _access(request)
    instrument, item, problem = _setup(screening)
    writer = selectors.can_act(access, screening.inspection)
    context: dict[str, Any] = {
        "screening": screening,
        "inspection": screening.inspection,
        "labels": _labels(screening.inspection),
        "instrument": instrument,
        "instrument_list": item,
        "problem": problem,
        "editable": writer and screening.is_open and not problem,
        "writer": writer,
        "may_refer": writer
        and screening.status in (ScreeningStatus.DRAFT, ScreeningStatus.COMPLETED)
        and not problem,
        "case_visible": screening.case_id is not None
        and visible_cases(access).filter(pk=screening.case_id).exists(),
        "form": form,
    }
    if item is not None:
        found = set(screening.found)
        if form is not None and form.is_bound and hasattr(form, "cleaned_data") and not form.errors:
            found = set(form.cleaned_data["found"])
        context.update(_live_context(screening, instrument, item, found))
    return render(request, "inspections/screening.html", context, status=status)


@require_http_methods(["GET", "POST"])
def screening_page(request: HttpRequest, public_id: str) -> HttpResponse:
    if request.method == "GET":
        return _screening_page(request, _screening(request, public_id))
    screening = _screening(request, public_id, write=True)
    _instrument, item, problem = _setup(screening)
    if item is None:
        messages.error(request, problem)
        return HttpResponseRedirect(reverse("inspections:screening", args=[screening.public_id]))
    form = ScreeningForm(request.POST, instrument_list=item)
    if not form.is_valid():
        return _screening_page(request, screening, form=form, status=400)
    action = request.POST.get("action", "save")
    try:
        if action == "complete":
            services.complete_screening(
                actor=_actor(request),
                screening=screening,
                expected_version=form.cleaned_data["version"],
                found=form.cleaned_data["found"],
            )
            messages.success(
                request, _("The screening of %(worker)s is complete.") % {"worker": screening.pseudonym}
            )
        else:
            services.save_draft(
                actor=_actor(request),
                screening=screening,
                expected_version=form.cleaned_data["version"],
                found=form.cleaned_data["found"],
            )
            messages.success(request, _("The draft was saved."))
    except ConcurrentEditError as exc:
        messages.error(request, " ".join(str(m) for m in exc.messages))
        return _screening_page(request, _screening(request, public_id), status=409)
    except DomainError as exc:
        form.add_error(None, exc)
        return _screening_page(request, screening, form=form, status=400)
    return HttpResponseRedirect(reverse("inspections:screening", args=[screening.public_id]))


@require_POST
def screening_save(request: HttpRequest, public_id: str) -> HttpResponse:
    """htmx: save the draft as it is filled; answers the result, each dimension's status and the new version.

    A refusal answers 200 with the message (htmx swaps only successful answers, and the inspector must see that
    their last tick was not saved) and the version as stored, so that the next change can be saved."""
    screening = _screening(request, public_id, write=True)
    instrument, item, problem = _setup(screening)
    error = problem
    if item is not None:
        form = ScreeningForm(request.POST, instrument_list=item)
        if not form.is_valid():
            error = " ".join(str(e) for errors in form.errors.values() for e in errors)
        else:
            try:
                services.save_draft(
                    actor=_actor(request),
                    screening=screening,
                    expected_version=form.cleaned_data["version"],
                    found=form.cleaned_data["found"],
                )
            except DomainError as exc:
                error = " ".join(str(m) for m in exc.messages)
                screening = _screening(request, public_id, write=True)
    context: dict[str, Any] = {"screening": screening, "error": error, "saved": not error}
    if item is not None:
        context.update(_live_context(screening, instrument, item, set(screening.found)))
    return render(request, "inspections/_live.html", context)


# --- referral ----------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def refer(request: HttpRequest, public_id: str) -> HttpResponse:
    screening = _screening(request, public_id, write=True)
    if screening.status not in (ScreeningStatus.DRAFT, ScreeningStatus.COMPLETED):
        messages.info(
            request, _("%(worker)s was already referred or notified.") % {"worker": screening.pseudonym}
        )
        return HttpResponseRedirect(reverse("inspections:screening", args=[screening.public_id]))
    form = ReferForm(
        request.POST or None, initial={"version": screening.version, "age_estimate": screening.age}
    )
    if request.method == "POST" and form.is_valid():
        try:
            done = services.refer_worker(
                actor=_actor(request),
                screening=screening,
                consent_given=form.consent_given,
                identity=form.identity(),
                owning_agency=form.cleaned_data.get("owning_agency"),
                expected_version=form.cleaned_data["version"],
            )
        except DomainError as exc:
            _attach(form, exc, REFER_ERRORS)
        else:
            if done.case is not None:
                text = _("%(worker)s was referred to the mechanism: case %(reference)s.") % {
                    "worker": done.pseudonym,
                    "reference": done.case.reference,
                }
            else:
                text = _(
                    "An anonymous notification was filed for %(worker)s. Nothing that identifies the worker "
                    "was kept."
                ) % {"worker": done.pseudonym}
            if active_profile().labour_inspection.notify_police_on_referral:
                text += " " + _("The police partner was alerted.")
            messages.success(request, text)
            return HttpResponseRedirect(reverse("inspections:detail", args=[screening.inspection.public_id]))
    context = {
        "screening": screening,
        "inspection": screening.inspection,
        "labels": _labels(screening.inspection),
        "form": form,
        "conclusion": instruments.Conclusion(screening.conclusion).label
        if screening.conclusion in instruments.Conclusion.values
        else screening.conclusion,
        "reason": screening.result.get("reason", ""),
        "child": screening.is_child,
    }
    return render(request, "inspections/refer.html", context)


# --- statistics --------------------------------------------------------------------------------------------


@require_GET
def statistics(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    if not access.has(Perm.STATS_VIEW):
        raise Http404
    try:
        year = int(request.GET.get("year", "") or 0) or None
    except ValueError:
        year = None
    if year is not None and not 2000 <= year <= 2100:
        year = None
    stats = selectors.inspection_statistics(year=year)
    per = [
        ("inspections", _("Inspections")),
        ("joint", _("Joint with the police")),
        ("interviewed", _("Workers interviewed")),
        ("screened", _("Workers screened")),
        ("presumed", _("Presumed victims")),
        ("referred", _("Referred or notified")),
    ]
    context = {
        "stats": stats,
        "by_sector": _display(stats.by_sector, per, _("Inspections and workers by sector"), _("Sector")),
        "by_region": _display(stats.by_region, per, _("Inspections and workers by region"), _("Region")),
        "conclusions": _display(
            stats.conclusions,
            [("screenings", _("Workers screened")), ("referred", _("Referred or notified"))],
            _("Workers screened by conclusion"),
            _("Conclusion"),
        ),
        "outcomes": _display(
            stats.outcomes, [("cases", _("Cases"))], _("Cases referred, by their status today"), _("Status")
        ),
    }
    return render(request, "inspections/stats.html", context)


def _display(
    table: selectors.Table, columns: list[tuple[str, str]], caption: str, key_label: str
) -> dict[str, Any]:
    """A statistics table as the template draws it: a caption, the column headings, rows of numbers, totals."""
    keys = [key for key, _label in columns]
    return {
        "caption": caption,
        "key_label": key_label,
        "columns": [label for _key, label in columns],
        "rows": [(row.label, [row.values.get(key, 0) for key in keys]) for row in table.rows],
        "total": [table.total.get(key, 0) for key in keys],
        "largest": table.largest,
    }
