"""Statistics pages: the dashboard (each indicator as a chart with the table of its figures under it, filtered by
year, region, sex, age group and form of exploitation), each table as CSV or Excel, and the annual report as PDF in
the language chosen.

Only users with `stats.view` (coordinators, analysts) reach them; anyone else gets 404, as for a page that does
not exist. Every figure comes from `indicators.py` for the user's scope, so the dashboard, the downloads and the
report always agree. Downloads and reports leave the platform: each one is recorded in the audit log (which table
or report, which filters; no figures).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from opennrm.accounts.access import Access, request_access
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import AgeGroup, htcds_snake_choices
from opennrm.core import audit
from opennrm.core.profiles import active_profile
from opennrm.core.reference import country_name
from opennrm.stats.charts import chart_for, format_figure
from opennrm.stats.indicators import (
    INDICATORS,
    Filters,
    Number,
    Table,
    all_tables,
    available_years,
    stats_scope,
)

FORMATS = {"csv", "xlsx"}
# Tables that describe today, not a year: shown on the dashboard, left out of the annual report.
TODAY_ONLY = {"waiting", "places"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _sections() -> list[tuple[str, list[str]]]:
    return [
        (
            _("Presumed and identified victims"),
            ["victims", "sex", "age", "citizenship", "form", "region", "referrer", "route"],
        ),
        (_("Identification decisions"), ["decisions", "waiting"]),
        (_("Referrals and services"), ["referrals"]),
        (_("Shelters"), ["occupancy", "places"]),
        (_("Compensation"), ["compensation"]),
    ]


def _access(request: HttpRequest) -> Access:
    access = request_access(request)
    if not access.has(Perm.STATS_VIEW):
        raise Http404
    return access


# --- filters ------------------------------------------------------------------------------------------------


class FilterForm(forms.Form):
    year = forms.TypedChoiceField(label=gettext_lazy("Year"), coerce=int, required=False, empty_value=None)
    region = forms.ChoiceField(label=gettext_lazy("Region"), required=False)
    sex = forms.ChoiceField(label=gettext_lazy("Sex"), required=False)
    age_group = forms.ChoiceField(label=gettext_lazy("Age group"), required=False)
    form = forms.ChoiceField(label=gettext_lazy("Form of exploitation"), required=False)

    def __init__(self, data: Any, *, years: list[int]) -> None:
        super().__init__(data)
        choices: dict[str, list[tuple[Any, Any]]] = {
            "year": [("", _("All years"))] + [(str(y), str(y)) for y in years],
            "region": [("", _("All regions")), *active_profile().region_choices()],
            "sex": [("", _("All")), *htcds_snake_choices("prs_Gender")],
            "age_group": [("", _("All ages")), *AgeGroup.choices],
            "form": [("", _("All forms")), *htcds_snake_choices("vic_TypeOfExploitation")],
        }
        for name, field_choices in choices.items():
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = field_choices

    def filters(self) -> Filters:
        """The filters of the valid fields (an invalid one is shown with its error and left out)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return Filters(
            year=data.get("year"),
            region=data.get("region", ""),
            sex=data.get("sex", ""),
            age_group=data.get("age_group", ""),
            form=data.get("form", ""),
        )


def _years(access: Access, requested: str | None, years: list[int] | None = None) -> list[int]:
    """The years offered: those with data in scope; a year asked for by URL is accepted if it is plausible."""
    years = available_years(access) if years is None else years
    if requested and requested.isdigit() and 1990 <= int(requested) <= timezone.localdate().year:
        years = sorted({*years, int(requested)}, reverse=True)
    return years


def _strict_filters(request: HttpRequest, access: Access) -> Filters | None:
    """For downloads and the report: the filters, or None when one of them is not valid."""
    form = FilterForm(request.GET, years=_years(access, request.GET.get("year")))
    return form.filters() if form.is_valid() else None


# --- the dashboard ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableView:
    table: Table
    chart: SafeString
    rows: list[tuple[str, list[str]]]
    totals: tuple[str, list[str]] | None
    csv_url: str
    xlsx_url: str


