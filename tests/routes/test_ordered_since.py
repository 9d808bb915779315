"""Routes waiting in «bestilt» show since when: from the newest history row that ordered them,
in whole days in Denmark, on every page that shows administrators a route's state, without a
query per route."""

from datetime import date

import pytest
import time_machine
from django.urls import reverse

from routes import services
from routes.models import Kommune, Route, RouteEvent, RouteStatus
from tests.helpers.clock import local

pytestmark = pytest.mark.django_db

ORDERED_AT = local(2026, 10, 20, 9, 30)
# 14 days later in Denmark: the default reminder (FLISPORTAL_ORDERED_REMINDER_DAYS) is reached.
NOW = local(2026, 11, 3, 8, 0)
SHOWN = "siden 20.10.2026 · i 14 dage · venter længe"


@pytest.fixture
def order(order_route):
    """Orders the Personale route on exttest for København through the services at `at`."""
    return order_route


def read(route: Route) -> Route:
    return Route.objects.with_ordered_since().get(pk=route.pk)


def test_a_reorder_after_rejection_counts_from_its_own_order(order, admin_user):
    first = order(at=local(2026, 9, 1, 10, 0))
    with time_machine.travel(local(2026, 9, 20, 10, 0), tick=False):
        services.route_transition(
            route=first, new_status=RouteStatus.REJECTED, actor=admin_user, note="Forkert LIS"
        )
    again = order(at=ORDERED_AT, reference="DK-2")

    wait = read(again).ordered_wait(NOW)
    assert wait is not None
    assert (wait.since_date, wait.days, wait.too_long) == (date(2026, 10, 20), 14, True)
    # The rejected order no longer waits for anything.
    assert read(first).ordered_wait(NOW) is None


def test_the_newest_of_several_ordering_events_counts(order):
    route = order(at=local(2026, 9, 1, 10, 0))
    # History with more ordering rows (imported, without an order date on the route): the newest
    # time decides, not the first row nor the last row written.
    Route.objects.filter(pk=route.pk).update(ordered_on=None)
    for at in (ORDERED_AT, local(2026, 8, 1, 12, 0)):
        RouteEvent.objects.create(
            route=route, old_status=RouteStatus.REQUESTED, new_status=RouteStatus.ORDERED, at=at
        )
    wait = read(route).ordered_wait(NOW)
    assert wait is not None and wait.since_date == date(2026, 10, 20)


def test_an_order_recorded_late_counts_from_its_order_date(order, admin_client, kommune_aarhus):
    # Recorded on 3 November, placed with KOMBIT on 20 October: the route's page says «Bestilt
    # 20.10.2026», and the wait must agree with it.
    route = order(at=NOW, ordered_on=date(2026, 10, 20))
    wait = read(route).ordered_wait(NOW)
    assert wait is not None and (wait.since_date, wait.days) == (date(2026, 10, 20), 14)
    with time_machine.travel(NOW, tick=False):
        html = admin_client.get(reverse("routes:route_detail", args=[route.pk])).content.decode()
    assert SHOWN in html
    # A date after the recording does not shorten the wait.
    later = order(at=NOW, kommune=kommune_aarhus, ordered_on=date(2026, 11, 10))
    assert read(later).ordered_wait(NOW).since_date == date(2026, 11, 3)


def test_days_are_calendar_days_in_denmark(order):
    # Ordered at 23:30 Danish time (22:30 UTC): at 00:30 the next day it has waited one day.
    route = order(at=local(2026, 11, 1, 23, 30))
    wait = read(route).ordered_wait(local(2026, 11, 2, 0, 30))
    assert wait is not None and wait.days == 1
    assert not wait.too_long


def test_only_ordered_routes_wait(order, admin_user):
    route = order(at=ORDERED_AT)
    with time_machine.travel(local(2026, 10, 25, 10, 0), tick=False):
        services.route_transition(route=route, new_status=RouteStatus.ESTABLISHED, actor=admin_user)
    assert read(route).ordered_wait(NOW) is None


def test_the_route_pages_show_since_when(order, admin_client, vendor_a):
    route = order(at=ORDERED_AT)
    pages = [
        reverse("routes:route_orders"),
        reverse("routes:kommune_routes", args=["101"]),
        reverse("routes:route_detail", args=[route.pk]),
        reverse("routes:vendor_overview_for", args=[vendor_a.pk]),
    ]
    with time_machine.travel(NOW, tick=False):
        for url in pages:
            html = admin_client.get(url).content.decode()
            assert SHOWN in html, url


def test_a_shorter_wait_is_not_called_long(order, admin_client):
    order(at=ORDERED_AT)
    with time_machine.travel(local(2026, 11, 2, 8, 0), tick=False):
        html = admin_client.get(reverse("routes:route_orders")).content.decode()
    assert "siden 20.10.2026 · i 13 dage" in html
    assert "venter længe" not in html


@pytest.mark.parametrize("persona", ["vendor_a_user", "vendor_b_user", "consultant_user"])
def test_the_administrators_lists_stay_theirs(client, request, persona, order):
    order(at=ORDERED_AT)
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("routes:route_orders")).status_code == 404
    assert client.get(reverse("routes:kommune_routes", args=["101"])).status_code == 404


def test_another_vendor_does_not_see_the_route(client, vendor_b_user, order):
    route = order(at=ORDERED_AT)
    client.force_login(vendor_b_user)
    assert client.get(reverse("routes:route_detail", args=[route.pk])).status_code == 404


def test_orders_list_stays_four_queries_with_many_waiting(
    order, admin_client, django_assert_num_queries
):
    order(at=ORDERED_AT)
    # session, user, open orders with their since-date, kommuner for the picker
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(4):
        admin_client.get(reverse("routes:route_orders"))
    for kommune in Kommune.objects.exclude(code="101")[:30]:
        order(at=ORDERED_AT, kommune=kommune)
    with time_machine.travel(NOW, tick=False), django_assert_num_queries(4):
        html = admin_client.get(reverse("routes:route_orders")).content.decode()
    assert html.count(SHOWN) == 31
