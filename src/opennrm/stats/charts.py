"""Charts of the indicator tables, drawn on the server as inline SVG: no script, no library, no CDN.

A chart only repeats what the table under it says (the table is the accessible form of the figures). Each SVG is
`role="img"` with a `<title>` and a `<desc>` it is labelled by, and each bar or point carries its own `<title>`
(the figure, for a pointer). Colours are presentation attributes, which the Content Security Policy allows (it
forbids inline styles), from the Okabe-Ito palette, which stays distinct for colour-blind readers. Text uses
DejaVu Sans where installed, so the same SVG prints Georgian and Cyrillic in the PDF report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from opennrm.stats.indicators import Number, Table

COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")
INK, MUTED, GRID = "#222222", "#555555", "#d0d4da"
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
WIDTH = 640
CHAR_WIDTH = 6.6  # average advance of a 12 px character, to lay out labels and the legend
LABEL_CHARS = 30


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[Number, ...]


@dataclass(frozen=True)
class ChartSpec:
    kind: str  # "bars" (horizontal, one group per row), "columns" (vertical), "lines"
    columns: tuple[int, ...]  # which columns of the table are drawn, one series each


# Which chart shows each indicator table, and which of its columns.
SPECS: dict[str, ChartSpec] = {
    "victims": ChartSpec("columns", (0, 2, 3)),
    "sex": ChartSpec("bars", (0, 1, 2)),
    "age": ChartSpec("bars", (0, 1, 2)),
    "citizenship": ChartSpec("bars", (0, 1, 2)),
    "form": ChartSpec("bars", (0, 1, 2)),
    "region": ChartSpec("bars", (0, 1, 2)),
    "referrer": ChartSpec("bars", (0, 1, 2)),
    "route": ChartSpec("bars", (0,)),
    "decisions": ChartSpec("lines", (3, 4)),
    "waiting": ChartSpec("bars", (0,)),
    "referrals": ChartSpec("bars", (5, 3, 7)),
    "occupancy": ChartSpec("lines", (0, 3)),
    "places": ChartSpec("bars", (0, 1)),
    "compensation": ChartSpec("columns", (0, 1)),
}


def chart_for(table: Table, *, chart_id: str | None = None) -> SafeString:
    """The chart of an indicator table (empty when the table has no rows)."""
    spec = SPECS.get(table.key)
    if spec is None or not table.rows:
        return mark_safe("")
    series = [Series(table.columns[i], tuple(table.column(i))) for i in spec.columns]
    labels = [row.label for row in table.rows]
    chart_id = chart_id or f"chart-{table.key}"
    description = _("Chart of the table “%(title)s” below, which gives the same figures.") % {
        "title": table.title
    }
    draw = {"bars": bar_chart, "columns": column_chart, "lines": line_chart}[spec.kind]
    return draw(chart_id=chart_id, title=table.title, description=description, labels=labels, series=series)


# --- drawing helpers --------------------------------------------------------------------------------------


def format_figure(value: Number) -> str:
    """A figure as shown: grouped digits, one decimal for rates and hours, a dash for "no figure"."""
    if value is None:
        return "\u2013"
    if isinstance(value, int):
        return number_format(value, force_grouping=True)
    if isinstance(value, Decimal):  # money
        return number_format(value, decimal_pos=2, force_grouping=True)
    return number_format(value, decimal_pos=1, force_grouping=True)


def _short(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _scale(series: Sequence[Series]) -> tuple[float, float]:
    """A round top of the scale at or above the largest figure, and the step between at most five grid lines
    (whole steps for counts)."""
    figures = [v for s in series for v in s.values if v is not None]
    maximum = float(max(figures, default=0))
    if maximum <= 0:
        return 1.0, 1.0
    raw = maximum / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if all(isinstance(v, int) for v in figures):
        step = max(math.ceil(step), 1)
    return math.ceil(maximum / step) * step, step


def _tick_text(value: float) -> str:
    return format_figure(int(value)) if float(value).is_integer() else format_figure(value)


def _open(chart_id: str, title: str, description: str, height: float) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="100%" role="img" focusable="false" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'font-family="{FONT}" font-size="12" fill="{INK}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
    ]


def _legend(series: Sequence[Series], top: float) -> tuple[list[str], float]:
    """Swatches and names, wrapped over as many lines as needed; returns the parts and the height used."""
    parts: list[str] = []
    x, y = 8.0, top
    for index, s in enumerate(series):
        width = 18 + len(s.name) * CHAR_WIDTH + 16
        if x + width > WIDTH and x > 8:
            x, y = 8.0, y + 18
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="12" height="12" fill="{COLOURS[index % len(COLOURS)]}"/>'
        )
        parts.append(f'<text x="{x + 17:.1f}" y="{y + 10:.1f}">{escape(s.name)}</text>')
        x += width
    return parts, (y - top) + 22


# --- the three kinds ----------------------------------------------------------------------------------------


def bar_chart(
    *, chart_id: str, title: str, description: str, labels: Sequence[str], series: Sequence[Series]
) -> SafeString:
    """Horizontal bars: one group per label, one bar per series; long labels fit on the left."""
    label_width = min(max((len(_short(label)) for label in labels), default=4) * CHAR_WIDTH + 12, 210)
    right = 56
    plot_left, plot_right = label_width, WIDTH - right
    bar = 14 if len(series) <= 2 else 11
    group = bar * len(series) + 10
    legend, legend_height = _legend(series, 6) if len(series) > 1 else ([], 0.0)
    top = 8 + legend_height
    height = top + group * len(labels) + 24
    scale_top, step = _scale(series)

    def x_of(value: float) -> float:
        return plot_left + (plot_right - plot_left) * value / scale_top

    parts = _open(chart_id, title, description, height)
    parts += legend
    bottom = top + group * len(labels)
    tick = 0.0
    while tick <= scale_top + 1e-9:
        x = x_of(tick)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16:.1f}" text-anchor="middle" fill="{MUTED}" font-size="11">'
            f"{_tick_text(tick)}</text>"
        )
        tick += step
    for row, label in enumerate(labels):
        y0 = top + row * group + 5
        parts.append(
            f'<text x="{plot_left - 6:.1f}" y="{y0 + bar * len(series) / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(_short(label))}</text>"
        )
        for index, s in enumerate(series):
            value = s.values[row]
            y = y0 + index * bar
            if value is None:
                continue
            width = x_of(float(value)) - plot_left
            parts.append(
                f'<rect x="{plot_left:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{bar - 2}" '
                f'fill="{COLOURS[index % len(COLOURS)]}"><title>{escape(label)} \u2013 {escape(s.name)}: '
                f"{format_figure(value)}</title></rect>"
            )
            parts.append(
                f'<text x="{plot_left + width + 4:.1f}" y="{y + bar - 4:.1f}" font-size="11">{format_figure(value)}</text>'
            )
    parts.append(
        f'<line x1="{plot_left:.1f}" x2="{plot_left:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" stroke="{MUTED}"/>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped


def _vertical_frame(
    chart_id: str, title: str, description: str, labels: Sequence[str], series: Sequence[Series]
) -> tuple[list[str], float, float, float, float, float]:
    """Title, legend, grid and axis labels of a vertical chart; returns the parts and the plot's geometry."""
    legend, legend_height = _legend(series, 6) if len(series) > 1 else ([], 0.0)
    plot_top = 14 + legend_height
    plot_height = 190.0
    bottom = plot_top + plot_height
    rows_of_labels = (
        2 if any(len(label) * CHAR_WIDTH > (WIDTH - 60) / max(len(labels), 1) for label in labels) else 1
    )
    height = bottom + 22 + 14 * rows_of_labels
    scale_top, step = _scale(series)
    left, right = 52.0, WIDTH - 12.0
    parts = _open(chart_id, title, description, height)
    parts += legend
    tick = 0.0
    while tick <= scale_top + 1e-9:
        y = bottom - plot_height * tick / scale_top
        parts.append(f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{left - 6:.1f}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}" font-size="11">'
            f"{_tick_text(tick)}</text>"
        )
        tick += step
    slot = (right - left) / max(len(labels), 1)
    every = max(1, math.ceil(len(labels) * 90 / (right - left)))
    for index, label in enumerate(labels):
        if index % every:
            continue
        x = left + slot * (index + 0.5)
        line = 1 if rows_of_labels == 1 or index % 2 == 0 else 2
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16 * line:.1f}" text-anchor="middle" font-size="11">'
            f"{escape(_short(label, 24))}</text>"
        )
    parts.append(
        f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{bottom:.1f}" y2="{bottom:.1f}" stroke="{MUTED}"/>'
    )
    return parts, left, right, bottom, plot_height, scale_top


