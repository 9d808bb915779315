"""A later success settles a period: a rejected, refused or failed delivery leaves *Kræver
handling* once a delivery uploaded after it for the same route and period got through
(distributed or fetched), and only then (`DeliveryQuerySet.unsettled_problems`). It stays in
the delivery list."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from flisportal.lib.periods import COPENHAGEN
from routes.models import Route, User
from tests import factories
from tests.helpers.lifecycle import walk_to

pytestmark = pytest.mark.django_db

S = DeliveryStatus
NOW = datetime(2026, 11, 12, 10, 0, tzinfo=COPENHAGEN)
TO_FETCHED = (S.VALIDATING, S.VALID, S.PUSHING, S.SENT, S.DISTRIBUTED, S.FETCHED)
TO_REJECTED = (S.VALIDATING, S.REJECTED)


@pytest.fixture(autouse=True)
def _at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def upload(make_delivery, route: Route, user: User, content: str, *statuses: str, **kw):
    """A delivery uploaded `minutes` after NOW, walked through `statuses` then."""
    minutes = kw.pop("minutes", 0)
    with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
        delivery = make_delivery(route, user, content, **kw)
        walk_to(delivery, *statuses)
    return delivery


def needing_action(client, user: User) -> list[int]:
    client.force_login(user)
    page = client.get(reverse("front:start"))
    assert page.status_code == 200
    return [d.pk for d in page.context["overview"].problems]


def test_a_later_fetched_delivery_settles_the_rejected_one(
    client, upload_route, make_delivery, vendor_a_user, consultant_user
):
    rejected = upload(make_delivery, upload_route, vendor_a_user, "a", *TO_REJECTED)
    assert needing_action(client, vendor_a_user) == [rejected.pk]
    upload(make_delivery, upload_route, vendor_a_user, "b", *TO_FETCHED, minutes=5)
    for user in (vendor_a_user, consultant_user):
        assert needing_action(client, user) == []
    # Settled, not forgotten: the delivery list still has it.
    page = client.get(reverse("deliveries:list"))
    assert reverse("deliveries:detail", args=[rejected.uuid]) in page.content.decode()


@pytest.mark.parametrize(
    "failure",
    [
        (*TO_REJECTED,),
        (S.VALIDATING, S.VALID, S.PUSHING, S.FAILED),
        (S.VALIDATING, S.VALID, S.PUSHING, S.SENT, S.REFUSED),
    ],
)
def test_distributed_is_enough_to_settle_any_failure(
    client, upload_route, make_delivery, vendor_a_user, failure
):
    upload(make_delivery, upload_route, vendor_a_user, "a", *failure)
    upload(make_delivery, upload_route, vendor_a_user, "b", *TO_FETCHED[:-1], minutes=5)
    assert needing_action(client, vendor_a_user) == []


def test_the_coverage_dashboard_shows_the_success_not_the_settled_failure(
    client, upload_route, make_delivery, vendor_a_user, consultant_user
):
    # Guard, not a new rule: a cell shows its newest upload, and a settled failure is never
    # that, since what settles it was uploaded later.
    rejected = upload(make_delivery, upload_route, vendor_a_user, "a", *TO_REJECTED)
    fetched = upload(make_delivery, upload_route, vendor_a_user, "b", *TO_FETCHED, minutes=5)
    client.force_login(consultant_user)
    html = client.get(reverse("front:coverage")).content.decode()
    assert reverse("deliveries:detail", args=[fetched.uuid]) in html
    assert reverse("deliveries:detail", args=[rejected.uuid]) not in html


def test_a_later_failure_settles_nothing(client, upload_route, make_delivery, vendor_a_user):
    first = upload(make_delivery, upload_route, vendor_a_user, "a", *TO_REJECTED)
    second = upload(make_delivery, upload_route, vendor_a_user, "b", *TO_REJECTED, minutes=5)
    # Still under way: not through yet, so it settles nothing either.
    upload(make_delivery, upload_route, vendor_a_user, "c", S.VALIDATING, S.VALID, minutes=9)
    assert needing_action(client, vendor_a_user) == [second.pk, first.pk]


def test_an_earlier_success_does_not_settle_a_later_failure(
    client, upload_route, make_delivery, vendor_a_user
):
    upload(make_delivery, upload_route, vendor_a_user, "a", *TO_FETCHED)
    redelivery = upload(make_delivery, upload_route, vendor_a_user, "b", *TO_REJECTED, minutes=5)
    assert needing_action(client, vendor_a_user) == [redelivery.pk]


def test_a_success_for_another_period_or_route_settles_nothing(
    client, upload_route, make_delivery, vendor_a_user, system_a, kommune_kbh, flis_system
):
    rejected = upload(make_delivery, upload_route, vendor_a_user, "a", *TO_REJECTED)
    upload(
        make_delivery, upload_route, vendor_a_user, "b", *TO_FETCHED, period="2026-09", minutes=5
    )
    other_endpoint = factories.route(
        sender_system=system_a,
        kommune=kommune_kbh,
        data_area=upload_route.data_area,
        recipients=[flis_system],
        endpoint="produktion",
    )
    upload(make_delivery, other_endpoint, vendor_a_user, "c", *TO_FETCHED, minutes=9)
    assert needing_action(client, vendor_a_user) == [rejected.pk]


def test_query_count_stays_fixed_with_more_history(
    client, upload_route, make_delivery, vendor_a_user, django_assert_num_queries
):
    def start_page_queries(expected: int) -> None:
        with django_assert_num_queries(expected):
            assert client.get(reverse("front:start")).status_code == 200

    client.force_login(vendor_a_user)
    upload(make_delivery, upload_route, vendor_a_user, "a", *TO_REJECTED)
    start_page_queries(QUERIES)
    for month in range(1, 10):
        period = f"2026-{month:02d}"
        upload(
            make_delivery,
            upload_route,
            vendor_a_user,
            f"r{month}",
            *TO_REJECTED,
            period=period,
            minutes=month,
        )
        upload(
            make_delivery,
            upload_route,
            vendor_a_user,
            f"f{month}",
            *TO_FETCHED,
            period=period,
            minutes=month + 30,
        )
    start_page_queries(QUERIES)
    assert Delivery.objects.count() == 19


# Vendor staff's start page: session, user, the second-factor gate, the cache's change stamp
# (flisportal/front/views.py `_start_overview`; each view here follows a change), the owed
# periods' counts and rows, the deliveries needing action (with their NOT EXISTS). Pinned:
# years of settled failures never mean one more query.
QUERIES = 7
