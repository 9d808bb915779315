"""Reads over deliveries that are more than one filter: the periods still owed and the
deliveries that need a person (the start pages and the outstanding list), and a kommune's
delivery history per route. What the coverage dashboard reads of deliveries is in
`flisportal.front.coverage`.

Each runs a fixed number of queries however many kommuner, routes and periods there are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from deliveries import access
from deliveries.detection import Problem
from deliveries.lifecycle.states import (
    FINAL,
    PASSED_ON,
    PROBLEM,
    TURNED_DOWN,
    DeliveryStatus,
)
from deliveries.models import (
    OWED_EXPECTED_STATES,
    Delivery,
    ExpectedDelivery,
    ExpectedState,
    UploadBatch,
    UploadBatchFile,
)
from flisportal.lib.periods import (
    COPENHAGEN,
    local_date,
    local_time_text,
    period_of,
    period_shift,
)
from routes.models import Kommune, Route, RouteStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from routes.models import User

# How far back the dashboard looks for periods still missing.
DASHBOARD_MONTHS = 12

# How long a start page lists deliveries that stopped without reaching the recipient.
PROBLEM_DAYS = 30


def collecting_period() -> str:
    """The period whose extracts are being collected now: last month's data."""
    return period_shift(period_of(timezone.now()), -1)


def owed_within_dashboard(collecting: str) -> Q:
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
        .filter(owed_within_dashboard(collecting))
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
    recipient (rejected, refused, failed) and that no later delivery for the same route and
    period settled by getting through (`DeliveryQuerySet.unsettled_problems`), newest first.
    One query (the status index finds the few recent ones)."""
    return list(needing_action(user)[:limit])


def needing_action(user: User | AnonymousUser) -> QuerySet[Delivery]:
    """The query of `deliveries_needing_action`, newest first, before its limit."""
    since = timezone.now() - timedelta(days=PROBLEM_DAYS)
    return (
        Delivery.objects.for_user(user)
        .unsettled_problems()
        .filter(status_changed_at__gte=since)
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
        .order_by("-status_changed_at", "-pk")
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


# --- Samlet upload ----------------------------------------------------------------------------


@dataclass
class BatchLine:
    """One row of a batch's preview or progress page."""

    row: UploadBatchFile
    problems: list[str]
    ready: bool  # sent when the user confirms


def kommune_unsettled_turned_down(
    *, kommune: Kommune, user: User | AnonymousUser, since: datetime, first_period: str
) -> QuerySet[Delivery]:
    """The kommune's turned-down (rejected or refused) deliveries in the user's scope, uploaded
    from `since` for periods from `first_period` on, that no later delivery for the same route
    and period settled by reaching the recipient: `Delivery.objects.unsettled_problems()`, the
    start page's rule, whose probe for a later success is one entry of the partial index
    `delivery_got_through` whatever the number of tries of the period (at a million deliveries
    ≈17 per period: ≈6 → ≈2 ms of SQLite's time for a kommune's year)."""
    return (
        Delivery.objects.for_user(user)
        .filter(kommune=kommune, uploaded_at__gte=since, period__gte=first_period)
        .filter(status__in=TURNED_DOWN)
        .unsettled_problems()
    )


def batch_lines(batch: UploadBatch, user: User) -> list[BatchLine]:
    """The batch's rows with what stands in the way of each, in five queries however many
    files: the rows (with routes and deliveries), the routes the user may upload to, the
    earlier deliveries of the same bytes, and those of another file already passed on for the
    same route and period (the two redeliveries intake asks to be confirmed)."""
    rows = list(
        batch.files.select_related(
            "route__kommune",
            "route__data_area",
            "route__sender_system",
            "route__endpoint",
            "kommune",
            "data_area",
            "delivery",
        )
    )
    route_ids = {row.route_id for row in rows if row.route_id is not None}
    known = _BatchLookups(
        uploadable=set(
            access.uploadable_routes(user).filter(pk__in=route_ids).values_list("pk", flat=True)
        ),
        same_file=_earlier_same_files(rows, route_ids),
        passed_on=_earlier_passed_on(rows, route_ids),
        now=timezone.now(),
    )
    lines = []
    for row in rows:
        problems = _batch_problems(row, known)
        ready = row.is_pending and row.route_id is not None and bool(row.period)
        # The refusal of an earlier confirmation is shown but does not hold the row back: what
        # refused it (an agreement not yet signed, say) may have changed, and intake asks again.
        blocking = [p for p in problems if p != row.refusal] if row.is_staged else problems
        lines.append(BatchLine(row=row, problems=problems, ready=ready and not blocking))
    return lines


def batch_settled(status: str) -> bool:
    """Whether a batch's delivery has gone as far as it will without a person: final, or
    failed (a retry is a person's)."""
    return status in FINAL or status in PROBLEM


