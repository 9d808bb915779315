"""Reads over deliveries that are more than one filter: what the coverage dashboard shows of
deliveries and expected periods, and a kommune's delivery history per route.

Each runs a fixed number of queries however many kommuner, routes and periods there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.db.models import F, Prefetch, Q, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from deliveries.models import (
    COPENHAGEN,
    Delivery,
    DeliveryStatus,
    ExpectedDelivery,
    ExpectedState,
    period_of,
    period_shift,
)
from routes.models import Kommune, Route, RouteStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from routes.models import User
    from routes.selectors import CoverageCell

# How far back the dashboard looks for periods still missing.
DASHBOARD_MONTHS = 12

# Which expected state speaks for a cell with more than one route or period: the worst.
_URGENCY = {
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
    # One query: the newest delivery per (kommune, data area) by a window function, which both
    # SQLite and PostgreSQL run (filtering on a window needs Django ≥ 4.2).
    return (
        Delivery.objects.for_user(user)
        .filter(kommune_id__in=kommune_ids, data_area_id__in=area_ids)
        .annotate(
            newest=Window(
                RowNumber(),
                partition_by=[F("kommune_id"), F("data_area_id")],
                order_by=[F("uploaded_at").desc(), F("pk").desc()],
            )
        )
        .filter(newest=1)
        .only("kommune_id", "data_area_id", "uploaded_at", "status", "uuid")
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
    placeholder = "00000000-0000-0000-0000-000000000000"
    detail_url = reverse("deliveries:detail", kwargs={"delivery_uuid": placeholder})

    for delivery in _latest_per_cell(user=user, kommune_ids=kommune_ids, area_ids=area_ids):
        cell = by_cell.get((delivery.kommune_id, delivery.data_area_id))
        if cell is not None:
            cell.latest_delivery = LatestDelivery(
                delivered_on=delivery.uploaded_at.astimezone(COPENHAGEN).date(),
                status=delivery.status,
                status_label=str(DeliveryStatus(delivery.status).label),
                url=detail_url.replace(placeholder, str(delivery.uuid)),
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
        if (
            current is None
            or _URGENCY[ExpectedState(expected.state)] > _URGENCY[ExpectedState(current.state)]
        ):
            cell.expected = expected
            cell.expected_text = expected_text(expected)


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
