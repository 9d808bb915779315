"""The coverage dashboard's reads and its table: kommune × data area, which vendor's system
delivers, how far its route has come, the newest delivery and the expected period that speaks
for each cell.

The matrix runs a fixed number of queries however many kommuner, routes and deliveries there
are (tests pin the counts) and scopes by user only through the models' `for_user()` querysets.

The table rows are built in Python (`coverage_rows_html`). The full matrix is 98 kommuner × 5
data areas: ~500 cells with ~1,000 route badges. Django's template engine spent ≈50 ms of CPU
per request on them, so ten users at once queued behind two cores (benchmarks/load.py); the same
markup built here from escaped pieces takes a few milliseconds. The page around the table stays
in `templates/front/coverage.html`. Every value from the database goes through `escape`.

Above the table, the overview (`coverage_overview_html`) shows the whole country at once: one
small cell per kommune and data area in a state of `CellState`, built from the same matrix
(no query of its own) and in the same way, from escaped pieces.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, NamedTuple

from django.db import connection
from django.db import models as db_models
from django.db.models import F, OuterRef, Q, Subquery
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from deliveries.lifecycle.states import TURNED_DOWN, DeliveryStatus
from deliveries.models import Delivery, DeliveryEvent, ExpectedDelivery, ExpectedState
from deliveries.selectors import collecting_period, owed_within_dashboard
from flisportal.audit.models import AuditEntry
from flisportal.lib.links import link_former
from flisportal.lib.periods import date_text, local_date
from routes.models import (
    DataArea,
    Endpoint,
    ITSystem,
    Kommune,
    Region,
    Route,
    RouteEvent,
    RouteStatus,
    Vendor,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from routes.models import User

# How far along a route is; the most advanced route speaks for a cell.
STATUS_RANK: dict[str, int] = {
    RouteStatus.ESTABLISHED: 4,
    RouteStatus.ORDERED: 3,
    RouteStatus.REQUESTED: 2,
    RouteStatus.RETIRED: 1,
    RouteStatus.REJECTED: 0,
}

# Which expected state speaks for a cell with more than one route or period: the worst.
URGENCY: dict[str, int] = {
    ExpectedState.OVERDUE: 3,
    ExpectedState.DUE_SOON: 2,
    ExpectedState.PENDING: 1,
    ExpectedState.MET: 0,
}


# --- the matrix -------------------------------------------------------------------------------


class CellState(db_models.TextChoices):
    """What one overview cell says of a kommune and data area, worst first: the state that
    speaks for a cell is the first of these that holds (`CoverageCell.state`)."""

    NO_ROUTE = "none", gettext_lazy("ingen rute")
    WAITING = "waiting", gettext_lazy("rute bestilt")
    OVERDUE = "overdue", gettext_lazy("overskredet")
    REJECTED = "rejected", gettext_lazy("afvist")
    DUE_SOON = "due_soon", gettext_lazy("frist nærmer sig")
    PENDING = "pending", gettext_lazy("afventer")
    MET = "met", gettext_lazy("leveret")


# A shape per state besides its colour, so the overview reads without colour (WCAG 1.4.1) and
# in print.
CELL_GLYPHS: dict[str, str] = {
    CellState.NO_ROUTE: "–",
    CellState.WAITING: "…",
    CellState.OVERDUE: "!",
    CellState.REJECTED: "×",
    CellState.DUE_SOON: "◐",
    CellState.PENDING: "○",
    CellState.MET: "✓",
}

# The overview's two filters: "kun huller" (no established route yet) and "kun overskredne".
# The parameter keeps its old value "forsinkede" so saved links still filter; the label says
# "overskredet", the word the Hjælp page and the expected-delivery badges use for this state.
ONLY_GAPS = "huller"
ONLY_OVERDUE = "forsinkede"
ONLY_STATES: dict[str, frozenset[str]] = {
    ONLY_GAPS: frozenset({CellState.NO_ROUTE, CellState.WAITING}),
    ONLY_OVERDUE: frozenset({CellState.OVERDUE}),
}


class RouteBadge(NamedTuple):
    """What the dashboard and its CSV show of one route: its endpoint and its status, with the
    label translated once per page, not once per route (~1,000 gettext calls on the full
    matrix; benchmarks/load.py)."""

    status: str
    label: str
    endpoint: Endpoint


def _best_badge(badges: Iterable[RouteBadge]) -> RouteBadge | None:
    return max(badges, key=lambda b: STATUS_RANK[b.status], default=None)


@dataclass
class CoverageEntry:
    """One sender system's routes for one kommune and data area (one per endpoint)."""

    system: ITSystem
    badges: list[RouteBadge] = field(default_factory=list)

    @property
    def vendor(self) -> Vendor | None:
        return self.system.vendor

    @property
    def best(self) -> RouteBadge | None:
        """The most advanced of the system's routes."""
        return _best_badge(self.badges)


