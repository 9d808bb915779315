"""Reads over deliveries that are more than one filter: what the coverage dashboard shows of
deliveries and expected periods, and a kommune's delivery history per route.

Each runs a fixed number of queries however many kommuner, routes and periods there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import F, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from deliveries.models import (
    COPENHAGEN,
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    ExpectedDelivery,
    ExpectedState,
    period_of,
    period_shift,
)
from flisportal.links import link_former
from routes.models import Kommune, Route, RouteEvent, RouteStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from routes.models import User
    from routes.selectors import CoverageCell

# How far back the dashboard looks for periods still missing.
DASHBOARD_MONTHS = 12

# Which expected state speaks for a cell with more than one route or period: the worst.
_URGENCY: dict[str, int] = {
    ExpectedState.OVERDUE: 3,
    ExpectedState.DUE_SOON: 2,
    ExpectedState.PENDING: 1,
    ExpectedState.MET: 0,
}


def expected_text(expected: ExpectedDelivery) -> str:
    """The state of one expected period in words, for people and screen readers."""
    values = {"period": expected.period, "due": expected.due_date.strftime("%d.%m.%Y")}
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
        .values_list("kommune_id", "data_area_id", "uploaded_at", "status", "uuid")
    )


def coverage_attach(*, cells: list[CoverageCell], user: User | AnonymousUser) -> None:
    """Fills each coverage cell's latest delivery and expected-delivery state. Two queries."""
    from routes.selectors import LatestDelivery  # routes does not import deliveries at load

    if not cells:
        return
    kommune_ids = {cell.kommune.pk for cell in cells}
    area_ids = {cell.area.pk for cell in cells}
    by_cell = {(cell.kommune.pk, cell.area.pk): cell for cell in cells}
    # Reversed once: a few hundred cells each link to their newest delivery.
    detail_url = link_former("deliveries:detail", "uuid")

    newest = _latest_per_cell(user=user, kommune_ids=kommune_ids, area_ids=area_ids)
    labels = {value: str(label) for value, label in DeliveryStatus.choices}
    for kommune_id, area_id, uploaded_at, status, delivery_uuid in newest:
        cell = by_cell.get((kommune_id, area_id))
        if cell is not None:
            cell.latest_delivery = LatestDelivery(
                delivered_on=uploaded_at.astimezone(COPENHAGEN).date(),
                status=status,
                status_label=labels[status],
                url=detail_url(delivery_uuid),
            )

    # Open periods of the last year, and the period being collected now even when met, so a
    # cell shows "Leveret: 2026-10" once this month's extract is in.
    collecting = period_shift(period_of(timezone.now()), -1)
    expected_rows = (
        ExpectedDelivery.objects.filter(
            route__kommune_id__in=kommune_ids,
            route__data_area_id__in=area_ids,
            route__status=RouteStatus.ESTABLISHED,
            period__gte=period_shift(collecting, -DASHBOARD_MONTHS),
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
        if current is None or _URGENCY[expected.state] > _URGENCY[current.state]:
            cell.expected = expected
    for cell in cells:
        if cell.expected is not None:
            cell.expected_text = expected_text(cell.expected)


def coverage_stamp() -> str:
    """Changes whenever what the coverage dashboard shows may have changed; the dashboard caches
    its table under it. One query of six index look-ups: the newest delivery event (every
    upload and status change writes one), route event, audit entry (route orders, registry
    edits in the admin, retention), expected-delivery state change, route and delivery."""
    from flisportal.audit.models import AuditEntry

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


# --- a kommune's history ----------------------------------------------------------------------


@dataclass
class HistoryLine:
    period: str
    due_date: date
    state: str
    outcome: str  # on time / late by N days / missing / pending, in Danish
    badge: str
    delivery: Delivery | None


@dataclass
class RouteHistory:
    route: Route
    lines: list[HistoryLine]


def history_outcome(expected: ExpectedDelivery) -> str:
    late = expected.days_late()
    if expected.state == ExpectedState.MET:
        if not late:
            return _("Til tiden")
        return ngettext("%(n)s dag for sent", "%(n)s dage for sent", late) % {"n": late}
    if expected.state == ExpectedState.OVERDUE:
        return _("Mangler")
    if expected.state == ExpectedState.DUE_SOON:
        return _("Frist nærmer sig")
    return _("Afventer")


def kommune_history(*, kommune: Kommune) -> list[RouteHistory]:
    """Every route of the kommune that has owed an extract, newest period first. Two queries."""
    expected = ExpectedDelivery.objects.select_related("met_by").order_by("-period", "pk")
    routes = (
        Route.objects.filter(kommune=kommune, expected__isnull=False)
        .distinct()
        .select_related("data_area", "sender_system__vendor", "endpoint")
        .prefetch_related(Prefetch("expected", queryset=expected))
        .order_by("data_area__sort_order", "endpoint__slug", "sender_system__name", "pk")
    )
    result = []
    for route in routes:
        lines = [
            HistoryLine(
                period=row.period,
                due_date=row.due_date,
                state=row.state,
                outcome=history_outcome(row),
                badge=row.state_badge,
                delivery=row.met_by,
            )
            for row in route.expected.all()
        ]
        result.append(RouteHistory(route=route, lines=lines))
    return result
