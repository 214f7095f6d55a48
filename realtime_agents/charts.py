"""Server-rendered SVG charts (bars with labelled axes and values), every label escaped."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

BAR = "#417690"  # the admin's own blue
OK = "#2e7d32"
ERROR = "#c62828"
OTHER = "#9e9e9e"
FONT = 'font-family="system-ui, sans-serif"'


@dataclass(frozen=True, kw_only=True)
class Bar:
    """One bar: its axis label, its value, and the text shown for the value."""

    label: str
    value: float
    shown: str


@dataclass(frozen=True, kw_only=True)
class StackedBar:
    """One row of a horizontal chart: ok, failed and other parts, and the text shown beside it."""

    label: str
    ok: int
    errors: int
    other: int
    shown: str


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above `value` (1 for nothing), so ticks read as round numbers."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))


def _join(parts: Sequence[SafeString]) -> SafeString:
    # Every part was built by format_html, so the joined text is as safe as its parts.
    return mark_safe("".join(parts))  # noqa: S308


def column_chart(bars: Sequence[Bar], *, title: str, x_label: str, y_label: str, width: int = 760,
                 height: int = 280, label_every: int | None = None, label_room: int = 64) -> SafeString:
    """A vertical bar chart with a labelled y axis (4 ticks), x labels, and each bar's value above it.

    `label_room` is the height below the axis for the slanted x labels and the axis title.
    """
    left, right, top, bottom = 56, 12, 16, label_room
    plot_w, plot_h = width - left - right, height - top - bottom
    parts: list[SafeString] = [format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}" class="ra-chart" ' + FONT + ' font-size="11"><title>{}</title>',
        width, height, width, height, title, title)]
    peak = nice_ceiling(max((bar.value for bar in bars), default=0))
    for tick in range(5):
        value = peak * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(format_html(
            '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#ddd"/>'
            '<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle" fill="#555">{}</text>',
            left, left + plot_w, round(y, 1), round(y, 1), left - 6, round(y, 1), _number(value)))
    if bars:
        slot = plot_w / len(bars)
        every = label_every or max(1, math.ceil(len(bars) / 16))
        for index, bar in enumerate(bars):
            bar_h = plot_h * bar.value / peak
            x = left + slot * index + slot * 0.1
            y = top + plot_h - bar_h
            parts.append(format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
                round(x, 1), round(y, 1), round(slot * 0.8, 1), round(bar_h, 1), BAR, bar.label, bar.shown))
            if len(bars) <= 40 and bar.value:
                parts.append(format_html('<text x="{}" y="{}" text-anchor="middle" fill="#222">{}</text>',
                                         round(x + slot * 0.4, 1), round(y - 4, 1), bar.shown))
            if index % every == 0:
                parts.append(format_html(
                    '<text x="{}" y="{}" text-anchor="end" transform="rotate(-40 {} {})" fill="#555">{}</text>',
                    round(x + slot * 0.4, 1), top + plot_h + 14, round(x + slot * 0.4, 1), top + plot_h + 14,
                    bar.label))
    else:
        parts.append(format_html('<text x="{}" y="{}" text-anchor="middle" fill="#555">{}</text>',
                                 left + plot_w / 2, top + plot_h / 2, "No data in this range"))
    parts.append(format_html(
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#333"/><line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#333"/>'
        '<text x="{}" y="{}" text-anchor="middle" fill="#333">{}</text>'
        '<text x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})" fill="#333">{}</text></svg>',
        left, left + plot_w, top + plot_h, top + plot_h, left, left, top, top + plot_h,
        left + plot_w / 2, height - 6, x_label, top + plot_h / 2, top + plot_h / 2, y_label))
    return _join(parts)


def stacked_rows_chart(rows: Sequence[StackedBar], *, title: str, width: int = 760, row_height: int = 26,
                       legend: tuple[str, str, str] = ("ok", "failed", "other"),
                       clip: Callable[[str], str] | None = None) -> SafeString:
    """Horizontal bars, one per row, split into ok / failed / other, with the row's text beside it."""
    label_w, text_w = 180, 170
    plot_w = width - label_w - text_w
    height = 34 + row_height * max(1, len(rows))
    shorten = clip or (lambda text: text if len(text) <= 28 else text[:27] + "…")
    parts: list[SafeString] = [format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}" class="ra-chart" ' + FONT + ' font-size="12"><title>{}</title>',
        width, height, width, height, title, title)]
    for offset, (name, colour) in enumerate(zip(legend, (OK, ERROR, OTHER), strict=True)):
        parts.append(format_html('<rect x="{}" y="4" width="10" height="10" fill="{}"/>'
                                 '<text x="{}" y="13" fill="#333">{}</text>',
                                 label_w + offset * 90, colour, label_w + offset * 90 + 14, name))
    peak = max((row.ok + row.errors + row.other for row in rows), default=0) or 1
    for index, row in enumerate(rows):
        y = 26 + index * row_height
        parts.append(format_html('<text x="{}" y="{}" text-anchor="end" fill="#222">{}<title>{}</title></text>',
                                 label_w - 8, y + row_height * 0.55, shorten(row.label), row.label))
        x = float(label_w)
        for value, colour in ((row.ok, OK), (row.errors, ERROR), (row.other, OTHER)):
            part_w = plot_w * value / peak
            if part_w > 0:
                parts.append(format_html('<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>',
                                         round(x, 1), y + 4, round(part_w, 1), row_height - 8, colour))
            x += part_w
        parts.append(format_html('<text x="{}" y="{}" fill="#222">{}</text>', round(x + 6, 1),
                                 y + row_height * 0.55, row.shown))
    if not rows:
        parts.append(format_html('<text x="{}" y="44" fill="#555">{}</text>', label_w, "No tool runs in this range"))
    parts.append(mark_safe("</svg>"))
    return _join(parts)
