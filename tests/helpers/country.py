"""A country in every state the coverage overview and a kommune's page show: routes for the 98
kommuner × 5 data areas from a few vendors, some missing or only ordered, periods overdue, due
soon, pending or met, and deliveries turned down. Dates are relative to now (the period being
collected), so no test depends on today's date."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, ExpectedDelivery, ExpectedState
from deliveries.selectors import collecting_period
from flisportal.lib.periods import period_shift
from routes.models import (
    DataArea,
    Endpoint,
    ITSystem,
    Kommune,
    ProcessingAgreement,
    Route,
    RouteStatus,
    Vendor,
)

# What a kommune and area get, by (kommune index * 7 + area index * 3) % 10: mostly met.
PATTERN = [
    "none",
    "waiting",
    "overdue",
    "rejected",
    "due_soon",
    "met",
    "met",
    "met",
    "pending",
    "met",
]


def _systems(count: int) -> list[ITSystem]:
    return [
        ITSystem.objects.create(
            name=f"Fagsystem {i}",
            uuid=f"{i:08d}-eeee-4bbb-8ccc-dddddddddddd",
            vendor=Vendor.objects.create(name=f"Leverandør {i}", cvr=f"{29140000 + 13 * i}"[:8]),
            is_sender=True,
        )
        for i in range(1, count + 1)
    ]


def varied_country(*, vendors: int = 4, months: int = 1) -> dict[tuple[str, str], str]:
    """Routes and periods for every kommune and data area, in the states of `PATTERN`, with
    `months` periods of history per established route (met before the period being
    collected). Returns what each (kommune code, area code) was made to be."""
    systems = _systems(vendors)
    endpoint = Endpoint.objects.get(slug="produktion")
    kommuner = list(Kommune.objects.order_by("code"))
    areas = list(DataArea.objects.all())
    plan: dict[tuple[str, str], str] = {}
    routes: list[Route] = []
    for i, kommune in enumerate(kommuner):
        for j, area in enumerate(areas):
            state = PATTERN[(i * 7 + j * 3) % len(PATTERN)]
            plan[(kommune.code, area.code)] = state
            if state == "none":
                continue
            routes.append(
                Route(
                    endpoint=endpoint,
                    data_area=area,
                    kommune=kommune,
                    sender_system=systems[(i + j) % len(systems)],
                    sender_authority=kommune.cvr,
                    recipient_authority=kommune.cvr,
                    status=RouteStatus.ORDERED if state == "waiting" else RouteStatus.ESTABLISHED,
                )
            )
    Route.objects.bulk_create(routes)
    ProcessingAgreement.objects.bulk_create(
        ProcessingAgreement(vendor=system.vendor, kommune=kommune, status="signed")
        for kommune in kommuner
        for system in systems
    )
    _periods(Route.objects.established(), plan, months)
    return plan


def _periods(routes, plan: dict[tuple[str, str], str], months: int) -> None:
    now = timezone.now()
    collecting = collecting_period()
    expected: list[ExpectedDelivery] = []
    deliveries: list[Delivery] = []
    for route in routes.select_related("kommune", "data_area"):
        state = plan[(route.kommune.code, route.data_area.code)]
        for back in range(months - 1, 0, -1):
            expected.append(_expected(route, period_shift(collecting, -back), "met", now))
        current = "pending" if state == "rejected" else state
        expected.append(_expected(route, collecting, current, now))
        if state == "rejected":
            deliveries.append(_turned_down(route, collecting, now))
    ExpectedDelivery.objects.bulk_create(expected)
    Delivery.objects.bulk_create(deliveries)


def _expected(route: Route, period: str, state: str, now) -> ExpectedDelivery:
    due = {
        ExpectedState.OVERDUE: now - timedelta(days=5),
        ExpectedState.DUE_SOON: now + timedelta(days=2),
        ExpectedState.PENDING: now + timedelta(days=20),
    }.get(state, now - timedelta(days=10))
    return ExpectedDelivery(
        route=route,
        period=period,
        due_at=due,
        overdue_at=due,
        state=state,
        met_at=now - timedelta(days=12) if state == ExpectedState.MET else None,
    )


def _turned_down(route: Route, period: str, now) -> Delivery:
    return Delivery(
        route=route,
        it_system_id=route.sender_system_id,
        data_area_id=route.data_area_id,
        kommune_id=route.kommune_id,
        endpoint_id=route.endpoint_id,
        period=period,
        status=DeliveryStatus.REJECTED,
        status_changed_at=now - timedelta(days=1),
        uploaded_at=now - timedelta(days=1),
        original_filename="udtraek.csv",
        size=10,
        sha256="0" * 64,
        file="deliveries/x.csv",
    )
