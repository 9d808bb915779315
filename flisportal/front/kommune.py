"""A kommune's own page: its routes, its vendors with their databehandleraftale, the last twelve
periods per data area as a strip of the coverage overview's cells, and its open problems.

Everything is read within the user's scope through the models' `for_user()` querysets (a
vendor's staff see their own routes, agreements and deliveries of the kommune, a consultant
and an administrator all of them), in six queries however many routes, periods and deliveries
the kommune has: the reads are bounded by the kommune and the strip's year, never by the years
of history (`delivery_kom_newest` and the routes' kommune index find them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ExpectedDelivery, ExpectedState
from deliveries.selectors import collecting_period, kommune_unsettled_turned_down
from flisportal.front.coverage import CELL_GLYPHS, URGENCY, CellState
from flisportal.lib.links import link_former
from flisportal.lib.periods import COPENHAGEN, period_shift
from routes.models import (
    AgreementStatus,
    DataArea,
    Kommune,
    ProcessingAgreement,
    Route,
    RouteStatus,
    Vendor,
)
from routes.selectors import AreaRoutes, kommune_routes

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from routes.models import User

# How many periods the strip shows: a year, the period being collected last.
STRIP_MONTHS = 12

# The route states that wait for KOMBIT or the vendor: an order nobody has finished.
WAITING_ROUTE_STATES = (RouteStatus.REQUESTED, RouteStatus.ORDERED)


@dataclass(frozen=True)
class StripCell:
    period: str
    state: str
    label: str
    glyph: str
    name: str  # the accessible name: "Skole · 2026-10: overskredet"


@dataclass
class AreaStrip:
    area: DataArea
    cells: list[StripCell]


@dataclass
class VendorLine:
    """A vendor that works with the kommune, with its databehandleraftale (or none yet)."""

    vendor: Vendor
    agreement: ProcessingAgreement | None = None
    routes: int = 0


@dataclass(frozen=True)
class OpenDelivery:
    """A turned-down delivery that no later delivery for its route and period has settled."""

    uuid: str
    period: str
    status: str
    status_label: str
    route: Route
    at: datetime


@dataclass
class KommunePage:
    kommune: Kommune
    areas: list[AreaRoutes]
    routes: list[Route]
    vendors: list[VendorLine]
    periods: list[str]
    strips: list[AreaStrip]
    overdue: list[ExpectedDelivery] = field(default_factory=list)
    turned_down: list[OpenDelivery] = field(default_factory=list)

    @property
    def waiting_routes(self) -> list[Route]:
        return [route for route in self.routes if route.status in WAITING_ROUTE_STATES]

    @property
    def open_problems(self) -> int:
        return len(self.overdue) + len(self.turned_down) + len(self.waiting_routes)

    @property
    def strip_rows_html(self) -> SafeString:
        return strip_rows_html(self.strips)


def kommune_page(*, kommune: Kommune, user: User | AnonymousUser) -> KommunePage:
    """What the kommune's page shows to `user`. Six queries: data areas, routes (with their
    systems, vendors and endpoints), their recipient systems, the strip's expected periods,
    the strip's deliveries, and agreements (with their vendors)."""
    collecting = collecting_period()
    periods = [period_shift(collecting, -n) for n in range(STRIP_MONTHS - 1, -1, -1)]
    # The order page's read, scoped to the user: by data area, then recipient systems.
    by_area = kommune_routes(kommune=kommune, user=user)
    routes = []
    for block in by_area:
        for group in block.groups:
            for route in group.routes:
                route.data_area = block.area  # read once for all: the problems name it
                routes.append(route)
    _row_views(routes)
    by_pk = {route.pk: route for route in routes}
    # The routes are the user's already: their periods need no scoping of their own.
    expected = list(
        ExpectedDelivery.objects.filter(
            route_id__in=list(by_pk), period__gte=periods[0], period__lte=collecting
        )
        .only("route_id", "period", "state", "due_at")
        .order_by("due_at", "pk")
    )
    for row in expected:
        row.route = by_pk[row.route_id]
    turned_down = _turned_down(kommune=kommune, user=user, first=periods[0], routes=by_pk)
    areas = [block.area for block in by_area]
    return KommunePage(
        kommune=kommune,
        areas=by_area,
        routes=routes,
        vendors=_vendor_lines(kommune=kommune, user=user, routes=routes),
        periods=periods,
        strips=_strips(areas, periods, routes, expected, turned_down),
        overdue=[
            row
            for row in expected
            if row.state == ExpectedState.OVERDUE and row.route.status == RouteStatus.ESTABLISHED
        ],
        turned_down=turned_down,
    )


def _row_views(routes: list[Route]) -> None:
    """What the routes table shows of each route that costs most to draw: its link, from one
    reverse() for the page (flisportal/lib/links.py), and its status badge, the shared
    partial drawn once per status on the page instead of an {% include %} per row (the rows
    were ≈40 % of the template's time)."""
    route_url = link_former("routes:route_detail", "int")
    badges: dict[str, SafeString] = {}
    for route in routes:
        route.url = route_url(route.pk)  # type: ignore[attr-defined]
        if route.status not in badges:
            badges[route.status] = render_to_string(
                "routes/_status.html", {"status": route.status, "label": route.get_status_display()}
            )
        route.status_badge = badges[route.status]  # type: ignore[attr-defined]


