"""The delivery list's search, sorting, IT-system and environment filters and CSV export: each
narrows the user's own deliveries only (scoped by `for_user`), and the page and the export keep
a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from tests import factories
from tests.helpers.pages import csv_rows

pytestmark = pytest.mark.django_db

LIST = "deliveries:list"
EXPORT = "deliveries:list_csv"


@pytest.fixture
def own(upload_route, vendor_a_user):
    """Three of vendor A's deliveries, uploaded one, two and three days ago."""
    now = timezone.now()
    return [
        factories.delivery(
            upload_route,
            uploaded_by=vendor_a_user,
            uploaded_at=now - timedelta(days=days),
            original_filename=name,
            period=period,
            status=status,
        )
        for days, name, period, status in [
            (1, "skole-oktober.csv", "2026-10", DeliveryStatus.REJECTED),
            (2, "dagtilbud-sept.csv", "2026-09", DeliveryStatus.SENT),
            (3, "personale.csv", "2026-08", DeliveryStatus.FAILED),
        ]
    ]


@pytest.fixture
def foreign(system_b, vendor_b_user):
    """Vendor B's delivery: it must never appear for vendor A, whatever is searched."""
    route = factories.route(sender_system=system_b, kommune=factories.AARHUS)
    return factories.delivery(
        route, uploaded_by=vendor_b_user, original_filename="skole-oktober-b.csv"
    )


def listed(client, **params):
    return [delivery.pk for delivery in client.get(reverse(LIST), params).context["page"]]


def test_search_finds_by_file_name_uploader_and_senders_file_id(
    client, own, foreign, vendor_a_user
):
    """Rule: the search term matches the original file name, the uploader's user name or name,
    or the whole SendersFileId, within the user's scope only."""
    vendor_a_user.first_name, vendor_a_user.last_name = "Anna", "Jensen"
    vendor_a_user.save()
    client.force_login(vendor_a_user)
    assert listed(client, q="OKTOBER") == [own[0].pk]  # case does not matter
    assert listed(client, q="anna jensen") == [d.pk for d in own]
    assert listed(client, q="vendor-a") == [d.pk for d in own]
    assert listed(client, q=str(own[1].uuid).upper()) == [own[1].pk]
    assert listed(client, q="nothing-like-it") == []


def test_search_never_reaches_another_tenants_deliveries(client, own, foreign, vendor_a_user):
    """Rule: search is applied inside `for_user`: another vendor's file name, uploader or
    SendersFileId finds nothing."""
    client.force_login(vendor_a_user)
    assert listed(client, q="oktober-b") == []
    assert listed(client, q="vendor-b") == []
    assert listed(client, q=str(foreign.uuid)) == []
    rows = csv_rows(client.get(reverse(EXPORT), {"q": str(foreign.uuid)}))
    assert rows[1:] == []


def test_filters_by_it_system_and_environment(client, own, system_a, vendor_a_user):
    """Rule: the list filters on the sending IT-system and the environment (endpoint)."""
    other_env = factories.route(sender_system=system_a, endpoint="exttest")
    elsewhere = factories.delivery(other_env, uploaded_by=vendor_a_user)
    client.force_login(vendor_a_user)
    exttest = factories.endpoint("exttest").pk
    assert listed(client, endpoint=exttest) == [elsewhere.pk]
    assert len(listed(client, endpoint=factories.endpoint("lokal").pk)) == 3
    assert len(listed(client, it_system=system_a.pk)) == 4


def test_it_system_choices_hold_only_the_users_own_systems(
    client, own, system_a, system_b, vendor_a_user
):
    """Rule: another vendor's IT-system is not offered, and choosing it is refused."""
    client.force_login(vendor_a_user)
    form = client.get(reverse(LIST)).context["form"]
    assert list(form.fields["it_system"].queryset) == [system_a]
    response = client.get(reverse(LIST), {"it_system": system_b.pk})
    assert "it_system" in response.context["form"].errors


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("dato", [2, 1, 0]),
        ("-dato", [0, 1, 2]),
        ("periode", [2, 1, 0]),
        ("-periode", [0, 1, 2]),
        ("status", [2, 0, 1]),  # by code: failed, rejected, sent
        ("-status", [1, 0, 2]),
        ("uuid; drop", [0, 1, 2]),  # not a sort key: the default order, newest first
    ],
)
def test_sorting_uses_whitelisted_keys(client, own, vendor_a_user, sort, expected):
    """Rule: only the listed sort keys order the list; anything else gives the default order."""
    client.force_login(vendor_a_user)
    assert listed(client, sortering=sort) == [own[i].pk for i in expected]


