"""CappedPaginator: a list's total is counted up to a cap, so its cost does not grow with the
table (benchmarks/load.py at a million deliveries)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flisportal.lib.pagination import CappedPaginator
from routes.models import Kommune

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