@dataclass(frozen=True)
class LatestDelivery:
    """What a coverage cell shows of the newest delivery."""

    delivered_on: date
    status: str
    status_label: str
    url: str = ""
    period: str = ""


@dataclass
class CoverageCell:
    kommune: Kommune
    area: DataArea
    entries: list[CoverageEntry] = field(default_factory=list)
    # Filled by `coverage_attach`: the newest delivery for this kommune and data area (its date
    # and state), and the expected period that speaks for the cell (the worst open one, or the
    # period being collected) with its state in words.
    latest_delivery: LatestDelivery | None = None
    expected: ExpectedDelivery | None = None
    expected_text: str = ""

    @property
    def status(self) -> str:
        """The most advanced route state in the cell, or "" when no route exists."""
        best = _best_badge(badge for entry in self.entries for badge in entry.badges)
        return best.status if best else ""

    @property
    def state(self) -> str:
        """The cell's `CellState`: a gap while no route is established (a retired or refused
        order is no route); then the period that speaks for the cell, unless the newest
        delivery was turned down and nothing has met the period since."""
        status = self.status
        if status in ("", RouteStatus.RETIRED, RouteStatus.REJECTED):
            return CellState.NO_ROUTE
        if status != RouteStatus.ESTABLISHED:
            return CellState.WAITING
        expected = self.expected
        if expected is not None and expected.state == ExpectedState.OVERDUE:
            return CellState.OVERDUE
        met = expected is not None and expected.state == ExpectedState.MET
        latest = self.latest_delivery
        if latest is not None and latest.status in TURNED_DOWN and not met:
            return CellState.REJECTED
        if expected is not None and expected.state in (ExpectedState.DUE_SOON, ExpectedState.MET):
            return str(expected.state)
        return CellState.PENDING

    @property
    def state_period(self) -> str:
        """The period the cell's state is about, or "" (no route, nothing owed yet)."""
        if self.state == CellState.REJECTED and self.latest_delivery is not None:
            return self.latest_delivery.period
        return self.expected.period if self.expected is not None else ""


@dataclass
class CoverageRow:
    kommune: Kommune
    cells: list[CoverageCell]


@dataclass
class CoverageMatrix:
    areas: list[DataArea]
    rows: list[CoverageRow]
    # `ONLY_GAPS`, `ONLY_OVERDUE` or "": the rows kept are those with a cell in that state.
    only: str = ""

    def cells(self) -> Iterator[CoverageCell]:
        for row in self.rows:
            yield from row.cells

    def established_per_area(self) -> list[int]:
        """How many kommuner have an established route, per column."""
        return [
            sum(1 for row in self.rows if row.cells[i].status == RouteStatus.ESTABLISHED)
            for i in range(len(self.areas))
        ]