def _turned_down(
    *, kommune: Kommune, user: User | AnonymousUser, first: str, routes: dict[int, Route]
) -> list[OpenDelivery]:
    """Per route and period of the strip, the newest turned-down delivery that no later
    delivery for the same route and period settled by reaching the recipient (the start page's
    rule: `Delivery.objects.unsettled_problems`), newest first. One query over the kommune's
    failures of the strip's year (`kommune_unsettled_turned_down`): each probes the partial
    index of the successes, so the rows read per failure do not grow with the tries."""
    year, month = (int(part) for part in first.split("-"))
    # No extract for a month is uploaded before the month begins.
    since = datetime(year, month, 1, tzinfo=COPENHAGEN)
    rows = (
        kommune_unsettled_turned_down(kommune=kommune, user=user, since=since, first_period=first)
        .order_by("uploaded_at", "pk")
        .values_list("uuid", "route_id", "period", "status", "status_changed_at")
    )
    # Oldest first: the newest unsettled one of each route and period is the one shown.
    newest = {
        (route_id, period): (str(uuid), status, changed)
        for uuid, route_id, period, status, changed in rows
    }
    labels = {value: str(label) for value, label in DeliveryStatus.choices}
    found = [
        OpenDelivery(uuid, period, status, labels[status], routes[route_id], changed)
        for (route_id, period), (uuid, status, changed) in newest.items()
        if route_id in routes
    ]
    return sorted(found, key=lambda item: item.at, reverse=True)


def _strips(
    areas: list[DataArea],
    periods: list[str],
    routes: list[Route],
    expected: list[ExpectedDelivery],
    turned_down: list[OpenDelivery],
) -> list[AreaStrip]:
    """Per data area, a cell per period: the worst expected state of its routes, "afvist"
    while a turned-down delivery is unsettled and the period unmet, and for a period nothing
    was owed: a gap, or an order waiting when the area's route is on its way."""
    worst: dict[tuple[int, str], str] = {}
    for row in expected:
        key = (row.route.data_area_id, row.period)
        current = worst.get(key)
        if current is None or URGENCY[row.state] > URGENCY[current]:
            worst[key] = row.state
    rejected = {(item.route.data_area_id, item.period) for item in turned_down}
    waiting = {route.data_area_id for route in routes if route.status in WAITING_ROUTE_STATES}
    labels = {state.value: str(state.label) for state in CellState}
    labels["nothing"] = _("intet forventet")
    strips = []
    for area in areas:
        cells = []
        for period in periods:
            state = _period_state(worst.get((area.pk, period)), (area.pk, period) in rejected)
            label = labels[state]
            if state == CellState.NO_ROUTE and area.pk in waiting:
                state, label = CellState.WAITING, labels[CellState.WAITING]
            elif state == CellState.NO_ROUTE:
                label = labels["nothing"]
            cells.append(
                StripCell(
                    period, state, label, CELL_GLYPHS[state], f"{area.name} · {period}: {label}"
                )
            )
        strips.append(AreaStrip(area, cells))
    return strips


def strip_rows_html(strips: list[AreaStrip]) -> SafeString:
    """The strip's rows, a cell per period, as the template wrote them (whitespace included),
    built from escaped pieces: 60 cells of four values each were a fifth of the template's
    time. The area's name is the only value from the database, and goes through `escape` like
    every value."""
    rows = []
    for strip in strips:
        cells = "".join(
            f'<td><span class="ov ov-{escape(cell.state)}" role="img" title="{escape(cell.name)}"'
            f' aria-label="{escape(cell.name)}">{escape(cell.glyph)}</span></td>'
            for cell in strip.cells
        )
        rows.append(
            f'\n      <tr>\n        <th scope="row">{escape(strip.area.name)}</th>\n'
            f"        {cells}\n      </tr>\n    "
        )
    return mark_safe("".join(rows))  # noqa: S308 – built from escaped values only


def _period_state(expected_state: str | None, rejected: bool) -> str:
    if expected_state is None:
        return CellState.NO_ROUTE
    if expected_state == ExpectedState.OVERDUE:
        return CellState.OVERDUE
    if rejected and expected_state != ExpectedState.MET:
        return CellState.REJECTED
    return str(expected_state)


def _vendor_lines(
    *, kommune: Kommune, user: User | AnonymousUser, routes: list[Route]
) -> list[VendorLine]:
    """The vendors of the kommune's routes and agreements, each with its agreement (the newest
    signed one first, else the newest) and how many of its routes the kommune has."""
    lines: dict[int, VendorLine] = {}
    route_counts: dict[int, int] = defaultdict(int)
    for route in routes:
        vendor = route.sender_system.vendor
        if vendor is not None:
            lines.setdefault(vendor.pk, VendorLine(vendor))
            route_counts[vendor.pk] += 1
    agreements = (
        ProcessingAgreement.objects.for_user(user)
        .filter(kommune=kommune)
        .select_related("vendor")
        .order_by("vendor__name", "pk")
    )
    for agreement in agreements:
        line = lines.setdefault(agreement.vendor_id, VendorLine(agreement.vendor))
        if _better_agreement(agreement, line.agreement):
            line.agreement = agreement
    for pk, count in route_counts.items():
        lines[pk].routes = count
    return sorted(lines.values(), key=lambda line: line.vendor.name)


def _better_agreement(candidate: ProcessingAgreement, current: ProcessingAgreement | None) -> bool:
    if current is None:
        return True
    signed = AgreementStatus.SIGNED
    if (candidate.status == signed) != (current.status == signed):
        return candidate.status == signed
    return candidate.pk > current.pk