def _display(values: tuple[Number, ...]) -> list[str]:
    return [format_figure(v) for v in values]


def _table_view(table: Table, filters: Filters, *, chart_id: str | None = None) -> TableView:
    query = urlencode(filters.as_query())
    suffix = f"?{query}" if query else ""
    return TableView(
        table=table,
        chart=chart_for(table, chart_id=chart_id),
        rows=[(row.label, _display(row.values)) for row in table.rows],
        totals=(table.totals.label, _display(table.totals.values)) if table.totals else None,
        csv_url=reverse("stats:download", args=[table.key, "csv"]) + suffix,
        xlsx_url=reverse("stats:download", args=[table.key, "xlsx"]) + suffix,
    )


def _key_figures(tables: dict[str, Table]) -> list[tuple[str, str]]:
    """The few figures a coordinator is asked most, from the tables' totals."""

    def total(key: str, index: int) -> Number:
        table = tables.get(key)
        return table.totals.values[index] if table and table.totals else None

    figures = [
        (_("Presumed victims referred"), total("victims", 0)),
        (_("Identified victims"), total("victims", 2)),
        (_("Anonymous notifications"), total("victims", 3)),
        (_("Median hours to an identification decision"), total("decisions", 3)),
        (_("Decisions within the deadline (%)"), total("decisions", 6)),
        (_("Referrals to services"), total("referrals", 5)),
    ]
    compensation = tables.get("compensation")
    if compensation and compensation.totals:
        for index, column in enumerate(compensation.columns[2:], start=2):
            figures.append((column, compensation.totals.values[index]))
    return [(label, format_figure(value)) for label, value in figures]


