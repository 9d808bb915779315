"""«Kræver handling» at a million deliveries: each recent failure asks whether a later delivery
for its route and period got through, and that question must be one probe of the partial
index `delivery_got_through`, not a read of every try of the period; the failures are walked in
the partial index `delivery_problems_newest` (benchmarks/load.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from deliveries.models import Delivery
from deliveries.selectors import deliveries_needing_action, needing_action

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="reads SQLite's query plan (EXPLAIN QUERY PLAN)"
)
def test_later_success_is_looked_up_in_the_partial_index(
    make_delivery, upload_route, vendor_a_user, admin_user
):
    # A period tried many times: rejected again and again, then one that got through.
    recent = timezone.now() - timedelta(days=1)
    for n in range(6):
        delivery = make_delivery(upload_route, vendor_a_user, f"try {n}".encode())
        status = "distributed" if n == 5 else "rejected"
        Delivery.objects.filter(pk=delivery.pk).update(
            status=status, status_changed_at=recent, uploaded_at=recent + timedelta(minutes=n)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    assert deliveries_needing_action(admin_user, limit=8) == []  # settled by the last
    # The plan of the query as the page sends it, parameters bound: the SQL Django captures
    # has the values filled in, and with those SQLite matches the partial indexes even where
    # the real query, whose bound statuses could be anything, does not.
    queryset = needing_action(admin_user)[:8]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "delivery_got_through" in plan, plan
    assert "delivery_same_file" not in plan, plan
    # The failures themselves come from the partial index of failures, newest first: no
    # table row is read for a failure that turns out settled.
    assert "USING INDEX delivery_problems_newest" in plan, plan
