"""The Udvikling page's reads: per month, how the expected deliveries ended; the on-time rate per
vendor and per data area; the validation rules that fail most, per vendor.

Every number is aggregated in the database, grouped by period, so the page runs a fixed number
of queries however many months, routes and deliveries lie behind it (tests pin the counts).
Scoping goes through the models' `for_user()` querysets only.

The outcome of one expected period (one route, one month of data), first match wins:

- **on time** (`ON_TIME`): met (the extract reached its recipient: distributed or fetched) before
  the end of the due day in Denmark (`met_at < due_at`); grace days do not make it on time, as
  on the kommune's delivery history page;
- **late** (`LATE`): met, at or after the end of the due day;
- **rejected** (`REJECTED`): not met, and at least one file for the route and period was turned
  down (by the validation or by the Serviceplatform, `TURNED_DOWN`). A later success settles the
  period: it is then on time or late, not rejected;
- **missing** (`MISSING`): not met, nothing turned down, and the deadline with its grace days has
  passed (`overdue_at <= now`);
- **open** (`OPEN`): none of these yet: the deadline has not passed.

The on-time rate of a group is on time / (on time + late + rejected + missing), counting only
the rejected periods whose deadline has passed: open periods, and rejected ones still before
their deadline, are left out, because they can still end either way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from deliveries.lifecycle.states import TURNED_DOWN
from deliveries.models import (
    DataContract,
    Delivery,
    ExpectedDelivery,
    ExpectedState,
    RuleFailureMonth,
)
from deliveries.rules import RuleWords
from deliveries.selectors import collecting_period
from flisportal.lib.periods import period_shift

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.utils.functional import Promise

    from routes.models import DataArea, User, Vendor

ON_TIME = "on_time"
LATE = "late"
REJECTED = "rejected"
# Rejected before the deadline has passed: counted as rejected, but, like an open period, not
# yet in the on-time rate (a corrected file may still come in time).
REJECTED_IN_TIME = "rejected_in_time"
MISSING = "missing"
OPEN = "open"

# In the order the charts stack them and the tables list them, with their words.
OUTCOMES: dict[str, Promise] = {
    ON_TIME: _("Til tiden"),
    LATE: _("For sent"),
    REJECTED: _("Afvist"),
    MISSING: _("Mangler"),
    OPEN: _("Åben"),
}
# What counts in an on-time rate: everything that has ended one way or another.
DECIDED = (ON_TIME, LATE, REJECTED, MISSING)

# How many of a vendor's rules the page shows (the CSV has them all).
TOP_RULES = 5


@dataclass
class MonthCounts:
    """How the expected periods of one month ended, one count per outcome."""

    period: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class RatePoint:
    period: str
    on_time: int = 0
    decided: int = 0

    @property
    def rate(self) -> float | None:
        """The share on time, or None when nothing has ended yet that month."""
        return self.on_time / self.decided if self.decided else None


@dataclass
class RateSeries:
    """One vendor's or data area's on-time rate, month by month."""

    name: str
    points: list[RatePoint]


@dataclass(frozen=True)
class RuleFailure:
    column: str
    rule: str
    words: str
    area: str
    deliveries: int
    errors: int


@dataclass
class VendorRules:
    vendor: str
    failures: list[RuleFailure]

    @property
    def top(self) -> list[RuleFailure]:
        return self.failures[:TOP_RULES]


@dataclass
class Trends:
    periods: list[str]
    months: list[MonthCounts]
    by_vendor: list[RateSeries]
    by_area: list[RateSeries]
    rules: list[VendorRules]


def trend_periods(months: int) -> list[str]:
    """The last `months` periods, oldest first, ending with the one being collected now."""
    last = collecting_period()
    return [period_shift(last, -back) for back in range(months - 1, -1, -1)]


def outcome_of_expected(now: datetime) -> Case:
    """An expected period's outcome as a database expression (the module docstring says what
    each means). The subquery runs only for periods not met: SQL's CASE stops at the first
    match, and it seeks the index `delivery_same_file` (route, period, …)."""
    met = Q(state=ExpectedState.MET)
    turned_down = Delivery.objects.filter(
        route=OuterRef("route"), period=OuterRef("period"), status__in=TURNED_DOWN
    )
    return Case(
        When(met & Q(met_at__lt=F("due_at")), then=Value(ON_TIME)),
        When(met, then=Value(LATE)),
        When(Exists(turned_down) & Q(due_at__lte=now), then=Value(REJECTED)),
        When(Exists(turned_down), then=Value(REJECTED_IN_TIME)),
        When(overdue_at__lte=now, then=Value(MISSING)),
        default=Value(OPEN),
        output_field=CharField(),
    )


def trends(
    *,
    user: User | AnonymousUser,
    months: int = 12,
    region: str | None = None,
    vendor: Vendor | None = None,
    area: DataArea | None = None,
) -> Trends:
    """Everything the Udvikling page draws. Three queries: the expected periods grouped by
    month, vendor, data area and outcome; the failed rules grouped by vendor, area, column
    and rule; the active contracts that put those rules into words."""
    periods = trend_periods(months)
    scoped = ExpectedDelivery.objects.for_user(user).filter(
        period__gte=periods[0], period__lte=periods[-1]
    )
    if region:
        scoped = scoped.filter(route__kommune__region=region)
    if vendor is not None:
        scoped = scoped.filter(route__sender_system__vendor=vendor)
    if area is not None:
        scoped = scoped.filter(route__data_area=area)
    groups = (
        scoped.annotate(outcome=outcome_of_expected(timezone.now()))
        .values(
            "period",
            "outcome",
            vendor_name=F("route__sender_system__vendor__name"),
            area_name=F("route__data_area__name"),
            area_order=F("route__data_area__sort_order"),
        )
        .annotate(number=Count("pk"))
        .order_by()
    )
    by_month = {period: MonthCounts(period) for period in periods}
    by_vendor: dict[str, dict[str, RatePoint]] = defaultdict(dict)
    by_area: dict[tuple[int, str], dict[str, RatePoint]] = defaultdict(dict)
    for row in groups:
        period, outcome, number = row["period"], row["outcome"], row["number"]
        by_month[period].counts[REJECTED if outcome == REJECTED_IN_TIME else outcome] += number
        # A route whose system has no vendor (a kommune's own) is shown under its own name.
        vendor_name = row["vendor_name"] or str(_("Uden leverandør"))
        for series in (by_vendor[vendor_name], by_area[(row["area_order"], row["area_name"])]):
            point = series.setdefault(period, RatePoint(period))
            point.on_time += number if outcome == ON_TIME else 0
            point.decided += number if outcome in DECIDED else 0
    return Trends(
        periods=periods,
        months=list(by_month.values()),
        by_vendor=[
            _series(name, by_vendor[name], periods) for name in sorted(by_vendor, key=str.lower)
        ],
        by_area=[_series(key[1], by_area[key], periods) for key in sorted(by_area)],
        rules=failed_rules(user=user, periods=periods, region=region, vendor=vendor, area=area),
    )


def _series(name: str, points: dict[str, RatePoint], periods: list[str]) -> RateSeries:
    return RateSeries(name, [points.get(period) or RatePoint(period) for period in periods])


def failed_rules(
    *,
    user: User | AnonymousUser,
    periods: list[str],
    region: str | None = None,
    vendor: Vendor | None = None,
    area: DataArea | None = None,
) -> list[VendorRules]:
    """Per vendor, the rules its rejected deliveries of these periods broke, the rule broken
    in most deliveries first. Read from the monthly roll-up of the listed validation errors
    (`RuleFailureMonth`, kept by `deliveries.services.rule_failures` in the transaction that
    stores a rejected delivery's `ValidationIssue` rows): `deliveries` is how many rejected
    deliveries broke the rule at least once, `errors` how many errors were listed (a delivery
    lists its first 1,000). A delivery is in one roll-up key (its period, kommune, IT system
    and area), so summing `deliveries` counts each delivery once per rule. Two queries."""
    failures = RuleFailureMonth.objects.for_user(user).filter(
        period__gte=periods[0], period__lte=periods[-1]
    )
    if region:
        failures = failures.filter(kommune__region=region)
    if vendor is not None:
        failures = failures.filter(it_system__vendor=vendor)
    if area is not None:
        failures = failures.filter(data_area=area)
    rows = list(
        failures.values(
            "column",
            "rule",
            vendor_name=F("it_system__vendor__name"),
            area_id=F("data_area_id"),
            area_name=F("data_area__name"),
        )
        .annotate(deliveries=Sum("deliveries"), errors=Sum("errors"))
        .order_by("-deliveries", "-errors", "rule", "column")
    )
    # The rules in words under each area's active contract (what vendors read on the contract
    # page now): one query for the few areas in the rows.
    contracts = {
        contract.data_area_id: RuleWords(contract.document)
        for contract in DataContract.objects.active().filter(
            data_area_id__in={row["area_id"] for row in rows}
        )
    }
    per_vendor: dict[str, list[RuleFailure]] = defaultdict(list)
    for row in rows:
        words = contracts.get(row["area_id"]) or RuleWords(None)
        per_vendor[row["vendor_name"] or str(_("Uden leverandør"))].append(
            RuleFailure(
                column=row["column"],
                rule=row["rule"],
                words=words(row["column"], row["rule"]),
                area=row["area_name"],
                deliveries=row["deliveries"],
                errors=row["errors"],
            )
        )
    return [VendorRules(name, per_vendor[name]) for name in sorted(per_vendor, key=str.lower)]
