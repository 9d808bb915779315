"""A kommune's unsettled turned-down deliveries (`kommune_unsettled_turned_down`, the kommune
page's open problems): the start page's rule (`Delivery.objects.unsettled_problems`), read so
that each failure is one probe of the partial index of the successes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from deliveries.lifecycle.states import TURNED_DOWN, DeliveryStatus
from deliveries.models import Delivery
from deliveries.selectors import kommune_unsettled_turned_down
from tests import factories

pytestmark = pytest.mark.django_db

S = DeliveryStatus


def test_the_same_rows_as_the_start_pages_rule(upload_route, admin_user):
    """Rule: one rule for «settled» — the kommune page's read answers what `unsettled_problems`
    answers, for failures before and after a success, in two periods."""
    start = timezone.now() - timedelta(days=20)
    history = [
        ("2026-09", S.REJECTED),
        ("2026-09", S.DISTRIBUTED),  # settles the rejection before it
        ("2026-09", S.REFUSED),  # …but not this later one
        ("2026-10", S.REJECTED),
        ("2026-10", S.FAILED),  # a failed push is no success, and not turned down
        ("2026-10", S.REFUSED),
        ("2026-10", S.FETCHED),  # settles all three
        ("2026-10", S.REJECTED),
    ]
    for n, (period, status) in enumerate(history):
        factories.delivery(
            upload_route, status=status, period=period, uploaded_at=start + timedelta(hours=n)
        )
    found = kommune_unsettled_turned_down(
        kommune=upload_route.kommune,
        user=admin_user,
        since=start - timedelta(days=1),
        first_period="2026-01",
    )
    rule = Delivery.objects.unsettled_problems().filter(status__in=TURNED_DOWN)
    assert sorted(found.values_list("pk", flat=True)) == sorted(rule.values_list("pk", flat=True))
    assert sorted(found.values_list("period", "status")) == [
        ("2026-09", S.REFUSED),
        ("2026-10", S.REJECTED),
    ]


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="reads SQLite's query plan (EXPLAIN QUERY PLAN)"
)
def test_each_failure_probes_the_partial_index_of_the_successes(upload_route, admin_user):
    """Rule: the probe for a later success uses `delivery_got_through`. With the statuses bound
    as parameters SQLite cannot tell that the query asks what the partial index holds, and read
    every try of the period from the table instead (≈17 per period at a million deliveries)."""
    queryset = kommune_unsettled_turned_down(
        kommune=upload_route.kommune,
        user=admin_user,
        since=timezone.now() - timedelta(days=365),
        first_period="2026-01",
    )
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "delivery_got_through" in plan, plan
