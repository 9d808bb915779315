"""The delivery list counts its rows only up to a cap (flisportal/lib/pagination.py): with a
million deliveries a full COUNT(*) on every view cost more than the rest of the page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from flisportal.lib import pagination
from tests.factories import dagtilbud_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_deliveries(make_delivery, upload_route, vendor_a_user):
    for n in range(1, 6):
        make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=n))


def test_list_over_the_cap_says_over_and_counts_no_further(
    client, vendor_a_user, five_deliveries, monkeypatch
):
    monkeypatch.setattr(pagination, "COUNT_CAP", 3)
    monkeypatch.setattr("deliveries.views.PAGE_SIZE", 2)
    client.force_login(vendor_a_user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("deliveries:list"))
    assert response.status_code == 200
    assert "Side 1 af over 2" in response.content.decode()
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"]]
    assert len(counts) == 1 and "LIMIT 4" in counts[0]


def test_list_under_the_cap_shows_the_real_number_of_pages(
    client, vendor_a_user, five_deliveries, monkeypatch
):
    monkeypatch.setattr("deliveries.views.PAGE_SIZE", 2)
    client.force_login(vendor_a_user)
    body = client.get(reverse("deliveries:list")).content.decode()
    assert "Side 1 af 3" in body
    assert "af over" not in body
