"""Reads of the registry that are more than one filter: the coverage matrix, the onboarding
checklist, a kommune's routes for the order page and a vendor's overview.

Each runs a fixed number of queries however much data there is (tests pin the counts), and
scopes by user only through the models' `for_user()` querysets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db.models import Exists, OuterRef, Prefetch
from django.utils.translation import gettext as _

from routes.models import (
    AgreementStatus,
    DataArea,
    Endpoint,
    ITSystem,
    KeyState,
    Kommune,
    ProcessingAgreement,
    Route,
    RouteStatus,
    SftpKey,
    SftpUser,
    Vendor,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from routes.models import User

# KOMBIT's two environments, by the slugs the reference data gives them.
EXTTEST = "exttest"
PRODUKTION = "produktion"

# How far along a route is; the most advanced route speaks for a cell.
STATUS_RANK: dict[str, int] = {
    RouteStatus.ESTABLISHED: 4,
    RouteStatus.ORDERED: 3,
    RouteStatus.REQUESTED: 2,
    RouteStatus.RETIRED: 1,
    RouteStatus.REJECTED: 0,
}


# --- coverage ---------------------------------------------------------------------------------


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
    """What a coverage cell shows of the newest delivery (filled by the deliveries app)."""

    delivered_on: date
    status: str
    status_label: str
    url: str = ""


@dataclass
class CoverageCell:
    kommune: Kommune
    area: DataArea
    entries: list[CoverageEntry] = field(default_factory=list)
    # Filled by the deliveries app through `attach_latest_deliveries`: the newest delivery for
    # this kommune and data area (its date and state), and the expected period that speaks for
    # the cell (an ExpectedDelivery: the worst open one, or the period being collected) with
    # its state in words.
    latest_delivery: LatestDelivery | None = None
    expected: Any = None
    expected_text: str = ""

    @property
    def status(self) -> str:
        """The most advanced route state in the cell, or "" when no route exists."""
        best = _best_badge(badge for entry in self.entries for badge in entry.badges)
        return best.status if best else ""


@dataclass
class CoverageRow:
    kommune: Kommune
    cells: list[CoverageCell]


@dataclass
class CoverageMatrix:
    areas: list[DataArea]
    rows: list[CoverageRow]

    def cells(self) -> Iterator[CoverageCell]:
        for row in self.rows:
            yield from row.cells

    def established_per_area(self) -> list[int]:
        """How many kommuner have an established route, per column."""
        return [
            sum(1 for row in self.rows if row.cells[i].status == RouteStatus.ESTABLISHED)
            for i in range(len(self.areas))
        ]


def attach_latest_deliveries(cells: list[CoverageCell], *, user: User | AnonymousUser) -> None:
    """Sets each cell's `latest_delivery` and expected-delivery state: two queries for all
    cells, so the matrix keeps its fixed query count.

    Deliveries live in an app that imports this one, so it is imported here, when called."""
    from deliveries.selectors import coverage_attach

    coverage_attach(cells=cells, user=user)


def coverage_stamp() -> str:
    """Changes whenever the coverage dashboard's content may have (deliveries/selectors.py)."""
    from deliveries.selectors import coverage_stamp

    return coverage_stamp()


def coverage_matrix(
    *,
    user: User | AnonymousUser,
    region: str | None = None,
    vendor: Vendor | None = None,
    area: DataArea | None = None,
) -> CoverageMatrix:
    """Kommune × data area: which vendor's system delivers, and how far its route has come.

    Seven queries (kommuner, data areas, routes, their systems, endpoints, newest deliveries,
    expected periods) whatever the number of kommuner and routes."""
    kommuner_qs = Kommune.objects.for_user(user)
    if region:
        kommuner_qs = kommuner_qs.filter(region=region)
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
    matrix = CoverageMatrix(areas=areas, rows=rows)
    attach_latest_deliveries(list(matrix.cells()), user=user)
    return matrix


# --- onboarding checklist ---------------------------------------------------------------------


class TaskState(StrEnum):
    DONE = "done"
    PARTIAL = "partial"
    TODO = "todo"

    @property
    def label(self) -> str:
        return {
            TaskState.DONE: _("Udført"),
            TaskState.PARTIAL: _("Delvist"),
            TaskState.TODO: _("Mangler"),
        }[self]


