"""CappedPaginator: a list's total is counted up to a cap, so its cost does not grow with the
table (benchmarks/load.py at a million deliveries)."""

from __future__ import annotations

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flisportal.lib.pagination import CappedPaginator, page_values
from routes.models import Kommune, Route
from tests import factories

pytestmark = pytest.mark.django_db


def test_count_stops_at_the_cap_and_says_there_are_more():
    kommuner = Kommune.objects.order_by("code")  # the 98 of the migrations
    paginator = CappedPaginator(kommuner, 10, cap=20)
    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == 20
        assert paginator.capped
        assert paginator.num_pages == 2
    # One count, and it reads no further than the cap and one more row.
    assert len(queries) == 1
    assert "LIMIT 21" in queries[0]["sql"]
    assert "ORDER BY" not in queries[0]["sql"]


def test_count_below_the_cap_is_the_real_total():
    paginator = CappedPaginator(Kommune.objects.order_by("code"), 10, cap=200)
    assert paginator.count == Kommune.objects.count() == 98
    assert not paginator.capped
    assert paginator.num_pages == 10
    assert [k.code for k in paginator.page(10)] == list(
        Kommune.objects.order_by("-code").values_list("code", flat=True)[:8]
    )[::-1]


def test_page_values_reads_the_page_as_values_after_a_count_without_their_joins():
    # A list writes its rows from values of related rows; the count must not join them.
    routes_page = Paginator(Route.objects.order_by("pk"), 2)
    factories.routes_everywhere(factories.sender_system("A"))
    with CaptureQueriesContext(connection) as queries:
        page = routes_page.page(2)
        rows = page_values(page, ["pk", "kommune__name", "sender_system__vendor__name"])
    count, read = (query["sql"] for query in queries)
    assert "JOIN" not in count
    assert "JOIN" in read and "LIMIT 2 OFFSET 2" in read
    third, fourth = Route.objects.order_by("pk")[2:4]
    assert rows == [
        {
            "pk": route.pk,
            "kommune__name": route.kommune.name,
            "sender_system__vendor__name": "Leverandør A",
        }
        for route in (third, fourth)
    ]