def coverage_matrix(
    *,
    user: User | AnonymousUser,
    region: str | None = None,
    vendor: Vendor | None = None,
    area: DataArea | None = None,
    search: str = "",
    only: str = "",
) -> CoverageMatrix:
    """Kommune × data area: which vendor's system delivers, and how far its route has come.

    `search` keeps the kommuner whose name holds it or whose code starts with it; `only`
    (`ONLY_GAPS`, `ONLY_OVERDUE`) the kommuner with at least one cell in that state.

    Seven queries (kommuner, data areas, routes, their systems, endpoints, newest deliveries,
    expected periods) whatever the number of kommuner and routes."""
    kommuner_qs = Kommune.objects.for_user(user)
    if region:
        kommuner_qs = kommuner_qs.filter(region=region)
    if search:
        kommuner_qs = kommuner_qs.filter(
            Q(name__icontains=search) | Q(code__startswith=search.lstrip("0") or search)
        )
    areas_qs = DataArea.objects.all()
    if area is not None:
        areas_qs = areas_qs.filter(pk=area.pk)
    kommuner = list(kommuner_qs.order_by("code"))
    areas = list(areas_qs)

    routes_qs = (
        Route.objects.for_user(user)
        .filter(kommune__in=[k.pk for k in kommuner], data_area__in=[a.pk for a in areas])
        .order_by("sender_system__name", "endpoint__slug", "pk")
    )
    if vendor is not None:
        routes_qs = routes_qs.filter(sender_system__vendor=vendor)
    # Plain rows, not model instances: the full matrix has ~1,000 routes, and a handful of
    # systems and endpoints recur in all of them, read once each (the matrix took 45 ms with
    # every route a model joined to its system, vendor and endpoint; benchmarks/load.py).
    routes = list(
        routes_qs.values_list(
            "kommune_id", "data_area_id", "sender_system_id", "endpoint_id", "status"
        )
    )
    senders = routes_qs.order_by().values("sender_system_id")
    systems = ITSystem.objects.select_related("vendor").filter(pk__in=senders).in_bulk()
    endpoints = Endpoint.objects.in_bulk()

    # (kommune id, area id) -> system id -> entry; dicts keep the query's order.
    grouped: dict[tuple[int, int], dict[int, CoverageEntry]] = defaultdict(dict)
    labels = {value: str(label) for value, label in RouteStatus.choices}
    for kommune_id, area_id, system_id, endpoint_id, status in routes:
        entries = grouped[(kommune_id, area_id)]
        entry = entries.get(system_id)
        if entry is None:
            entry = entries[system_id] = CoverageEntry(systems[system_id])
        entry.badges.append(RouteBadge(status, labels[status], endpoints[endpoint_id]))

    rows = [
        CoverageRow(
            kommune,
            [
                CoverageCell(kommune, data_area, list(grouped[(kommune.pk, data_area.pk)].values()))
                for data_area in areas
            ],
        )
        for kommune in kommuner
    ]
    matrix = CoverageMatrix(areas=areas, rows=rows, only=only)
    coverage_attach(cells=list(matrix.cells()), user=user)
    if only in ONLY_STATES:
        # After the cells are filled: a cell's state needs its periods and newest delivery.
        wanted = ONLY_STATES[only]
        matrix.rows = [row for row in rows if any(cell.state in wanted for cell in row.cells)]
    return matrix


# --- deliveries and expected periods in the cells ---------------------------------------------


def expected_text(expected: ExpectedDelivery) -> str:
    """The state of one expected period in words, for people and screen readers."""
    values = {"period": expected.period, "due": date_text(expected.due_date)}
    if expected.state == ExpectedState.OVERDUE:
        return _("Overskredet: %(period)s (frist %(due)s)") % values
    if expected.state == ExpectedState.DUE_SOON:
        return _("Frist nærmer sig: %(period)s (frist %(due)s)") % values
    if expected.state == ExpectedState.MET:
        return _("Leveret: %(period)s") % values
    return _("Afventer: %(period)s (frist %(due)s)") % values