@dataclass
class ChecklistTask:
    key: str
    title: str
    state: TaskState
    details: list[str] = field(default_factory=list)


@dataclass
class OnboardingChecklist:
    vendor: Vendor
    kommune: Kommune
    tasks: list[ChecklistTask]
    # Routes of this vendor for this kommune on the local stand-in: shown, but they are not
    # part of KOMBIT's onboarding and tick nothing.
    standin_routes: list[Route]

    @property
    def done(self) -> int:
        return sum(1 for task in self.tasks if task.state == TaskState.DONE)


def _reached_recipient() -> Exists:
    """Annotation for a Route: has a delivery on it reached its recipient (the platform
    distributed it, or the recipient has fetched it)? Deliveries are the deliveries app's rows,
    hence the late import (that app builds on this one)."""
    from deliveries.models import Delivery, DeliveryStatus

    return Exists(
        Delivery.objects.filter(
            route=OuterRef("pk"),
            status__in=(DeliveryStatus.DISTRIBUTED, DeliveryStatus.FETCHED),
        )
    )


def _test_delivery_done(*, routes: list[Route]) -> list[Route]:
    """The routes to exttest (of this vendor and kommune: the checklist's routes) on which a
    delivery has reached its recipient; the onboarding step is done when there is one."""
    return [
        route
        for route in routes
        if route.endpoint.slug == EXTTEST and route.reached_recipient  # type: ignore[attr-defined]
    ]


def _per_area_task(
    *,
    key: str,
    title: str,
    areas: list[DataArea],
    routes_by_area: dict[int, list[Route]],
    passes: Any,
    describe: Any,
    none_yet: str,
) -> ChecklistTask:
    if not areas:
        return ChecklistTask(key, title, TaskState.TODO, [none_yet])
    details = []
    passed = 0
    missing = _("mangler")  # outside the f-string below, where makemessages finds it
    for data_area in areas:
        matching = [route for route in routes_by_area[data_area.pk] if passes(route)]
        if matching:
            passed += 1
            details.append(f"{data_area.name}: {describe(matching[0])}")
        else:
            details.append(f"{data_area.name}: {missing}")
    if passed == len(areas):
        state = TaskState.DONE
    elif passed:
        state = TaskState.PARTIAL
    else:
        state = TaskState.TODO
    return ChecklistTask(key, title, state, details)


