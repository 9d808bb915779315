"""The start page keeps its overview (periods owed, deliveries needing a person) in the cache
under the coverage dashboard's change stamp: a view with nothing changed does not check every
recent failure again (≈28,000 at a million deliveries, benchmarks/load.py), a change shows on
the next view, and nobody is served another user's overview."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from flisportal.lib.periods import COPENHAGEN
from tests.helpers.lifecycle import walk_to

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 12, 10, 0, tzinfo=COPENHAGEN)
TO_REJECTED = (DeliveryStatus.VALIDATING, DeliveryStatus.REJECTED)


@pytest.fixture(autouse=True)
def _at_now():
    with time_machine.travel(NOW, tick=False):
        yield


def problems(client) -> tuple[list[int], list[str]]:
    """The start page's deliveries needing action, and the SQL it ran."""
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("front:start"))
    assert page.status_code == 200
    return [d.pk for d in page.context["overview"].problems], [
        q["sql"] for q in queries.captured_queries
    ]


def rejected(make_delivery, route, user, content: str, minutes: int = 0):
    with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
        delivery = make_delivery(route, user, content)
        walk_to(delivery, *TO_REJECTED)
    return delivery


def test_a_second_view_does_not_check_the_failures_again(
    client, upload_route, make_delivery, vendor_a_user
):
    first = rejected(make_delivery, upload_route, vendor_a_user, "a")
    client.force_login(vendor_a_user)
    listed, sql = problems(client)
    assert listed == [first.pk] and any("NOT EXISTS" in q for q in sql)
    listed, sql = problems(client)
    assert listed == [first.pk]
    assert not any("NOT EXISTS" in q for q in sql), sql


def test_a_new_failure_shows_on_the_next_view(client, upload_route, make_delivery, vendor_a_user):
    client.force_login(vendor_a_user)
    assert problems(client)[0] == []
    failure = rejected(make_delivery, upload_route, vendor_a_user, "a", minutes=1)
    assert problems(client)[0] == [failure.pk]


def test_another_user_never_gets_the_cached_overview(
    client, upload_route, make_delivery, vendor_a_user, vendor_b_user
):
    failure = rejected(make_delivery, upload_route, vendor_a_user, "a")
    client.force_login(vendor_a_user)
    assert problems(client)[0] == [failure.pk]
    client.force_login(vendor_b_user)
    assert problems(client)[0] == []


def test_without_the_cache_every_view_checks_again(
    client, upload_route, make_delivery, vendor_a_user, settings
):
    settings.COVERAGE_CACHE_SECONDS = 0
    rejected(make_delivery, upload_route, vendor_a_user, "a")
    client.force_login(vendor_a_user)
    problems(client)
    assert any("NOT EXISTS" in q for q in problems(client)[1])
