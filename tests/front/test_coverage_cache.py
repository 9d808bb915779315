"""The coverage dashboard keeps its rendered table in the cache, and every kind of change it
shows reaches the next view at once: a route step, a new delivery and its status, an expected
period turning overdue, a registry edit in the admin, rows made without an event. The cache is
per scope and language: nobody is served another user's table."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from django.forms.models import model_to_dict
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ExpectedDelivery
from deliveries.services.expected import expected_deliveries_scan
from routes.models import DataArea, Endpoint, RouteStatus
from routes.services import route_order, route_transition
from tests.helpers.clock import local
from tests.helpers.lifecycle import walk_to
from tests.helpers.pages import table_of

pytestmark = pytest.mark.django_db


def table(client) -> str:
    response = client.get(reverse("front:coverage"))
    assert response.status_code == 200
    return table_of(response)


def test_a_second_view_is_served_from_the_cache(client, admin_user, django_assert_num_queries):
    client.force_login(admin_user)
    first = table(client)
    # session, user, the change stamp, and the filter form's two choice lists: no matrix
    with django_assert_num_queries(5):
        assert table(client) == first


def test_a_route_step_shows_at_once(client, admin_user, system_a, flis_system, kommune_kbh):
    client.force_login(admin_user)
    route = route_order(
        endpoint=Endpoint.objects.get(slug="exttest"),
        data_area=DataArea.objects.get(code="skole"),
        kommune=kommune_kbh,
        sender_system=system_a,
        recipient_systems=[flis_system],
        actor=admin_user,
    )
    assert "exttest: anmodet" in table(client)
    route_transition(
        route=route, new_status=RouteStatus.ORDERED, actor=admin_user, order_reference="K-1"
    )
    html = table(client)
    assert "exttest: bestilt" in html and "exttest: anmodet" not in html


def test_a_new_delivery_and_its_status_show_at_once(
    client, admin_user, upload_route, make_delivery, vendor_a_user
):
    client.force_login(admin_user)
    assert "latest-delivery" not in table(client)
    delivery = make_delivery(upload_route, vendor_a_user, "x")
    html = table(client)
    assert reverse("deliveries:detail", args=[delivery.uuid]) in html
    assert ", modtaget</a>" in html
    walk_to(delivery, DeliveryStatus.VALIDATING, DeliveryStatus.REJECTED)
    assert ", afvist</a>" in table(client)


def test_an_expected_period_turning_overdue_shows_at_once(
    client, admin_user, upload_route, settings
):
    settings.COVERAGE_CACHE_SECONDS = 3600  # the change, not the expiry, must renew the table
    upload_route.established_on = date(2026, 9, 1)
    upload_route.save()
    client.force_login(admin_user)
    with time_machine.travel(local(2026, 11, 2, 8, 0), tick=False):
        expected_deliveries_scan()
    october = ExpectedDelivery.objects.get(period="2026-10")
    with time_machine.travel(october.overdue_at - timedelta(minutes=10), tick=False):
        expected_deliveries_scan()
        assert "expected-due_soon" in table(client)
    with time_machine.travel(october.overdue_at + timedelta(minutes=10), tick=False):
        expected_deliveries_scan()
        html = table(client)
    assert "expected-overdue" in html and "Overskredet: 2026-10" in html


def test_a_registry_edit_in_the_admin_shows_at_once(client, admin_user, kommune_kbh):
    client.force_login(admin_user)
    assert f"{kommune_kbh.name}</a>" in table(client)
    data = model_to_dict(kommune_kbh) | {"name": "Kommunen der skiftede navn"}
    response = client.post(reverse("admin:routes_kommune_change", args=[kommune_kbh.pk]), data)
    assert response.status_code == 302
    html = table(client)
    assert "101 Kommunen der skiftede navn</a>" in html


def test_rows_made_without_an_event_show_at_once(client, admin_user, request):
    client.force_login(admin_user)
    assert "Leverandør A" not in table(client)
    # The fixture makes its route with a plain create(), as a bulk import or a data migration
    # would: no route event, no audit entry.
    request.getfixturevalue("upload_route")
    assert "Leverandør A" in table(client)


def test_each_consultant_gets_the_table_of_their_own_kommuner(
    client, consultant_user, django_user_model, kommune_kbh, kommune_aarhus
):
    other = django_user_model.objects.create_user("aarhus-konsulent")
    other.kommuner.add(kommune_aarhus)
    client.force_login(consultant_user)
    assert "København" in table(client)
    client.force_login(other)
    html = table(client)
    assert "Aarhus" in html and "København" not in html


def test_the_table_follows_the_language(client, admin_user):
    client.force_login(admin_user)
    assert "Etableret" in table(client)
    client.cookies["django_language"] = "en"
    html = table(client)
    assert "Established" in html and "Etableret" not in html


def test_the_cache_can_be_turned_off(client, admin_user, settings, django_assert_num_queries):
    settings.COVERAGE_CACHE_SECONDS = 0
    client.force_login(admin_user)
    table(client)
    # session, user, the change stamp, the matrix's seven, the filter form's two lists
    with django_assert_num_queries(12):
        table(client)
