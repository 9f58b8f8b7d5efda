"""Exports and imports in the standards of the field: HTCDS 2.0 (CSV, JSON Lines) and the CTDC layout.

Pages
- export: the exports the user may make. HTCDS (identifying) for case workers, of the cases their agency owns
  (`htcds.exportable_cases`); CTDC (de-identified) for `stats.export` (coordinators), within their scope. Every
  download is a POST (never cached, never prefetched, not in the browser history), answered with
  `Cache-Control: no-store`, and audited: one entry with the exported field names and the number of records, and
  for HTCDS one read entry per exported person.
- import: upload form, and the imports the user may see; the job page shows progress (htmx polling every 2 s,
  and a plain reload link) and the row report, also downloadable as CSV.
A user who may do none of it gets 404, as does anyone opening a job of an agency outside their scope.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from opennrm.accounts.access import Access, request_access
from opennrm.accounts.models import Agency, User
from opennrm.accounts.roles import Perm
from opennrm.cases.selectors import IDENTITY_FIELDS
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.stats import ctdc, htcds, imports
from opennrm.stats.models import ImportJob, ImportKind

ISSUES_ON_PAGE = 200
# Identity fields of a person that an HTCDS export reads (for the per-person audit entry).
EXPORTED_IDENTITY = [f for f in IDENTITY_FIELDS if f != "other_names"]


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _attachment(content: str | bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- export --------------------------------------------------------------------------------------------------


class ExportForm(forms.Form):
    first_contact_from = forms.DateField(
        label=gettext_lazy("First contact from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    first_contact_to = forms.DateField(
        label=gettext_lazy("First contact until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    agency = forms.ModelChoiceField(
        label=gettext_lazy("Agency"),
        queryset=Agency.objects.none(),
        required=False,
        empty_label=gettext_lazy("All I may export"),
    )

    def __init__(self, *args: Any, agencies: QuerySet[Agency], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["agency"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = agencies

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("first_contact_from"), data.get("first_contact_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data


class CtdcExportForm(ExportForm):
    include_imported = forms.BooleanField(
        label=gettext_lazy("Include statistics imported from CTDC-layout files"), required=False
    )


def _date_filter(cases: QuerySet[Any], data: dict[str, Any]) -> QuerySet[Any]:
    if data.get("first_contact_from"):
        cases = cases.filter(first_contact_date__gte=data["first_contact_from"])
    if data.get("first_contact_to"):
        cases = cases.filter(first_contact_date__lte=data["first_contact_to"])
    return cases


def _htcds_agencies(access: Access) -> QuerySet[Agency]:
    return Agency.objects.filter(pk__in=htcds.exportable_cases(access).values("owning_agency_id")).order_by(
        "name"
    )


def _ctdc_agencies(access: Access) -> QuerySet[Agency]:
    if access.is_national(Perm.STATS_EXPORT):
        return Agency.objects.filter(is_active=True).order_by("name")
    return Agency.objects.filter(pk__in=access.agency_ids_with(Perm.STATS_EXPORT)).order_by("name")


@require_GET
def export_page(request: HttpRequest) -> HttpResponse:
    access = request_access(request)
    may_htcds, may_ctdc = htcds.may_export_identified(access), ctdc.may_export(access)
    if not (may_htcds or may_ctdc):
        raise Http404
    context: dict[str, Any] = {"may_htcds": may_htcds, "may_ctdc": may_ctdc}
    if may_htcds:
        context["htcds_form"] = ExportForm(agencies=_htcds_agencies(access), prefix="htcds")
        context["htcds_count"] = htcds.exportable_cases(access).count()
        context["exported_fields"] = htcds.EXPORTED_FIELDS
        context["not_exported"] = htcds.NOT_EXPORTED
    if may_ctdc:
        context["ctdc_form"] = CtdcExportForm(agencies=_ctdc_agencies(access), prefix="ctdc")
        context["ctdc_columns"] = ctdc.COLUMNS
    return render(request, "stats/export.html", context)


def _invalid_export(request: HttpRequest, form: ExportForm) -> HttpResponse:
    for error in form.errors.values():
        messages.error(request, "; ".join(str(e) for e in error))
    return redirect("stats:exchange_export")


@require_POST
def export_htcds(request: HttpRequest, file_format: str) -> HttpResponse:
    access = request_access(request)
    if not htcds.may_export_identified(access) or file_format not in ("csv", "jsonl"):
        raise Http404
    form = ExportForm(request.POST, agencies=_htcds_agencies(access), prefix="htcds")
    if not form.is_valid():
        return _invalid_export(request, form)
    cases = _date_filter(htcds.exportable_cases(access), form.cleaned_data)
    if form.cleaned_data.get("agency"):
        cases = cases.filter(owning_agency=form.cleaned_data["agency"])
    user = _user(request)
    record_list: list[dict[str, Any]] = []
    for case in htcds.export_queryset(cases):
        record_list.append(htcds.case_record(case))
        audit.record_read(
            actor=user,
            target=case.person,
            fields=EXPORTED_IDENTITY,
            action="person.exported",
            details={"case": case.public_id, "standard": "htcds"},
        )
    audit.record(
        actor=user,
        action="stats.htcds_exported",
        fields=htcds.exported_field_names(record_list),
        details={
            "format": file_format,
            "cases": len(record_list),
            "agency": form.cleaned_data["agency"].public_id if form.cleaned_data.get("agency") else "",
        },
    )
    stamp = timezone.localdate().isoformat()
    if file_format == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in record_list)
        return _attachment(
            text.encode("utf-8"), "application/x-ndjson; charset=utf-8", f"htcds-{stamp}.jsonl"
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = htcds.csv_header(record_list)
    writer.writerow(header)
    writer.writerows(htcds.csv_row(r, header) for r in record_list)
    return _attachment(
        ("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv; charset=utf-8", f"htcds-{stamp}.csv"
    )


@require_POST
def export_ctdc(request: HttpRequest) -> HttpResponse:
    access = request_access(request)
    if not ctdc.may_export(access):
        raise Http404
    form = CtdcExportForm(request.POST, agencies=_ctdc_agencies(access), prefix="ctdc")
    if not form.is_valid():
        return _invalid_export(request, form)
    cases, notifications, imported = ctdc.scoped_sources(access)
    data = form.cleaned_data
    cases, notifications = _date_filter(cases, data), _date_filter(notifications, data)
    agency = data.get("agency")
    if agency is not None:
        cases = cases.filter(owning_agency=agency)
        notifications = notifications.filter(referring_agency=agency)
        imported = imported.filter(agency=agency)
    if not data.get("include_imported"):
        imported = imported.none()
    else:
        if data.get("first_contact_from"):
            imported = imported.filter(year_of_registration__gte=data["first_contact_from"].year)
        if data.get("first_contact_to"):
            imported = imported.filter(year_of_registration__lte=data["first_contact_to"].year)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ctdc.COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for row in ctdc.ctdc_rows(cases=cases, notifications=notifications, imported=imported):
        writer.writerow(row)
        count += 1
    audit.record(
        actor=_user(request),
        action="stats.ctdc_exported",
        fields=ctdc.COLUMNS,
        details={
            "rows": count,
            "imported": bool(data.get("include_imported")),
            "agency": agency.public_id if agency is not None else "",
        },
    )
    stamp = timezone.localdate().isoformat()
    return _attachment(out.getvalue().encode("utf-8"), "text/csv; charset=utf-8", f"ctdc-{stamp}.csv")


# --- import --------------------------------------------------------------------------------------------------


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Standard of the file"), choices=ImportKind.choices)
    agency = forms.ModelChoiceField(label=gettext_lazy("Agency"), queryset=Agency.objects.none())
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy(
            "CSV (UTF-8, a header of field names) or JSON (one object per line, or a list)."
        ),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.json,.jsonl,.ndjson,text/csv,application/json"}
        ),
    )
    keep_references = forms.BooleanField(
        label=gettext_lazy("Keep OpenNRM case references (moving cases from another OpenNRM instance)"),
        required=False,
    )

    def __init__(self, *args: Any, access: Access, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access = access
        kinds = imports.import_kinds(access)
        kind_field = self.fields["kind"]
        assert isinstance(kind_field, forms.ChoiceField)
        kind_field.choices = [(k, label) for k, label in ImportKind.choices if k in kinds]
        agency_field = self.fields["agency"]
        assert isinstance(agency_field, forms.ModelChoiceField)
        ids: set[int] = set()
        for kind in kinds:
            ids |= set(imports.import_agencies(access, kind).values_list("pk", flat=True))
        agency_field.queryset = Agency.objects.filter(pk__in=ids).order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, agency = data.get("kind"), data.get("agency")
        if kind and agency and not imports.import_agencies(self.access, kind).filter(pk=agency.pk).exists():
            self.add_error("agency", _("You may not import this kind of file for this agency."))
        return data


@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest) -> HttpResponse:
    access = request_access(request)
    if not imports.import_kinds(access):
        raise Http404
    form = ImportForm(request.POST or None, request.FILES or None, access=access)
    if request.method == "POST" and form.is_valid():
        try:
            job = imports.start_import(
                actor=_user(request),
                agency=form.cleaned_data["agency"],
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
                keep_references=form.cleaned_data["keep_references"],
            )
        except DomainError as exc:
            form.add_error("file", exc.messages[0])
        else:
            return redirect("stats:exchange_import_job", public_id=job.public_id)
    jobs = imports.visible_jobs(access).order_by("-created_at")[:20]
    return render(request, "stats/import.html", {"form": form, "jobs": jobs})


def _job(request: HttpRequest, public_id: str) -> ImportJob:
    job = imports.visible_jobs(request_access(request)).filter(public_id=public_id).first()
    if job is None:
        raise Http404
    return job


def _job_context(job: ImportJob) -> dict[str, Any]:
    return {
        "job": job,
        "can_rerun": imports.can_rerun(job),
        "failure": imports.issue_message(job.failure, {}) if job.failure else "",
    }


@require_GET
def import_job(request: HttpRequest, public_id: str) -> HttpResponse:
    job = _job(request, public_id)
    page = Paginator(job.issues.all(), ISSUES_ON_PAGE).get_page(request.GET.get("page"))
    rows = [
        {
            "row": issue.row,
            "field": issue.field,
            "label": htcds.field_label(issue.field) if job.kind == ImportKind.HTCDS and issue.field else "",
            "severity": issue.get_severity_display(),
            "severity_code": issue.severity,
            "message": issue.message,
            "value": issue.value,
        }
        for issue in page
    ]
    return render(request, "stats/import_job.html", {**_job_context(job), "page": page, "rows": rows})


@require_GET
def import_progress(request: HttpRequest, public_id: str) -> HttpResponse:
    job = _job(request, public_id)
    response = render(request, "stats/import_progress.html", _job_context(job))
    if not job.is_active and request.GET.get("was") == "active":
        response["HX-Refresh"] = "true"  # the import ended while the page watched it: show the report
    return response


@require_GET
def import_report(request: HttpRequest, public_id: str) -> HttpResponse:
    job = _job(request, public_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_("Row"), _("Field"), _("Outcome"), _("Problem"), _("Value")])
    for issue in job.issues.all().iterator():
        writer.writerow(
            [issue.row, issue.field, issue.get_severity_display(), issue.message, htcds.csv_cell(issue.value)]
        )
    return _attachment(
        ("\ufeff" + out.getvalue()).encode("utf-8"),
        "text/csv; charset=utf-8",
        f"import-{job.public_id}-report.csv",
    )


@require_POST
def import_rerun(request: HttpRequest, public_id: str) -> HttpResponse:
    job = _job(request, public_id)
    try:
        imports.rerun_import(actor=_user(request), job=job)
    except DomainError as exc:
        messages.error(request, exc.messages[0])
    return redirect(reverse("stats:exchange_import_job", kwargs={"public_id": job.public_id}))