def onboarding_checklist(*, vendor: Vendor, kommune: Kommune) -> OnboardingChecklist:
    """KOMBIT's onboarding tasks for one vendor and one kommune, each ticked from the data.

    The route tasks are judged per data area the vendor has an open route for in this kommune
    on KOMBIT's endpoints: done when every area has passed, partial when some have."""
    agreement = (
        ProcessingAgreement.objects.filter(vendor=vendor, kommune=kommune).order_by("pk").first()
    )
    sftp_users = list(
        SftpUser.objects.filter(it_system__vendor=vendor, it_system__is_sender=True)
        .select_related("it_system", "endpoint")
        .annotate(
            has_active_key=Exists(
                SftpKey.objects.filter(sftp_user=OuterRef("pk"), state=KeyState.ACTIVE)
            )
        )
        .order_by("it_system__name", "endpoint__slug")
    )
    systems = list(ITSystem.objects.filter(vendor=vendor, is_sender=True).order_by("name"))
    routes = list(
        Route.objects.filter(kommune=kommune, sender_system__vendor=vendor)
        .select_related("endpoint", "data_area", "sender_system")
        # In the same query, so the page's query count does not grow with the checklist.
        .annotate(reached_recipient=_reached_recipient())
        .order_by("data_area__sort_order", "endpoint__slug", "pk")
    )

    tasks: list[ChecklistTask] = []

    # 1. Databehandleraftale.
    if agreement is None:
        tasks.append(
            ChecklistTask(
                "agreement",
                _("Databehandleraftale underskrevet"),
                TaskState.TODO,
                [_("Der er ikke registreret nogen databehandleraftale.")],
            )
        )
    else:
        detail = _("Status: %(status)s") % {"status": agreement.get_status_display()}
        if agreement.signed_on:
            detail += _(", underskrevet %(date)s") % {"date": agreement.signed_on.isoformat()}
        if agreement.document_reference:
            detail += _(", dokument %(ref)s") % {"ref": agreement.document_reference}
        tasks.append(
            ChecklistTask(
                "agreement",
                _("Databehandleraftale underskrevet"),
                TaskState.DONE if agreement.status == AgreementStatus.SIGNED else TaskState.TODO,
                [detail],
            )
        )

    # 2. IT-system and SFTP user with an active key on one of KOMBIT's endpoints.
    kombit_users = [u for u in sftp_users if not u.endpoint.is_standin]
    ready = [u for u in kombit_users if u.has_active_key]  # type: ignore[attr-defined]
    details = [
        _("%(system)s: SFTP-bruger %(user)s på %(endpoint)s, %(key)s")
        % {
            "system": u.it_system.name,
            "user": u.username,
            "endpoint": u.endpoint.slug,
            "key": _("aktiv nøgle") if u.has_active_key else _("ingen aktiv nøgle"),  # type: ignore[attr-defined]
        }
        for u in kombit_users
    ]
    if not systems:
        details = [_("Leverandøren har intet afsendersystem registreret.")]
    elif not kombit_users:
        details = [
            _("%(systems)s har ingen SFTP-bruger på exttest eller produktion.")
            % {"systems": ", ".join(s.name for s in systems)}
        ]
    tasks.append(
        ChecklistTask(
            "sftp_user",
            _("It-system og SFTP-bruger oprettet (med aktiv nøgle)"),
            TaskState.DONE if ready else TaskState.TODO,
            details,
        )
    )

    # 3-6. Routes, per data area, on KOMBIT's endpoints only.
    kombit_routes = [r for r in routes if not r.endpoint.is_standin]
    open_statuses = {RouteStatus.REQUESTED, RouteStatus.ORDERED, RouteStatus.ESTABLISHED}
    routes_by_area: dict[int, list[Route]] = defaultdict(list)
    areas: list[DataArea] = []
    for route in kombit_routes:
        routes_by_area[route.data_area_id].append(route)
        if route.status in open_statuses and route.data_area not in areas:
            areas.append(route.data_area)
    none_yet = _("Ingen rute er bestilt for denne kommune endnu.")

    def established_on(slug: str) -> Any:
        return lambda r: r.status == RouteStatus.ESTABLISHED and r.endpoint.slug == slug

    def when_established(route: Route) -> str:
        return _("etableret %(date)s") % {
            "date": route.established_on.isoformat() if route.established_on else "?"
        }

    tasks.append(
        _per_area_task(
            key="route_ordered",
            title=_("Rute bestilt i Digitaliseringskataloget"),
            areas=areas,
            routes_by_area=routes_by_area,
            passes=lambda r: r.status in (RouteStatus.ORDERED, RouteStatus.ESTABLISHED),
            describe=lambda r: (
                _("%(status)s på %(endpoint)s, reference %(ref)s")
                % {
                    "status": r.get_status_display(),
                    "endpoint": r.endpoint.slug,
                    "ref": r.order_reference or "–",
                }
            ),
            none_yet=none_yet,
        )
    )
    tasks.append(
        _per_area_task(
            key="established_exttest",
            title=_("Rute etableret i ekstern test (exttest)"),
            areas=areas,
            routes_by_area=routes_by_area,
            passes=established_on(EXTTEST),
            describe=when_established,
            none_yet=none_yet,
        )
    )
    delivered = _test_delivery_done(routes=routes)
    tasks.append(
        ChecklistTask(
            "test_delivery",
            _("Testleverance gennemført i exttest"),
            TaskState.DONE if delivered else TaskState.TODO,
            [
                _("%(area)s: en leverance er nået frem til modtageren")
                % {"area": route.data_area.name}
                for route in delivered
            ]
            or [
                _(
                    "Ingen leverance på exttest er nået frem til modtageren endnu "
                    "(distribueret eller hentet)."
                )
            ],
        )
    )
    tasks.append(
        _per_area_task(
            key="established_produktion",
            title=_("Rute etableret i produktion"),
            areas=areas,
            routes_by_area=routes_by_area,
            passes=established_on(PRODUKTION),
            describe=when_established,
            none_yet=none_yet,
        )
    )
    return OnboardingChecklist(
        vendor=vendor,
        kommune=kommune,
        tasks=tasks,
        standin_routes=[r for r in routes if r.endpoint.is_standin],
    )