def test_ties_are_ordered_by_primary_key(client, upload_route, vendor_a_user):
    """Rule: rows that tie on the sort key keep one stable order (by pk) across pages."""
    made = [factories.delivery(upload_route, period="2026-10") for __ in range(3)]
    client.force_login(vendor_a_user)
    assert listed(client, sortering="periode") == [d.pk for d in made]
    assert listed(client, sortering="-periode") == [d.pk for d in reversed(made)]


def test_sort_links_keep_the_other_filters(client, own, vendor_a_user):
    """Rule: a column's sort link keeps every filter and search term, starts at page 1, and
    turns the order round when the column is already sorted by."""
    client.force_login(vendor_a_user)
    response = client.get(reverse(LIST), {"q": "csv", "status": "rejected", "side": "2"})
    link = response.context["sort_links"]["kommune"]["url"]
    assert "q=csv" in link and "status=rejected" in link and "sortering=kommune" in link
    assert "side=" not in link
    again = client.get(reverse(LIST), {"sortering": "kommune"}).context["sort_links"]
    assert "sortering=-kommune" in again["kommune"]["url"]
    assert again["kommune"]["arrow"] == "▲"
    assert f'href="{link.replace("&", "&amp;")}"' in response.content.decode()


def test_export_holds_exactly_the_filtered_rows_in_order(client, own, foreign, vendor_a_user):
    """Rule: the CSV export is the list as filtered, searched and sorted, all pages, and only
    the user's own deliveries."""
    client.force_login(vendor_a_user)
    response = client.get(reverse(EXPORT), {"q": ".csv", "sortering": "periode"})
    assert response["Content-Disposition"].startswith('attachment; filename="leverancer-')
    rows = csv_rows(response)
    assert rows[0][0] == "SendersFileId"
    assert [row[0] for row in rows[1:]] == [str(own[i].uuid) for i in (2, 1, 0)]
    rejected = csv_rows(client.get(reverse(EXPORT), {"status": "rejected"}))
    assert [row[0] for row in rejected[1:]] == [str(own[0].uuid)]


def test_export_cells_are_csv_safe(client, upload_route, vendor_a_user):
    """Rule: every cell goes through csv_safe: a file name that starts a formula is text."""
    factories.delivery(upload_route, original_filename='=HYPERLINK("x").csv')
    client.force_login(vendor_a_user)
    rows = csv_rows(client.get(reverse(EXPORT)))
    assert rows[1][10] == '\'=HYPERLINK("x").csv'


def _queries(client, name, params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(name), params)
        if response.streaming:
            b"".join(response.streaming_content)
    return len(queries)


@pytest.mark.parametrize("name", [LIST, EXPORT])
def test_searching_and_sorting_keep_a_fixed_number_of_queries(
    client, upload_route, vendor_a_user, name
):
    """Rule: more rows add no queries, with search, filters and sorting in use."""
    client.force_login(vendor_a_user)
    params = {"q": "udtraek", "sortering": "kommune", "it_system": upload_route.sender_system_id}
    factories.delivery(upload_route, uploaded_by=vendor_a_user)
    client.get(reverse(LIST))  # warm the session
    few = _queries(client, name, params)
    for __ in range(6):
        factories.delivery(upload_route, uploaded_by=vendor_a_user)
    assert _queries(client, name, params) == few


def test_filtering_again_keeps_the_chosen_order(client, own, vendor_a_user):
    """Rule: the filter form carries the current sort key, so submitting it keeps the order."""
    client.force_login(vendor_a_user)
    html = client.get(reverse(LIST), {"sortering": "-periode"}).content.decode()
    assert '<input type="hidden" name="sortering" value="-periode">' in html
    assert 'name="sortering"' not in client.get(reverse(LIST)).content.decode()


def test_a_filters_empty_choice_reads_alle(client, own, vendor_a_user):
    """Rule: a filter left empty shows every row, and says so («Alle»), not Django's dashes."""
    client.force_login(vendor_a_user)
    html = client.get(reverse(LIST)).content.decode()
    for name in ("data_area", "kommune", "status", "it_system", "endpoint"):
        select = html.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
        assert '<option value="" selected>Alle</option>' in select, name
    assert "---------" not in html