def column_chart(
    *, chart_id: str, title: str, description: str, labels: Sequence[str], series: Sequence[Series]
) -> SafeString:
    """Vertical bars: one group per label (a period), one bar per series."""
    parts, left, right, bottom, plot_height, scale_top = _vertical_frame(
        chart_id, title, description, labels, series
    )
    slot = (right - left) / max(len(labels), 1)
    bar = min(slot * 0.8 / len(series), 40)
    for row, label in enumerate(labels):
        x0 = left + slot * row + (slot - bar * len(series)) / 2
        for index, s in enumerate(series):
            value = s.values[row]
            if value is None:
                continue
            h = plot_height * float(value) / scale_top
            x = x0 + index * bar
            parts.append(
                f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{bar - 1:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[index % len(COLOURS)]}"><title>{escape(label)} \u2013 {escape(s.name)}: '
                f"{format_figure(value)}</title></rect>"
            )
            if bar >= 16:
                parts.append(
                    f'<text x="{x + bar / 2:.1f}" y="{bottom - h - 3:.1f}" text-anchor="middle" font-size="10">'
                    f"{format_figure(value)}</text>"
                )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped


def line_chart(
    *, chart_id: str, title: str, description: str, labels: Sequence[str], series: Sequence[Series]
) -> SafeString:
    """Lines over the labels (periods), one per series, with a marker at each figure."""
    parts, left, right, bottom, plot_height, scale_top = _vertical_frame(
        chart_id, title, description, labels, series
    )
    slot = (right - left) / max(len(labels), 1)
    for index, s in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        points = [
            (left + slot * (row + 0.5), bottom - plot_height * float(value) / scale_top, labels[row], value)
            for row, value in enumerate(s.values)
            if value is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _label, _value in points)
            dash = ' stroke-dasharray="6 4"' if index % 2 else ""
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{dash}/>'
            )
        for x, y, label, value in points:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"><title>{escape(label)} \u2013 '
                f"{escape(s.name)}: {format_figure(value)}</title></circle>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped
