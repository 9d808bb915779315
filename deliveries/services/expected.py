"""Services for expected deliveries: which periods each established route owes, and the
scanner that marks them due soon, overdue or met (docs/design/expected-deliveries.md).

Every state change is a conditional update (`WHERE state = old`), so two scanners running at
once (a slow run overlapping the next cron tick) change each row once and alert once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone

from deliveries.lifecycle.states import REACHED_RECIPIENT
from deliveries.models import (
    OPEN_EXPECTED_STATES,
    Delivery,
    DeliveryEvent,
    ExpectedDelivery,
    ExpectedState,
)
from deliveries.services.notify import notify_expected, notify_not_fetched
from flisportal.lib.periods import end_of_day, period_due_date, period_of, period_shift
from routes.models import Route, RouteStatus

logger = logging.getLogger(__name__)


@dataclass
class ScanRound:
    created: int = 0
    met: list[int] = field(default_factory=list)
    due_soon: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    not_fetched: int = 0


def expected_deadlines(*, route: Route, period: str) -> tuple[datetime, datetime]:
    """(due_at, overdue_at) of `route`'s extract for `period`: the end of the due day in
    Denmark, and the end of the last grace day."""
    due_date = period_due_date(period, route.due_day)
    return end_of_day(due_date), end_of_day(due_date + timedelta(days=route.grace_days))


def _owing_routes() -> list[Route]:
    return list(
        Route.objects.filter(
            status=RouteStatus.ESTABLISHED, endpoint__slug__in=settings.EXPECTED_ENDPOINTS
        ).select_related("data_area")
    )


def expected_deliveries_create(*, now: datetime) -> int:
    """Creates the rows for the period being collected now (last month's data) and the next
    one, for every established route on an owing endpoint. A period whose deadline had passed
    before the route was established is not owed: nobody could have delivered it on time."""
    current = period_of(now)
    periods = [period_shift(current, -1), current]
    rows = []
    for route in _owing_routes():
        if route.established_on:
            start = end_of_day(route.established_on - timedelta(days=1))
        else:
            start = route.created_at
        for period in periods:
            due_at, overdue_at = expected_deadlines(route=route, period=period)
            if due_at <= start:
                continue
            rows.append(
                ExpectedDelivery(
                    route=route, period=period, due_at=due_at, overdue_at=overdue_at, created_at=now
                )
            )
    # The unique (route, period) makes a second run, or two at once, create nothing twice.
    before = ExpectedDelivery.objects.count()
    ExpectedDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return ExpectedDelivery.objects.count() - before


def _met_delivery(expected: ExpectedDelivery) -> tuple[int, datetime] | None:
    """The first delivery of this route and period that reached a recipient, and when."""
    reached = (
        DeliveryEvent.objects.filter(
            delivery__route_id=expected.route_id,
            delivery__period=expected.period,
            new_status__in=REACHED_RECIPIENT,
        )
        .values("delivery_id")
        .annotate(first=Min("at"))
        .order_by("first", "delivery_id")
        .first()
    )
    if reached is not None:
        return reached["delivery_id"], reached["first"]
    # Every status change writes an event, but rows loaded by other means (an import, a data
    # fix in the admin) may lack one: then the delivery's own status time says when.
    delivery = (
        Delivery.objects.filter(
            route_id=expected.route_id, period=expected.period, status__in=REACHED_RECIPIENT
        )
        .order_by("status_changed_at", "pk")
        .first()
    )
    return None if delivery is None else (delivery.pk, delivery.status_changed_at)


def expected_delivery_mark_met(*, route_id: int, period: str) -> list[int]:
    """Marks the route's period met by the first delivery that reached a recipient; returns
    the ids it changed. Called by `delivery_transition` when a delivery is distributed (or
    fetched), and by the scanner as a catch-up."""
    changed = []
    for expected in ExpectedDelivery.objects.filter(route_id=route_id, period=period).exclude(
        state=ExpectedState.MET
    ):
        found = _met_delivery(expected)
        if found is None:
            continue
        delivery_id, at = found
        if ExpectedDelivery.objects.claim_state(
            pk=expected.pk,
            old=expected.state,
            new=ExpectedState.MET,
            met_at=at,
            met_by_id=delivery_id,
        ):
            changed.append(expected.pk)
    return changed


def expected_deliveries_scan(*, now: datetime | None = None) -> ScanRound:
    """RQ cron: creates the owed periods, marks met ones, then moves open periods to due soon
    or overdue. Returns the ids changed per state, for the notifications."""
    now = now or timezone.now()
    result = ScanRound()
    result.created = expected_deliveries_create(now=now)

    # Met: any period not yet met (overdue ones too: a late delivery still meets its period).
    reached = Delivery.objects.filter(
        route_id=OuterRef("route_id"), period=OuterRef("period"), status__in=REACHED_RECIPIENT
    )
    unmet = (
        ExpectedDelivery.objects.exclude(state=ExpectedState.MET)
        .filter(Exists(reached))
        .values_list("route_id", "period")
        .distinct()
    )
    for route_id, period in list(unmet):
        result.met += expected_delivery_mark_met(route_id=route_id, period=period)

    # Due soon / overdue: the partial index `expected_open_by_due` serves exactly this query.
    due_soon = timedelta(days=settings.EXPECTED_DUE_SOON_DAYS)
    candidates = ExpectedDelivery.objects.filter(
        state__in=OPEN_EXPECTED_STATES, due_at__lte=now + due_soon
    ).order_by("due_at")
    for expected in candidates:
        new = expected.state_at(now, due_soon=due_soon)
        if new == expected.state:
            continue
        stamp = "overdue_alerted_at" if new == ExpectedState.OVERDUE else "due_soon_alerted_at"
        with transaction.atomic():
            if not ExpectedDelivery.objects.claim_state(
                pk=expected.pk, old=expected.state, new=new, **{stamp: now}
            ):
                continue
            # Whoever claimed the change tells of it, in the same transaction.
            notify_expected(expected_id=expected.pk, kind=new)
        (result.overdue if new == ExpectedState.OVERDUE else result.due_soon).append(expected.pk)
    result.not_fetched = notify_not_fetched(now=now)
    logger.info(
        "expected deliveries: %s created, %s met, %s due soon, %s overdue",
        result.created,
        len(result.met),
        len(result.due_soon),
        len(result.overdue),
    )
    return result