@dataclass
class _BatchLookups:
    """What `_batch_problems` asks about every row, read once for the whole batch."""

    uploadable: set[int]
    same_file: dict[tuple[int, str, str], Delivery]
    passed_on: dict[tuple[int, str], Delivery]
    now: datetime


def _earlier_same_files(
    rows: list[UploadBatchFile], route_ids: set[int]
) -> dict[tuple[int, str, str], Delivery]:
    shas = {row.sha256 for row in rows if row.is_pending and row.sha256}
    if not shas or not route_ids:
        return {}
    found: dict[tuple[int, str, str], Delivery] = {}
    for delivery in (
        Delivery.objects.filter(sha256__in=shas, route_id__in=route_ids)
        .only("uuid", "route_id", "period", "sha256", "uploaded_at")
        .order_by("uploaded_at")
    ):
        found[(delivery.route_id, delivery.period, delivery.sha256)] = delivery  # newest last
    return found


def _earlier_passed_on(
    rows: list[UploadBatchFile], route_ids: set[int]
) -> dict[tuple[int, str], Delivery]:
    """Per route and period of a waiting row, the newest delivery that passed validation
    (`intake.delivery_find_passed_on`'s rule, for the whole batch at once)."""
    periods = {row.period for row in rows if row.is_pending and row.period}
    if not periods or not route_ids:
        return {}
    found: dict[tuple[int, str], Delivery] = {}
    for delivery in (
        Delivery.objects.filter(route_id__in=route_ids, period__in=periods, status__in=PASSED_ON)
        .only("uuid", "route_id", "period", "original_filename", "uploaded_at")
        .order_by("uploaded_at")
    ):
        found[(delivery.route_id, delivery.period)] = delivery  # newest last
    return found


def _batch_problems(row: UploadBatchFile, known: _BatchLookups) -> list[str]:
    """What keeps a row from being sent, in the reader's language; nothing once it is sent or
    dropped. The same rules intake will ask, so the preview says it before the file is sent."""
    if not row.is_staged:
        return [row.refusal] if row.refusal and row.delivery_id is None else []
    if row.dropped:
        return []
    problems = [_problem_text(code, row) for code in row.problems if code in _PROBLEM_TEXTS]
    route = row.route
    if route is not None and route.pk not in known.uploadable:
        problems.append(
            _("ingen underskrevet databehandleraftale med %(kommune)s") % {"kommune": route.kommune}
        )
    if route is not None and row.period:
        outside = route.period_refusal(row.period, now=known.now)
        if outside is not None:
            problems.append(outside)
    if route is not None and row.period and not row.redelivery_confirmed:
        problems.extend(_redelivery_problems(row, route, known))
    if row.refusal:
        problems.append(row.refusal)
    return problems


def _redelivery_problems(row: UploadBatchFile, route: Route, known: _BatchLookups) -> list[str]:
    same = known.same_file.get((route.pk, row.period, row.sha256))
    if same is not None:
        return [
            _("samme fil som leverance %(uuid)s (sæt «Genlevering», hvis den skal sendes igen)")
            % {"uuid": str(same.uuid)[:8]}
        ]
    passed = known.passed_on.get((route.pk, row.period))
    if passed is not None:
        return [
            _(
                "perioden er allerede leveret med «%(name)s» (leverance %(uuid)s); tjek perioden, "
                "eller sæt «Genlevering», hvis filen skal sendes alligevel"
            )
            % {"name": passed.original_filename, "uuid": str(passed.uuid)[:8]}
        ]
    return []


_PROBLEM_TEXTS = {
    Problem.UNREADABLE: lambda row: _("filen har ingen overskriftslinje, der kan læses"),
    Problem.NO_AREA: lambda row: _(
        "dataområdet kunne ikke findes: overskriften passer ikke til nogen kontrakt"
    ),
    Problem.AMBIGUOUS_AREA: lambda row: _(
        "dataområdet er tvetydigt: vælg ruten (filnavnet eller overskriften passer til flere)"
    ),
    Problem.NO_KOMMUNE: lambda row: _("kommunen kunne ikke findes (kommunekode-kolonnen er tom)"),
    Problem.MANY_KOMMUNER: lambda row: _(
        "filen har flere kommunekoder: én fil skal gælde én kommune"
    ),
    Problem.NO_PERIOD: lambda row: _("periode kunne ikke findes"),
    Problem.MANY_PERIODS: lambda row: _("filen har flere perioder: én fil skal gælde én måned"),
    Problem.NO_ROUTE: lambda row: (
        _("ingen rute for %(kommune)s / %(area)s")
        % {"kommune": row.kommune.name if row.kommune else "?", "area": row.data_area or "?"}
    ),
    Problem.MANY_ROUTES: lambda row: (
        _("flere ruter passer til %(kommune)s / %(area)s: vælg én")
        % {"kommune": row.kommune.name if row.kommune else "?", "area": row.data_area or "?"}
    ),
}