# --- route orders per myndighed ---------------------------------------------------------------


@dataclass
class RecipientGroup:
    label: str
    routes: list[Route]


@dataclass
class AreaRoutes:
    area: DataArea
    groups: list[RecipientGroup]


def kommune_routes(*, kommune: Kommune) -> list[AreaRoutes]:
    """A kommune's routes for the order page, by data area and then by recipient systems.

    Every data area is listed, with or without routes, so gaps show. Three queries."""
    areas = list(DataArea.objects.all())
    routes = list(
        Route.objects.filter(kommune=kommune)
        .select_related("sender_system__vendor", "endpoint")
        .prefetch_related(Prefetch("recipient_systems", queryset=ITSystem.objects.order_by("name")))
        .order_by("endpoint__slug", "sender_system__name", "pk")
    )
    by_area: dict[int, dict[str, list[Route]]] = defaultdict(lambda: defaultdict(list))
    for route in routes:
        label = " + ".join(s.name for s in route.recipient_systems.all()) or _("ingen modtager")
        by_area[route.data_area_id][label].append(route)
    return [
        AreaRoutes(
            data_area,
            [
                RecipientGroup(label, group)
                for label, group in sorted(by_area[data_area.pk].items())
            ],
        )
        for data_area in areas
    ]


# --- vendor overview --------------------------------------------------------------------------


@dataclass
class DeliveryPermission:
    """Where a vendor may deliver: established routes for one kommune, per data area."""

    kommune: Kommune
    routes_by_area: list[list[Route]]


@dataclass
class VendorOverview:
    vendor: Vendor
    systems: list[ITSystem]
    agreements: list[ProcessingAgreement]
    areas: list[DataArea]
    permissions: list[DeliveryPermission]
    pending_routes: list[Route]
    kommuner: list[Kommune]  # every kommune the vendor works with (agreement or route)


def vendor_overview(*, vendor: Vendor) -> VendorOverview:
    """A vendor's IT-systems, SFTP users and keys, agreements and the kommuner × areas it may
    deliver for. Seven queries, however many systems, keys and routes."""
    live_keys = SftpKey.objects.exclude(state=KeyState.RETIRED).defer("encrypted_private_key")
    systems = list(
        ITSystem.objects.filter(vendor=vendor)
        .order_by("name")
        .prefetch_related(
            Prefetch(
                "sftp_users",
                queryset=SftpUser.objects.select_related("endpoint")
                .order_by("endpoint__slug")
                .prefetch_related(Prefetch("keys", queryset=live_keys)),
            )
        )
    )
    agreements = list(ProcessingAgreement.objects.filter(vendor=vendor).select_related("kommune"))
    areas = list(DataArea.objects.all())
    routes = list(
        Route.objects.filter(sender_system__vendor=vendor)
        .select_related("kommune", "data_area", "endpoint", "sender_system")
        .order_by("kommune__code", "data_area__sort_order", "endpoint__slug")
    )
    established: dict[int, dict[int, list[Route]]] = defaultdict(lambda: defaultdict(list))
    kommuner: dict[int, Kommune] = {a.kommune_id: a.kommune for a in agreements}
    established_kommuner: dict[int, Kommune] = {}
    for route in routes:
        kommuner.setdefault(route.kommune_id, route.kommune)
        if route.status == RouteStatus.ESTABLISHED:
            established[route.kommune_id][route.data_area_id].append(route)
            established_kommuner[route.kommune_id] = route.kommune
    permissions = [
        DeliveryPermission(kommune, [established[kommune.pk][data_area.pk] for data_area in areas])
        for kommune in sorted(established_kommuner.values(), key=lambda k: k.code)
    ]
    return VendorOverview(
        vendor=vendor,
        systems=systems,
        agreements=agreements,
        areas=areas,
        permissions=permissions,
        pending_routes=[
            r for r in routes if r.status in (RouteStatus.REQUESTED, RouteStatus.ORDERED)
        ],
        kommuner=sorted(kommuner.values(), key=lambda k: k.code),
    )
