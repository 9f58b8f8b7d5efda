"""The regional hub's page: the region's indicators side by side by country, by quarter and for the year.

Only on the hub instance (`OPENNRM_COOP_IS_HUB`; anywhere else the page does not exist: 404), and only for users
with `stats.view`, whatever the scope of that permission: the page shows nothing but protected aggregates
(k-anonymous or differentially private), the same for every reader, and never a figure that leads to a case. Anyone
else gets 404, as for a page that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from opennrm.accounts.access import Access, request_access
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import htcds_snake_choices
from opennrm.cooperation import hub
from opennrm.core.reference import UnknownCodeError, country_name
from opennrm.stats.charts import Series, format_figure, line_chart
from opennrm.stats.indicators import Period
from opennrm.stats.release import MULTIPLE, UNKNOWN


def hub_access(request: HttpRequest) -> Access:
    """The reader's access, or 404 when this instance is not the hub or the reader lacks stats.view."""
    if not settings.OPENNRM_COOP_IS_HUB:
        raise Http404
    access = request_access(request)
    if not access.has(Perm.STATS_VIEW):
        raise Http404
    return access


def chosen_year(raw: str | None, today: dt.date | None = None) -> int:
    """The year asked for if it is plausible; else the current year once a quarter of it ended, or the last."""
    today = today or timezone.localdate()
    if raw and raw.isdigit() and hub.FIRST_YEAR <= int(raw) <= today.year:
        return int(raw)
    return today.year if hub.ended_quarters(today.year, today) else today.year - 1


# --- words ---------------------------------------------------------------------------------------------------


def indicator_title(key: str) -> str:
    return {
        "referred": _("Presumed victims referred"),
        "identified": _("Identified victims (status granted)"),
        "sex": _("Presumed victims referred, by sex"),
        "age": _("Presumed victims referred, children and adults"),
        "form": _("Presumed victims referred, by form of exploitation"),
        "citizenship": _("Presumed victims referred, nationals and foreigners"),
        "cross_border": _("Persons referred to another country"),
    }[key]


def category_label(table: str, category: str) -> str:
    labels: dict[str, dict[str, str]] = {
        "victims": {
            hub.TOTAL: _("Presumed victims referred"),
            "identified": _("Identified victims"),
            "not_identified": _("Not (yet) identified"),
        },
        "sex": {
            "female": _("Female"),
            "male": _("Male"),
            "trans_or_non_conforming": _("Transgender or non-conforming"),
            UNKNOWN: _("Not specified / unknown"),
        },
        "age": {"child": _("Children"), "adult": _("Adults"), UNKNOWN: _("Age unknown")},
        "form": {
            **{value: str(label) for value, label in htcds_snake_choices("vic_TypeOfExploitation")},
            MULTIPLE: _("More than one form"),
            UNKNOWN: _("Form not known"),
        },
        "citizenship": {
            "national": _("Nationals"),
            "foreign": _("Foreigners"),
            UNKNOWN: _("Citizenship unknown"),
        },
        "cross_border": {
            "referred_abroad": _("Referred to another country"),
            "not_referred_abroad": _("Not referred to another country"),
        },
    }
    return labels.get(table, {}).get(category, category)


def period_label(period: str) -> str:
    if "-Q" in period:
        year, quarter = period.split("-Q")
        return Period(int(year), int(quarter)).label
    return _("%(year)s, year") % {"year": period}


def country_label(code: str) -> str:
    try:
        return country_name(code)
    except UnknownCodeError:
        return code


def method_text(method: dict[str, Any]) -> str:
    privacy = method.get("dp")
    if privacy:
        return _(
            "Differential privacy, ε = %(epsilon)s (%(mechanism)s noise): every figure is noisy, within "
            "±%(accuracy)s of the true count with 95%% probability."
        ) % {
            "epsilon": f"{float(privacy['epsilon']):g}",
            "mechanism": _("discrete Laplace")
            if privacy["mechanism"] == "laplace"
            else _("discrete Gaussian"),
            "accuracy": privacy.get("accuracy_95", "?"),
        }
    if method.get("k"):
        return _(
            "k-anonymous, k = %(k)s: figures below k are suppressed, and others where needed so that they cannot "
            "be worked out from the totals."
        ) % {"k": method["k"]}
    return _("No figures for this year.")