def _latest_per_cell(*, user: User | AnonymousUser, kommune_ids: set[int], area_ids: set[int]):
    # One query, a seek per cell: for each area, the newest delivery of each kommune read from
    # the index `delivery_cell_newest`. Its cost follows the number of cells, not the years of
    # deliveries (a window over all of them took 125 ms at 100,000; benchmarks/load.py).
    scoped = Delivery.objects.for_user(user).order_by("-uploaded_at", "-pk").values("pk")
    kommuner = Kommune.objects.filter(pk__in=kommune_ids)
    newest = Q()
    for area_id in sorted(area_ids):
        per_kommune = scoped.filter(kommune_id=OuterRef("pk"), data_area_id=area_id)[:1]
        newest |= Q(pk__in=kommuner.annotate(newest=Subquery(per_kommune)).values("newest"))
    return (
        Delivery.objects.filter(newest)
        .order_by()
        .values_list("kommune_id", "data_area_id", "uploaded_at", "status", "uuid", "period")
    )


def coverage_attach(*, cells: list[CoverageCell], user: User | AnonymousUser) -> None:
    """Fills each coverage cell's latest delivery and expected-delivery state. Two queries."""
    if not cells:
        return
    kommune_ids = {cell.kommune.pk for cell in cells}
    area_ids = {cell.area.pk for cell in cells}
    by_cell = {(cell.kommune.pk, cell.area.pk): cell for cell in cells}
    # Reversed once: a few hundred cells each link to their newest delivery.
    detail_url = link_former("deliveries:detail", "uuid")

    newest = _latest_per_cell(user=user, kommune_ids=kommune_ids, area_ids=area_ids)
    labels = {value: str(label) for value, label in DeliveryStatus.choices}
    for kommune_id, area_id, uploaded_at, status, delivery_uuid, period in newest:
        cell = by_cell.get((kommune_id, area_id))
        if cell is not None:
            cell.latest_delivery = LatestDelivery(
                delivered_on=local_date(uploaded_at),
                status=status,
                status_label=labels[status],
                url=detail_url(delivery_uuid),
                period=period,
            )

    # Open periods of the last year, and the period being collected now even when met, so a
    # cell shows "Leveret: 2026-10" once this month's extract is in.
    collecting = collecting_period()
    expected_rows = (
        ExpectedDelivery.objects.filter(
            owed_within_dashboard(collecting),
            route__kommune_id__in=kommune_ids,
            route__data_area_id__in=area_ids,
        )
        .filter(~Q(state=ExpectedState.MET) | Q(period=collecting))
        .annotate(kommune_id=F("route__kommune_id"), data_area_id=F("route__data_area_id"))
        .only("period", "state", "due_at")
        .order_by("period", "pk")
    )
    for expected in expected_rows:
        cell = by_cell.get((expected.kommune_id, expected.data_area_id))  # type: ignore[attr-defined]
        if cell is None:
            continue
        # Pending periods of next month say nothing yet; only the period being collected does.
        if expected.state == ExpectedState.PENDING and expected.period != collecting:
            continue
        current = cell.expected
        if current is None or URGENCY[expected.state] > URGENCY[current.state]:
            cell.expected = expected
    for cell in cells:
        if cell.expected is not None:
            cell.expected_text = expected_text(cell.expected)


