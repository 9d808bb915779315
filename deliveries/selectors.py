"""Reads over deliveries that are more than one filter: what the coverage dashboard shows of
deliveries and expected periods, and a kommune's delivery history per route.

Each runs a fixed number of queries however many kommuner, routes and periods there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, NamedTuple

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from deliveries.models import (
    OWED_EXPECTED_STATES,
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    ExpectedDelivery,
    ExpectedState,
)
from flisportal.lib.links import link_former
from flisportal.lib.periods import COPENHAGEN, period_of, period_shift
from routes.models import Kommune, Route, RouteEvent, RouteStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from routes.models import User
    from routes.selectors import CoverageCell

# How far back the dashboard looks for periods still missing.
DASHBOARD_MONTHS = 12

# Deliveries that stopped without reaching the recipient, and how long a start page lists them.
PROBLEM_STATES = (DeliveryStatus.REJECTED, DeliveryStatus.REFUSED, DeliveryStatus.FAILED)
PROBLEM_DAYS = 30

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


def collecting_period() -> str:
    """The period whose extracts are being collected now: last month's data."""
    return period_shift(period_of(timezone.now()), -1)


def _owed_within_dashboard(collecting: str) -> Q:
    """Expected periods of established routes within the dashboard's year."""
    return Q(
        route__status=RouteStatus.ESTABLISHED,
        period__gte=period_shift(collecting, -DASHBOARD_MONTHS),
    )


def outstanding_expected(user: User | AnonymousUser) -> QuerySet[ExpectedDelivery]:
    """The periods the user's routes still owe, earliest deadline first: overdue or due soon
    within the dashboard's year, and the period being collected now (pending periods of next
    month say nothing yet). The coverage dashboard's cells show the same periods."""
    collecting = collecting_period()
    # The few periods not met, found first (index `expected_state_period`: a seek per state),
    # so that the years of met periods are never walked route by route.
    owed = ExpectedDelivery.objects.filter(
        state__in=OWED_EXPECTED_STATES, period__gte=period_shift(collecting, -DASHBOARD_MONTHS)
    ).filter(
        Q(state__in=(ExpectedState.OVERDUE, ExpectedState.DUE_SOON))
        | Q(state=ExpectedState.PENDING, period=collecting)
    )
    return (
        ExpectedDelivery.objects.for_user(user)
        .filter(pk__in=owed.values("pk"))
        .filter(_owed_within_dashboard(collecting))
        .select_related(
            "route__kommune", "route__data_area", "route__sender_system__vendor", "route__endpoint"
        )
        .order_by("due_at", "pk")
    )


class StateCount(NamedTuple):
    state: str
    label: str
    badge: str
    number: int


def outstanding_counts(rows: QuerySet[ExpectedDelivery]) -> list[StateCount]:
    """How many of `rows` are in each state, most urgent first. One query."""
    counts = dict(rows.order_by().values_list("state").annotate(count=Count("pk")))
    return [
        StateCount(
            state.value,
            str(state.label),
            ExpectedDelivery.STATE_BADGES[state],
            counts.get(state.value, 0),
        )
        for state in OWED_EXPECTED_STATES
    ]


def deliveries_needing_action(user: User | AnonymousUser, *, limit: int) -> list[Delivery]:
    """The user's deliveries of the last PROBLEM_DAYS that stopped without reaching the
    recipient (rejected, refused, failed) and were not followed by a newer upload for the same
    route and period, newest first. One query (the status index finds the few recent ones)."""
    since = timezone.now() - timedelta(days=PROBLEM_DAYS)
    newer = Delivery.objects.filter(
        route=OuterRef("route"), period=OuterRef("period"), uploaded_at__gt=OuterRef("uploaded_at")
    )
    return list(
        Delivery.objects.for_user(user)
        .filter(status__in=PROBLEM_STATES, status_changed_at__gte=since)
        .filter(~Exists(newer))
        .select_related("it_system", "data_area", "kommune")
        .only(
            "uuid",
            "period",
            "status",
            "status_changed_at",
            "error_count",
            "it_system__name",
            "data_area__name",
            "kommune__code",
            "kommune__name",
        )
        .order_by("-status_changed_at", "-pk")[:limit]
    )


@dataclass
class StartOverview:
    """What a start page says about the month: the periods still owed and the deliveries that
    need a person. Three queries."""

    counts: list[StateCount]
    urgent: list[ExpectedDelivery]
    problems: list[Delivery]

    problem_days: int = PROBLEM_DAYS

    @property
    def outstanding(self) -> int:
        return sum(count.number for count in self.counts)


def start_overview(user: User | AnonymousUser, *, limit: int = 8) -> StartOverview:
    rows = outstanding_expected(user)
    return StartOverview(
        counts=outstanding_counts(rows),
        urgent=list(rows[:limit]),
        problems=deliveries_needing_action(user, limit=limit),
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
    collecting = collecting_period()
    expected_rows = (
        ExpectedDelivery.objects.filter(
            _owed_within_dashboard(collecting),
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
