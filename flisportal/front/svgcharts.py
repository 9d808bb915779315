"""Charts drawn on the server as inline SVG: no script, no library, nothing from a CDN, and
nothing the strict Content-Security-Policy blocks (no `style` attributes: SVG's presentation
attributes `fill`, `stroke`, `font-size` … are attributes, not styles).

Every chart is readable without colour: the stacked bars fill each part with its own pattern as
well as its own colour and say in a legend which is which; the grid writes each percentage in
its cell; the horizontal bars carry their number at their end. Each chart is an `<svg
role="img">` named by its `<title>` and described by its `<desc>` for screen readers, and the
page puts a table of the same numbers under it.

Every text from outside goes through `escape`; the functions return markup built from escaped
pieces only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import pgettext_lazy

WIDTH = 1000
FONT = 'font-family="system-ui, sans-serif"'

# Months as the x axis names them; the year is written under January and the first month.
MONTHS = [
    pgettext_lazy("kort måned", "jan"),
    pgettext_lazy("kort måned", "feb"),
    pgettext_lazy("kort måned", "mar"),
    pgettext_lazy("kort måned", "apr"),
    pgettext_lazy("kort måned", "maj"),
    pgettext_lazy("kort måned", "jun"),
    pgettext_lazy("kort måned", "jul"),
    pgettext_lazy("kort måned", "aug"),
    pgettext_lazy("kort måned", "sep"),
    pgettext_lazy("kort måned", "okt"),
    pgettext_lazy("kort måned", "nov"),
    pgettext_lazy("kort måned", "dec"),
]


@dataclass(frozen=True)
class Fill:
    """How one category of a stacked bar is drawn: a colour and a pattern over it, so the
    categories differ in print and for colour-blind readers too."""

    key: str
    colour: str
    ink: str  # the pattern's lines, and the colour of a count written on the part
    pattern: str  # "solid", "hatch", "cross", "dots", "none"


_HALO = ' stroke="#ffffff" stroke-width="3" paint-order="stroke"'


def _pattern_defs(chart_id: str, fills: Sequence[Fill]) -> str:
    parts = []
    for fill in fills:
        mark = {
            "hatch": f'<path d="M-1,1 l2,-2 M0,8 l8,-8 M7,9 l2,-2" stroke="{fill.ink}" '
            'stroke-width="1.5"/>',
            "cross": f'<path d="M0,0 L8,8 M8,0 L0,8" stroke="{fill.ink}" stroke-width="1.2"/>',
            "dots": f'<circle cx="4" cy="4" r="1.6" fill="{fill.ink}"/>',
        }.get(fill.pattern, "")
        parts.append(
            f'<pattern id="{chart_id}-{fill.key}" patternUnits="userSpaceOnUse" width="8" '
            f'height="8"><rect width="8" height="8" fill="{fill.colour}"/>{mark}</pattern>'
        )
    return "<defs>" + "".join(parts) + "</defs>"


def _open(chart_id: str, height: int, title: str, desc: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart" id="{chart_id}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" {FONT}>'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
    )


def month_label(period: str, *, first: bool) -> tuple[str, str]:
    """The x axis's two lines for a period: the month's short name, and the year under January
    and under the first month shown."""
    year, month = period.split("-")
    return str(MONTHS[int(month) - 1]), year if first or month == "01" else ""


def stacked_bars(
    *,
    chart_id: str,
    title: str,
    desc: str,
    fills: Sequence[Fill],
    labels: dict[str, str],
    columns: Sequence[tuple[str, dict[str, int]]],
) -> SafeString:
    """One bar per period, stacked from the bottom in the order of `fills`, with its total
    written above it and each part's count written inside when there is room. `columns` are
    (period, counts by fill key)."""
    top, plot, left = 44, 200, 44
    height = top + plot + 44
    highest = max((sum(counts.values()) for _period, counts in columns), default=0) or 1
    step = (WIDTH - left - 10) / max(len(columns), 1)
    bar = step * 0.7
    out = [_open(chart_id, height, title, desc), _pattern_defs(chart_id, fills)]
    # The legend: a sample of each fill and its words, in one row above the plot.
    x = left
    for fill in fills:
        out.append(
            f'<rect x="{x}" y="8" width="16" height="16" fill="url(#{chart_id}-{fill.key})" '
            f'stroke="#333"/><text x="{x + 22}" y="21" font-size="14">'
            f"{escape(labels[fill.key])}</text>"
        )
        x += 34 + 8 * len(labels[fill.key])
    out.append(
        f'<line x1="{left}" y1="{top + plot}" x2="{WIDTH - 10}" y2="{top + plot}" stroke="#333"/>'
    )
    for index, (period, counts) in enumerate(columns):
        x0 = left + index * step + (step - bar) / 2
        y: float = top + plot
        for fill in fills:
            number = counts.get(fill.key, 0)
            if not number:
                continue
            part = plot * number / highest
            y -= part
            out.append(
                f'<rect x="{x0:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{part:.1f}" '
                f'fill="url(#{chart_id}-{fill.key})" stroke="#333" stroke-width="0.6">'
                f"<title>{escape(period)}: {escape(labels[fill.key])} {number}</title></rect>"
            )
            if part >= 16:
                # On a pattern, a white outline keeps the digits apart from the lines.
                halo = "" if fill.pattern == "solid" else _HALO
                out.append(
                    f'<text x="{x0 + bar / 2:.1f}" y="{y + part / 2 + 4:.1f}" font-size="11" '
                    f'text-anchor="middle" fill="{fill.ink}" font-weight="bold"{halo}>'
                    f"{number}</text>"
                )
        total = sum(counts.values())
        out.append(
            f'<text x="{x0 + bar / 2:.1f}" y="{y - 4:.1f}" font-size="12" '
            f'text-anchor="middle">{total}</text>'
        )
        out.append(_x_label(x0 + bar / 2, top + plot, period, first=index == 0))
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 – built from escaped values only


def _x_label(x: float, baseline: float, period: str, *, first: bool) -> str:
    month, year = month_label(period, first=first)
    text = (
        f'<text x="{x:.1f}" y="{baseline + 17}" font-size="12" text-anchor="middle">'
        f"{escape(month)}</text>"
    )
    if year:
        text += (
            f'<text x="{x:.1f}" y="{baseline + 33}" font-size="12" text-anchor="middle" '
            f'font-weight="bold">{escape(year)}</text>'
        )
    return text


# Light to dark, one step per fifth of the scale; the text on the two darkest is white.
GRID_SHADES = ["#f2f6fc", "#c9dcf2", "#8fb5e3", "#3f7fc6", "#174a85"]


def rate_grid(
    *,
    chart_id: str,
    title: str,
    desc: str,
    periods: Sequence[str],
    rows: Sequence[tuple[str, Sequence[float | None]]],
) -> SafeString:
    """One row per vendor or data area, one cell per period: the cell's shade darkens with the
    rate and the rate is written in it as a whole percent ("–" when nothing has ended yet)."""
    left, top, row_height = 230, 40, 24
    height = top + row_height * max(len(rows), 1) + 6
    step = (WIDTH - left - 4) / max(len(periods), 1)
    out = [_open(chart_id, height, title, desc)]
    for index, period in enumerate(periods):
        out.append(_x_label(left + index * step + step / 2, 0, period, first=index == 0))
    for row_index, (name, rates) in enumerate(rows):
        y = top + row_index * row_height
        shown = name if len(name) <= 30 else name[:29] + "…"
        out.append(
            f'<text x="{left - 8}" y="{y + 16}" font-size="13" text-anchor="end">'
            f"<title>{escape(name)}</title>{escape(shown)}</text>"
        )
        for index, rate in enumerate(rates):
            x = left + index * step
            if rate is None:
                fill, ink, text = "#ffffff", "#555", "–"
            else:
                shade = min(int(rate * len(GRID_SHADES)), len(GRID_SHADES) - 1)
                fill = GRID_SHADES[shade]
                ink = "#ffffff" if shade >= 3 else "#111"
                text = f"{round(rate * 100)}"
            out.append(
                f'<rect x="{x + 1:.1f}" y="{y + 1}" width="{step - 2:.1f}" '
                f'height="{row_height - 2}" fill="{fill}" stroke="#bbb"/>'
                f'<text x="{x + step / 2:.1f}" y="{y + 16}" font-size="12" '
                f'text-anchor="middle" fill="{ink}">{text}</text>'
            )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 – built from escaped values only


def horizontal_bars(
    *, chart_id: str, title: str, desc: str, bars: Sequence[tuple[str, int, str]]
) -> SafeString:
    """One bar per (label, number, words): the label left of the bar, the number at its end,
    the words as the bar's tooltip (the table under the chart has them in full)."""
    left, row_height = 330, 24
    height = row_height * max(len(bars), 1) + 8
    highest = max((number for _label, number, _words in bars), default=0) or 1
    room = WIDTH - left - 60
    out = [_open(chart_id, height, title, desc)]
    for index, (label, number, words) in enumerate(bars):
        y = 4 + index * row_height
        shown = label if len(label) <= 40 else label[:39] + "…"
        length = room * number / highest
        out.append(
            f'<text x="{left - 8}" y="{y + 15}" font-size="13" text-anchor="end">'
            f"<title>{escape(label)}</title>{escape(shown)}</text>"
            f'<rect x="{left}" y="{y + 2}" width="{length:.1f}" height="{row_height - 6}" '
            f'fill="#8fb5e3" stroke="#174a85"><title>{escape(words)}</title></rect>'
            f'<text x="{left + length + 6:.1f}" y="{y + 15}" font-size="13">{number}</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 – built from escaped values only