# --- what the template shows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountryView:
    code: str
    name: str
    local: bool
    method: str
    received_at: dt.datetime | None
    version: int | None
    quarters: str  # "Q1–Q3", or "" when the year has no figures from this country


@dataclass(frozen=True)
class CellView:
    text: str
    state: str
    partial: str  # on a year row: the quarters the total covers when not all four


@dataclass(frozen=True)
class LineView:
    period: str
    category: str
    first_of_period: bool
    span: int
    is_year: bool
    cells: tuple[CellView, ...]


@dataclass(frozen=True)
class IndicatorView:
    key: str
    title: str
    lines: tuple[LineView, ...]
    breakdown: bool


def _quarters_text(quarters: int) -> str:
    return "" if quarters < 1 else "Q1" if quarters == 1 else f"Q1–Q{quarters}"


def _cell_text(cell: hub.Cell) -> str:
    if cell.state == hub.SUPPRESSED:
        return _("suppressed")
    if cell.state == hub.MISSING or cell.value is None:
        return "–"
    return ("≈ " if cell.state == hub.NOISY else "") + format_figure(cell.value)


def indicator_views(comparison: hub.Comparison) -> list[IndicatorView]:
    views = []
    for indicator in comparison.indicators:
        per_period = len(indicator.categories)
        lines = []
        for index, line in enumerate(indicator.lines):
            is_year = "-Q" not in line.period
            cells = tuple(
                CellView(
                    _cell_text(cell),
                    cell.state,
                    _quarters_text(column.quarters)
                    if is_year and cell.state not in (hub.MISSING, hub.SUPPRESSED) and column.quarters < 4
                    else "",
                )
                for cell, column in zip(line.cells, comparison.columns, strict=True)
            )
            lines.append(
                LineView(
                    period_label(line.period),
                    category_label(indicator.table, line.category),
                    index % per_period == 0,
                    per_period,
                    is_year,
                    cells,
                )
            )
        views.append(
            IndicatorView(indicator.key, indicator_title(indicator.key), tuple(lines), per_period > 1)
        )
    return views


def country_views(comparison: hub.Comparison) -> list[CountryView]:
    return [
        CountryView(
            column.code,
            country_label(column.country),
            column.local,
            method_text(column.method),
            column.received_at,
            column.version,
            _quarters_text(column.quarters),
        )
        for column in comparison.columns
    ]


def referred_chart(comparisons: list[hub.Comparison]) -> SafeString:
    """A line per country: presumed victims referred, quarter by quarter over the years shown."""
    labels: list[str] = []
    values: dict[str, list[int | None]] = {}
    names: dict[str, str] = {}
    for comparison in comparisons:
        referred = next(i for i in comparison.indicators if i.key == "referred")
        quarter_lines = [line for line in referred.lines if "-Q" in line.period]
        labels += [line.period for line in quarter_lines]
        for position, column in enumerate(comparison.columns):
            names[column.code] = country_label(column.country)
            series = values.setdefault(column.code, [None] * (len(labels) - len(quarter_lines)))
            series += [line.cells[position].value for line in quarter_lines]
    for series in values.values():
        series += [None] * (len(labels) - len(series))
    title = _("Presumed victims referred, by quarter")
    return line_chart(
        chart_id="hub-chart-referred",
        title=title,
        description=_(
            "Chart of the table “%(title)s” below, which gives the same figures; suppressed figures are left out."
        )
        % {"title": indicator_title("referred")},
        labels=labels,
        series=[Series(names[code], tuple(series)) for code, series in values.items()],
    )


@require_GET
def hub_view(request: HttpRequest) -> HttpResponse:
    hub_access(request)
    today = timezone.localdate()
    year = chosen_year(request.GET.get("year"), today)
    comparison = hub.comparison(year=year, today=today)
    shown = [comparison]
    if year - 1 >= hub.FIRST_YEAR:
        shown.insert(0, hub.comparison(year=year - 1, today=today))
    return render(
        request,
        "cooperation/hub.html",
        {
            "year": year,
            "years": comparison.years,
            "countries": country_views(comparison),
            "indicators": indicator_views(comparison),
            "chart": referred_chart(shown),
            "any_noisy": any(column.noisy for column in comparison.columns),
        },
    )
