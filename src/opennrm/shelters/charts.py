"""A bar chart of occupancy over time, drawn on the server as inline SVG (no script, no library, no CDN).

The chart repeats what the table next to it says (the table is the accessible form); the SVG carries a title and
a description and is hidden from nothing. Colours are presentation attributes, allowed by the Content Security
Policy (which forbids inline styles).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import formats

from opennrm.shelters.selectors import Bucket

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 12, 28
LABELS_SHOWN = 8  # about this many labels on the time axis


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    label: str
    over: bool


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class AxisLabel:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    bottom: float
    right: float
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[AxisLabel]
    capacity: int
    capacity_y: float | None


def bucket_label(bucket: Bucket, period: str) -> str:
    if period == "months":
        return formats.date_format(bucket.start, "F Y")
    if period == "weeks":
        start = formats.date_format(bucket.start, "SHORT_DATE_FORMAT")
        end = formats.date_format(bucket.end, "SHORT_DATE_FORMAT")
        return f"{start} \u2013 {end}"
    return formats.date_format(bucket.start, "SHORT_DATE_FORMAT")


def _axis_text(bucket: Bucket, period: str) -> str:
    if period == "months":
        return bucket.start.strftime("%m/%Y")
    return f"{bucket.start.day}.{bucket.start.month}"


def _step(top: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500):
        if top / step <= 5:
            return step
    return 1000


def bar_chart(buckets: list[Bucket], *, capacity: int, period: str) -> Chart:
    """Bars of the peak number of people placed per bucket, and a line at the capacity."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h
    top_value = max([capacity, 1, *(b.peak_total for b in buckets)])
    step = _step(top_value)
    top_value = -(-top_value // step) * step

    def y_of(value: int) -> float:
        return round(bottom - value / top_value * plot_h, 1)

    slot = plot_w / max(len(buckets), 1)
    gap = min(slot * 0.2, 4)
    bars = [
        Bar(
            x=round(LEFT + i * slot + gap / 2, 1),
            y=y_of(b.peak_total),
            width=round(slot - gap, 1),
            height=round(bottom - y_of(b.peak_total), 1),
            value=b.peak_total,
            label=bucket_label(b, period),
            over=b.peak_total > capacity,
        )
        for i, b in enumerate(buckets)
    ]
    every = max(1, -(-len(buckets) // LABELS_SHOWN))
    labels = [
        AxisLabel(x=round(LEFT + i * slot + slot / 2, 1), text=_axis_text(b, period))
        for i, b in enumerate(buckets)
        if i % every == 0
    ]
    ticks = [Tick(y=y_of(v), value=v) for v in range(0, top_value + 1, step)]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        bottom=bottom,
        right=WIDTH - RIGHT,
        bars=bars,
        ticks=ticks,
        labels=labels,
        capacity=capacity,
        capacity_y=y_of(capacity) if capacity else None,
    )
