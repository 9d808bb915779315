"""Pages measured by benchmarks/load.py keep a fixed number of queries however much history a
delivery or a kommune has (the list and the coverage dashboard are pinned in test_pages.py and
tests/front/test_coverage.py); and the list pages are served from their indexes."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deliveries.access import delivery_or_404
from deliveries.jobs import validate_delivery
from deliveries.models import Delivery, DeliveryEvent, ExpectedDelivery, ExpectedState
from deliveries.selectors import outstanding_expected
from tests.factories import dagtilbud_csv, dagtilbud_row, routes_everywhere

pytestmark = pytest.mark.django_db


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_delivery_page_query_count_does_not_grow_with_events_or_errors(
    client, make_delivery, upload_route, vendor_a_user
):
    client.force_login(vendor_a_user)
    small = make_delivery(
        upload_route, vendor_a_user, dagtilbud_csv(dagtilbud_row(1, pladstype=""))
    )
    validate_delivery(small.pk)
    rows = [dagtilbud_row(i, pladstype="") for i in range(40)]
    large = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(*rows), period="2026-10")
    validate_delivery(large.pk)
    DeliveryEvent.objects.bulk_create(
        DeliveryEvent(delivery=large, old_status="", new_status="received", actor=vendor_a_user)
        for _ in range(30)
    )
    client.get(reverse("deliveries:detail", args=[small.uuid]))  # warm the session
    first = count_queries(client, reverse("deliveries:detail", args=[small.uuid]))
    assert count_queries(client, reverse("deliveries:detail", args=[large.uuid])) == first
    assert first <= 10


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="reads SQLite's query plan (EXPLAIN QUERY PLAN)"
)
def test_newest_first_list_uses_the_index_instead_of_sorting(upload_route):
    # Without an index the first page of ≈100,000 deliveries sorts all of them
    # ("USE TEMP B-TREE FOR ORDER BY" in SQLite's plan).
    queryset = Delivery.objects.order_by("-uploaded_at", "-pk")[:50]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "delivery_newest" in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="reads SQLite's query plan (EXPLAIN QUERY PLAN)"
)
def test_delivery_page_looks_the_uuid_up(upload_route, admin_user, rf):
    # The delivery page's lookup: by the unique uuid index, not a walk of the newest-first one.
    request = rf.get("/")
    request.user = admin_user
    with CaptureQueriesContext(connection) as queries, pytest.raises(Http404):
        delivery_or_404(request, uuid.uuid4())
    [sql] = [q["sql"] for q in queries.captured_queries if "deliveries_delivery" in q["sql"]]
    # An ORDER BY on the lookup is what let SQLite (with real statistics, ≈100,000 rows) walk
    # the newest-first index instead: a small test database plans it well either way, so the
    # SQL itself is what is pinned.
    assert "ORDER BY" not in sql, sql
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "uuid" in plan and "delivery_newest" not in plan, plan


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="reads SQLite's query plan (EXPLAIN QUERY PLAN)"
)
def test_corrections_of_a_delivery_are_found_through_the_partial_index(upload_route):
    sql, params = Delivery.objects.filter(replaces_id=1).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "delivery_corrections" in plan, plan


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="reads SQLite's query plan (EXPLAIN QUERY PLAN)"
)
@pytest.mark.parametrize("who", ["admin_user", "vendor_a_user", "consultant_user"])
def test_periods_still_owed_are_found_through_their_index(system_a, request, who):
    # Years of met periods must not be walked route by route to find the few still owed (start
    # pages and the outstanding list, for every role). With statistics of a realistic shape —
    # every kommune and area established, a year of met periods each — SQLite's planner drove
    # from the routes and walked every period of the year (13 ms at 29,400 periods; 5 ms
    # through the index).
    routes = routes_everywhere(system_a)
    now = timezone.now()
    ExpectedDelivery.objects.bulk_create(
        ExpectedDelivery(
            route=route,
            period=f"{2025 + month // 12}-{month % 12 + 1:02d}",
            due_at=now,
            overdue_at=now,
            state=ExpectedState.OVERDUE if n % 97 == 0 and month == 21 else ExpectedState.MET,
        )
        for n, route in enumerate(routes)
        for month in range(10, 22)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    rows = outstanding_expected(request.getfixturevalue(who))
    for queryset in (rows[:50], rows.order_by().values("state")):
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "expected_state_period" in plan, plan
        assert "sqlite_autoindex_deliveries_expecteddelivery_1" not in plan, plan


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="reads SQLite's query plan (EXPLAIN QUERY PLAN)"
)
def test_driftsstatus_finds_each_endpoints_newest_push_by_a_seek(upload_route):
    newest = Delivery.objects.filter(endpoint_id=1, sent_at__isnull=False).order_by("-sent_at")
    sql, params = newest.values("sent_at")[:1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "delivery_endpoint_sent" in plan and "TEMP B-TREE" not in plan, plan
