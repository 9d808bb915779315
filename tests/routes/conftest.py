"""Fixtures for the registry's tests: endpoints, data areas and a route factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from routes import services
from routes.models import (
    DataArea,
    Endpoint,
    ITSystem,
    Kommune,
    Route,
    RouteStatus,
    SftpUser,
)


@pytest.fixture
def lokal(db: None) -> Endpoint:
    return Endpoint.objects.get(slug="lokal")


@pytest.fixture
def exttest(db: None) -> Endpoint:
    return Endpoint.objects.get(slug="exttest")


@pytest.fixture
def produktion(db: None) -> Endpoint:
    return Endpoint.objects.get(slug="produktion")


@pytest.fixture
def personale(db: None) -> DataArea:
    return DataArea.objects.get(code="personale")


@pytest.fixture
def skole(db: None) -> DataArea:
    return DataArea.objects.get(code="skole")


@pytest.fixture
def make_route(
    flis_system: ITSystem, exttest: Endpoint, personale: DataArea
) -> Callable[..., Route]:
    """A route created directly in a given state (no history): for read tests."""

    def make(
        *,
        kommune: Kommune,
        sender_system: ITSystem,
        status: str = RouteStatus.REQUESTED,
        endpoint: Endpoint | None = None,
        data_area: DataArea | None = None,
        **extra: Any,
    ) -> Route:
        route = Route.objects.create(
            endpoint=endpoint or exttest,
            data_area=data_area or personale,
            kommune=kommune,
            sender_system=sender_system,
            sender_authority=kommune.cvr,
            recipient_authority=kommune.cvr,
            status=status,
            **extra,
        )
        route.recipient_systems.add(flis_system)
        return route

    return make


@pytest.fixture
def sftp_user_a(system_a: ITSystem, exttest: Endpoint) -> SftpUser:
    return SftpUser.objects.create(it_system=system_a, endpoint=exttest, username="A_SFTP")


@pytest.fixture
def sftp_user_b(system_b: ITSystem, exttest: Endpoint) -> SftpUser:
    return SftpUser.objects.create(it_system=system_b, endpoint=exttest, username="B_SFTP")


@pytest.fixture
def ordered_route(kommune_kbh, system_a, flis_system, exttest, personale, admin_user) -> Route:
    """A route ordered through the services, so it has its history."""
    return services.route_order(
        kommune=kommune_kbh,
        data_area=personale,
        sender_system=system_a,
        recipient_systems=[flis_system],
        endpoint=exttest,
        actor=admin_user,
        note="Bestilt for København.",
        order_reference="DK-1",
    )