def coverage_stamp() -> str:
    """Changes whenever what the coverage dashboard shows may have changed; the dashboard caches
    its table under it. One query of six index look-ups: the newest delivery event (every
    upload and status change writes one), route event, audit entry (route orders, registry
    edits in the admin, retention), expected-delivery state change, route and delivery."""
    quote = connection.ops.quote_name
    newest = ", ".join(
        f"(SELECT MAX({quote(column)}) FROM {quote(model._meta.db_table)})"  # noqa: S608
        for model, column in (
            (DeliveryEvent, "id"),
            (RouteEvent, "id"),
            (AuditEntry, "id"),
            (ExpectedDelivery, "state_changed_at"),
            # New rows made without an event (a bulk import, a data migration).
            (Route, "id"),
            (Delivery, "id"),
        )
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {newest}")  # names from the models only
        row = cursor.fetchone()
    return "/".join(str(value) for value in row)


# --- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageTable:
    """The dashboard's rendered table, as the cache keeps it."""

    html: SafeString
    kommuner: int
    overview: SafeString


def _search_text(kommune: Kommune) -> str:
    """What the page's script matches a typed search against: code and name, lower case."""
    return str(escape(f"{kommune.code} {kommune.name}".lower()))


def coverage_rows_html(matrix: CoverageMatrix) -> SafeString:
    """One `<tr>` per kommune: its name linking to the kommune's page, then a cell per area."""
    cell_html = _cell_renderer()
    kommune_page = link_former("front:kommune", "str")
    page_title = escape(_("Kommunens side"))
    rows = []
    for row in matrix.rows:
        kommune = row.kommune
        rows.append(
            f'<tr data-kommune="{_search_text(kommune)}"><th scope="row" class="kommune">'
            f'<a href="{kommune_page(kommune.code)}" title="{page_title}">'
            f"{escape(kommune.code)} {escape(kommune.name)}</a></th>"
            + "".join(cell_html(cell) for cell in row.cells)
            + "</tr>"
        )
    return mark_safe("\n".join(rows))  # noqa: S308 – built from escaped values only


def _cell_renderer() -> Callable[[CoverageCell], str]:
    onboarding = link_former("front:onboarding", "int", "str")
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
                f"{date_text(latest.delivered_on)}, {esc(latest.status_label)}</a>"
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


# --- the overview -----------------------------------------------------------------------------


def cell_name(kommune: Kommune, area_name: str, state_label: str, period: str) -> str:
    """A cell's accessible name: "Aarhus · Skole: overskredet (2026-10)"."""
    name = f"{kommune.short_name} · {area_name}: {state_label}"
    return f"{name} ({period})" if period else name


def coverage_overview_html(matrix: CoverageMatrix) -> SafeString:
    """The whole matrix as small cells, one table per region (in the regions' own order), so
    98 kommuner × 5 data areas fit one laptop screen. Each cell links to the kommune's page
    and says its state by a shape as well as a colour, and in words in its title and
    accessible name. With `matrix.only`, cells in other states are dimmed."""
    kommune_page = link_former("front:kommune", "str")
    labels = {state.value: str(state.label) for state in CellState}
    wanted = ONLY_STATES.get(matrix.only)
    area_names = [area.name for area in matrix.areas]
    head = "".join(
        f'<th scope="col"><abbr title="{escape(name)}">{escape(name[:1])}</abbr></th>'
        for name in area_names
    )
    page_title = escape(_("Kommunens side"))
    kommune_head = escape(_("Kommune"))  # outside the f-string, where makemessages sees it
    by_region: dict[str, list[CoverageRow]] = defaultdict(list)
    for row in matrix.rows:
        by_region[row.kommune.region].append(row)

    sections = []
    for region, region_label in Region.choices:
        rows = by_region.get(region)
        if not rows:
            continue
        lines = []
        for row in rows:
            kommune = row.kommune
            url = kommune_page(kommune.code)
            cells = []
            for cell, area_name in zip(row.cells, area_names, strict=True):
                state = cell.state
                name = escape(cell_name(kommune, area_name, labels[state], cell.state_period))
                dim = " ov-dim" if wanted is not None and state not in wanted else ""
                cells.append(
                    f'<td><a class="ov ov-{state}{dim}" href="{url}" title="{name}" '
                    f'aria-label="{name}">{CELL_GLYPHS[state]}</a></td>'
                )
            lines.append(
                f'<tr data-kommune="{_search_text(kommune)}"><th scope="row">'
                f'<a href="{url}" title="{escape(kommune.name)}: {page_title}">'
                f"{escape(kommune.short_name)}</a></th>" + "".join(cells) + "</tr>"
            )
        caption = escape(str(region_label).removeprefix("Region "))
        sections.append(
            f'<section class="overview-region" data-region><table class="overview-grid">'
            f'<caption>{caption} <span class="text-muted">({len(rows)})</span></caption>'
            f'<thead><tr><th scope="col"><span class="visually-hidden">{kommune_head}'
            f"</span></th>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table></section>"
        )
    return mark_safe("".join(sections))  # noqa: S308 – built from escaped values only