@require_GET
def dashboard_view(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    report_years = available_years(access)
    form = FilterForm(request.GET or None, years=_years(access, request.GET.get("year"), report_years))
    filters = form.filters() if request.GET else Filters()
    tables = all_tables(access, filters)
    sections = [
        (heading, [_table_view(tables[key], filters) for key in keys]) for heading, keys in _sections()
    ]
    last_year = timezone.localdate().year - 1
    return render(
        request,
        "stats/dashboard.html",
        {
            "form": form,
            "filters": filters,
            "described": filters.describe(),
            "scope": stats_scope(access).describe,
            "sections": sections,
            "key_figures": _key_figures(tables),
            "report_years": report_years,
            "report_year": filters.year or (last_year if last_year in report_years else report_years[0]),
            "report_filters": {k: v for k, v in filters.as_query().items() if k != "year"},
            "languages": settings.LANGUAGES,
        },
    )


# --- downloads ----------------------------------------------------------------------------------------------


def _text(value: str) -> str:
    """A label as a spreadsheet cell: never a formula (a name starting with '=' stays text)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def _cell(value: Number | str) -> Any:
    return "" if value is None else value


def _file_name(key: str, filters: Filters, extension: str) -> str:
    parts = ["opennrm", active_profile().code.lower(), key, str(filters.year or "all-years")]
    parts += [
        re.sub(r"[^a-z0-9-]", "", v.lower().replace("_", "-"))
        for k, v in filters.as_query().items()
        if k != "year"
    ]
    return "-".join(p for p in parts if p) + "." + extension


def _csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_text(table.row_header), *(_text(c) for c in table.columns)])
    for row in (*table.rows, *([table.totals] if table.totals else [])):
        writer.writerow([_text(row.label), *(_cell(v) for v in row.values)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # the mark lets spreadsheet programs read UTF-8


def _xlsx(table: Table, filters: Filters, scope: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = table.key[:31]
    bold = Font(bold=True)

    def put(row: int, column: int, value: Any, *, strong: bool = False) -> None:
        cell = sheet.cell(row=row, column=column, value=_cell(value))
        if isinstance(value, str):
            cell.data_type = "s"  # never a formula, whatever the text starts with
        if strong:
            cell.font = bold

    put(1, 1, table.title, strong=True)
    described = "; ".join(f"{name}: {value}" for name, value in filters.describe()) or _("No filter")
    put(2, 1, _("Filters: %(filters)s") % {"filters": described})
    put(3, 1, scope)
    put(4, 1, _("Generated on %(date)s") % {"date": date_format(timezone.localdate(), "SHORT_DATE_FORMAT")})
    top = 6
    for column, header in enumerate((table.row_header, *table.columns), start=1):
        put(top, column, header, strong=True)
    line = top
    for row in table.rows:
        line += 1
        put(line, 1, row.label)
        for column, value in enumerate(row.values, start=2):
            put(line, column, value)
    if table.totals:
        line += 1
        put(line, 1, table.totals.label, strong=True)
        for column, value in enumerate(table.totals.values, start=2):
            put(line, column, value, strong=True)
    line += 1
    for note in table.notes:
        line += 1
        put(line, 1, note)
    sheet.column_dimensions["A"].width = (
        max(len(table.row_header), *(len(r.label) for r in table.rows), 12) + 2
    )
    for index in range(len(table.columns)):
        sheet.column_dimensions[chr(ord("B") + index)].width = max(len(table.columns[index]), 10) + 2
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@require_GET
def download_view(request: HttpRequest, key: str, fmt: str) -> HttpResponse:
    access = _access(request)
    if key not in INDICATORS or fmt not in FORMATS:
        raise Http404
    filters = _strict_filters(request, access)
    if filters is None:
        return HttpResponseBadRequest(_("A filter has a value that is not allowed."))
    table = INDICATORS[key](access, filters)
    if fmt == "csv":
        response = HttpResponse(_csv(table), content_type="text/csv; charset=utf-8")
    else:
        content = _xlsx(table, filters, stats_scope(access).describe)
        response = HttpResponse(
            content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    response["Content-Disposition"] = f'attachment; filename="{_file_name(key, filters, fmt)}"'
    audit.record(
        actor=request.user,  # type: ignore[arg-type]
        action="stats.table_downloaded",
        details={"table": key, "format": fmt, "filters": filters.as_query()},
    )
    return response


# --- the annual report --------------------------------------------------------------------------------------


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The report is self-contained (inline SVG, system fonts): WeasyPrint may fetch nothing, anywhere."""
    raise ValueError(f"The report does not load external resources ({url[:40]}).")


def render_report_pdf(access: Access, filters: Filters, language: str) -> bytes:
    """The annual report of `filters.year` in `language`: the dashboard's figures, charts and tables."""
    from weasyprint import HTML

    with translation.override(language):
        tables = all_tables(access, filters)
        sections = []
        for heading, keys in _sections():
            views = [
                _table_view(tables[key], filters, chart_id=f"report-{key}")
                for key in keys
                if key not in TODAY_ONLY
            ]
            if views:
                sections.append((heading, views))
        html = render_to_string(
            "stats/report.html",
            {
                "language": language,
                "year": filters.year,
                "country": _country_name(),
                "described": filters.describe(),
                "scope": stats_scope(access).describe,
                "sections": sections,
                "key_figures": _key_figures({k: v for k, v in tables.items() if k not in TODAY_ONLY}),
                "generated": date_format(timezone.localdate(), "DATE_FORMAT"),
            },
        )
    return bytes(HTML(string=html, url_fetcher=_refuse_fetch).write_pdf())


def _country_name() -> str:
    code = active_profile().code
    try:
        return country_name(code)
    except LookupError:
        return str(active_profile().name)


@require_GET
def report_view(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    language = request.GET.get("lang") or translation.get_language() or settings.LANGUAGE_CODE
    if language not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest(_("This language is not available."))
    filters = _strict_filters(request, access)
    if filters is None:
        return HttpResponseBadRequest(_("A filter has a value that is not allowed."))
    if not filters.year:
        filters = Filters(**{**filters.__dict__, "year": timezone.localdate().year - 1})
    pdf = render_report_pdf(access, filters, language)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = _file_name("annual-report", filters, "pdf").replace(".pdf", f"-{language}.pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    audit.record(
        actor=request.user,  # type: ignore[arg-type]
        action="stats.report_generated",
        details={"year": filters.year, "language": language, "filters": filters.as_query()},
    )
    return response