def _problem_text(code: str, row: UploadBatchFile) -> str:
    return str(_PROBLEM_TEXTS[Problem(code)](row))


# --- when a waiting delivery's next step is expected (issue #16) ---------------------------


@dataclass(frozen=True)
class Expectation:
    """What the delivery page says while a delivery waits for the platform or the recipient:
    `by` is the latest time the portal will have looked again, `overdue` that the wait is past
    the limit Driftsstatus (flisportal/front/health.py) counts the delivery as stuck at."""

    text: str
    by: datetime | None = None
    overdue: bool = False


def _next_look(since: datetime, now: datetime, *, interval: int) -> datetime:
    """The first whole multiple of the cron interval after `since` that is not yet past. The cron
    round (flisportal/cron.py) looks at least that often, so by then the portal has looked
    whatever the adaptive rounds did; they only make it sooner. Rounded up to the minute so
    "senest ca." never names a minute before the look."""
    step = timedelta(seconds=interval)
    rounds = max(1, -(-(now - since) // step))  # ceiling division of two timedeltas
    moment = since + rounds * step
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return moment


def _clock_text(moment: datetime, now: datetime) -> str:
    """H:i on the same Danish day as `now`, otherwise d.m.Y H:i (the portal's format)."""
    if local_date(moment) == local_date(now):
        return f"{moment.astimezone(COPENHAGEN):%H:%M}"
    return local_time_text(moment, seconds=False)


def _interval_text(seconds: int) -> str:
    if seconds % 60:
        # The msgids deliveries/messages.py already has for seconds, so they are translated once.
        return (_("%(n)s sekund") if seconds == 1 else _("%(n)s sekunder")) % {"n": seconds}
    minutes = seconds // 60
    return ngettext("%(n)s minut", "%(n)s minutter", minutes) % {"n": minutes}


def delivery_expectation(delivery: Delivery, *, now: datetime | None = None) -> Expectation | None:
    """When the technical receipt (status `sent`) or the recipient's fetch (`distributed`) is
    expected, or that it is overdue and what to do; None in any other status. The one place the
    page and its status JSON take this from, so the two never disagree."""
    now = now or timezone.now()
    if delivery.status == DeliveryStatus.SENT:
        return _receipt_expectation(delivery.sent_at or delivery.status_changed_at, now)
    if delivery.status == DeliveryStatus.DISTRIBUTED:
        # status_changed_at, as Driftsstatus counts "distribueret, ikke hentet" from it.
        return _fetch_expectation(delivery.status_changed_at, now)
    return None


def _receipt_expectation(sent_at: datetime, now: datetime) -> Expectation:
    if now > sent_at + timedelta(minutes=settings.RECEIPT_OVERDUE_MINUTES):
        return Expectation(
            _(
                "Den tekniske kvittering er forsinket: leverancen blev sendt for over "
                "%(minutes)s min. siden. Portalen ser fortsat efter den. Kontakt "
                "Serviceplatformens support, hvis den ikke kommer."
            )
            % {"minutes": settings.RECEIPT_OVERDUE_MINUTES},
            overdue=True,
        )
    by = _next_look(sent_at, now, interval=settings.RECEIPT_POLL_SECONDS)
    text = _("Teknisk kvittering ventes senest ca. %(time)s.") % {"time": _clock_text(by, now)}
    if settings.ADAPTIVE_POLL:
        text += " " + _(
            "Portalen ser efter den få sekunder efter afsendelsen og derefter med voksende "
            "mellemrum, mindst hvert %(interval)s."
        ) % {"interval": _interval_text(settings.RECEIPT_POLL_SECONDS)}
    return Expectation(text, by=by)


def _fetch_expectation(distributed_at: datetime, now: datetime) -> Expectation:
    if now > distributed_at + timedelta(hours=settings.NOTIFY_NOT_FETCHED_HOURS):
        return Expectation(
            _(
                "Modtageren har ikke hentet filen i over %(hours)s timer. Kontakt modtageren "
                "(leverandøren af det modtagende it-system) og bed dem hente filen på "
                "Serviceplatformen."
            )
            % {"hours": settings.NOTIFY_NOT_FETCHED_HOURS},
            overdue=True,
        )
    by = _next_look(distributed_at, now, interval=settings.FETCH_POLL_SECONDS)
    return Expectation(
        _(
            "Modtageren henter filen normalt inden for %(interval)s (senest ca. %(time)s), "
            "og portalen viser det her, når den har set efter."
        )
        % {
            "interval": _interval_text(settings.FETCH_POLL_SECONDS),
            "time": _clock_text(by, now),
        },
        by=by,
    )
