"""The coverage dashboard's table rows, built in Python.

The full matrix is 98 kommuner × 5 data areas: ~500 cells with ~1,000 route badges. Django's
template engine spent ≈50 ms of CPU per request on them, so ten users at once queued behind two
cores (benchmarks/load.py); the same markup built here from escaped pieces takes a few
milliseconds. The page around the table stays in `templates/routes/coverage.html`. Every value
from the database goes through `escape`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from flisportal.lib.links import link_former

if TYPE_CHECKING:
    from routes.selectors import CoverageCell, CoverageMatrix


@dataclass(frozen=True)
class CoverageTable:
    """The dashboard's rendered table, as the cache keeps it."""

    html: SafeString
    kommuner: int


def coverage_rows_html(matrix: CoverageMatrix) -> SafeString:
    """One `<tr>` per kommune: its name linking to its delivery history, then a cell per area."""
    cell_html = _cell_renderer()
    history = link_former("deliveries:kommune_history", "str")
    history_title = escape(_("Leveringshistorik"))
    rows = []
    for row in matrix.rows:
        kommune = row.kommune
        rows.append(
            f'<tr><th scope="row" class="kommune"><a href="{history(kommune.code)}" '
            f'title="{history_title}">{escape(kommune.code)} {escape(kommune.name)}</a></th>'
            + "".join(cell_html(cell) for cell in row.cells)
            + "</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 – built from escaped values only


def _cell_renderer() -> Callable[[CoverageCell], str]:
    onboarding = link_former("routes:onboarding", "int", "str")
    onboarding_title = escape(_("Ibrugtagning"))
    latest_label = escape(_("Seneste leverance:"))
    no_route_text = escape(_("ingen rute"))  # outside the f-string, where makemessages sees it
    no_route = f'<span class="text-muted">{no_route_text}</span>'
    # The same systems, vendors and endpoints recur in hundreds of cells: escaped once each.
    escaped: dict[str, str] = {}

    def esc(text: str) -> str:
        if text not in escaped:
            escaped[text] = str(escape(text))
        return escaped[text]

    def render(cell: CoverageCell) -> str:
        parts = [f'<td class="cell-{cell.status or "none"}">']
        for entry in cell.entries:
            parts.append('<div class="mb-1">')
            vendor = entry.vendor
            if vendor is not None:
                parts.append(
                    f'<a href="{onboarding(vendor.pk, cell.kommune.code)}" '
                    f'title="{onboarding_title}">{esc(entry.system.name)}</a>'
                    f'<div class="small text-muted">{esc(vendor.name)}</div>'
                )
            else:
                parts.append(esc(entry.system.name))
            for badge in entry.badges:
                parts.append(
                    f'<span class="status-badge status-{esc(badge.status)}" '
                    f'title="{esc(badge.endpoint.name)}">{esc(badge.endpoint.slug)}: '
                    f"{esc(badge.label)}</span> "
                )
            parts.append("</div>")
        if not cell.entries:
            parts.append(no_route)
        latest = cell.latest_delivery
        if latest is not None:
            shown = (
                f'<a href="{esc(latest.url)}" class="latest-delivery">'
                f"{latest.delivered_on:%Y-%m-%d}, {esc(latest.status_label)}</a>"
            )
        else:
            shown = "–"
        parts.append(f'<div class="small text-muted">{latest_label} {shown}</div>')
        if cell.expected is not None:
            parts.append(
                f'<div><span class="expected-badge expected-{esc(cell.expected.state)}">'
                f"{escape(cell.expected_text)}</span></div>"
            )
        parts.append("</td>")
        return "".join(parts)

    return render
