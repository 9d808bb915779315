"""The expected-delivery states on the coverage dashboard (colour + words, a fixed number of
queries) and a kommune's delivery history page (on time / late by N days / missing)."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.urls import reverse

from deliveries.models import Delivery, ExpectedDelivery, ExpectedState
from deliveries.services.expected import expected_deliveries_scan
from flisportal.front.coverage import coverage_matrix
from routes.models import ITSystem, User
from tests import factories
from tests.factories import routes_everywhere
from tests.helpers.clock import local
from tests.helpers.lifecycle import DISTRIBUTED, walk_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(owing_route, make_delivery, vendor_a_user):
    """September on time, October three days late, November missing (seen on 12 December)."""
    with time_machine.travel(local(2026, 10, 2, 8, 0), tick=False):
        expected_deliveries_scan()
        september = make_delivery(owing_route, vendor_a_user, "s", period="2026-09")
        walk_to(september, *DISTRIBUTED)
    with time_machine.travel(local(2026, 11, 13, 10, 0), tick=False):
        expected_deliveries_scan()
        october = make_delivery(owing_route, vendor_a_user, "o", period="2026-10")
        walk_to(october, *DISTRIBUTED)
    with time_machine.travel(local(2026, 12, 12, 8, 0), tick=False):
        expected_deliveries_scan()
    return september, october


def test_dashboard_shows_the_overdue_period_in_colour_and_words(client, consultant_user, history):
    with time_machine.travel(local(2026, 12, 12, 9, 0), tick=False):
        client.force_login(consultant_user)
        page = client.get(reverse("front:coverage"))
        # Under the same clock as the login: at the real date the session may have expired.
        kommune_page = client.get(reverse("front:kommune", args=["101"])).content.decode()
    assert page.status_code == 200
    cell = page.context["matrix"].rows[0].cells[3]  # Dagtilbud
    assert cell.area.code == "dagtilbud"
    assert cell.expected.state == ExpectedState.OVERDUE
    assert cell.expected.period == "2026-11"
    assert cell.latest_delivery.status == "distributed"
    assert cell.latest_delivery.delivered_on == date(2026, 11, 13)
    html = page.content.decode()
    # The cell links to that delivery's page.
    october = history[1]
    assert cell.latest_delivery.url == reverse("deliveries:detail", args=[october.uuid])
    assert f'<a href="{cell.latest_delivery.url}" class="latest-delivery' in html
    assert (
        '<span class="expected-badge expected-overdue">Overskredet: 2026-11 (frist 10.12.2026)'
        "</span>" in html
    )
    # The kommune's name leads to its own page, and that page to the history.
    assert reverse("front:kommune", args=["101"]) in html
    assert reverse("deliveries:kommune_history", args=["101"]) in kommune_page


def test_dashboard_shows_the_period_being_collected_once_met(
    client, admin_user, owing_route, make_delivery, vendor_a_user
):
    with time_machine.travel(local(2026, 11, 3, 8, 0), tick=False):
        expected_deliveries_scan()
        matrix = coverage_matrix(user=admin_user)
        cell = next(
            c for c in matrix.cells() if c.kommune.code == "101" and c.area.code == "dagtilbud"
        )
        assert cell.expected.state == ExpectedState.PENDING
        assert cell.expected_text == "Afventer: 2026-10 (frist 10.11.2026)"
        delivery = make_delivery(owing_route, vendor_a_user, "x", period="2026-10")
        walk_to(delivery, *DISTRIBUTED)
        matrix = coverage_matrix(user=admin_user)
    cell = next(c for c in matrix.cells() if c.kommune.code == "101" and c.area.code == "dagtilbud")
    assert cell.expected_text == "Leveret: 2026-10"
    # November's row exists but says nothing yet: it is not being collected.
    assert ExpectedDelivery.objects.filter(period="2026-11", state="pending").exists()


def test_coverage_query_count_stays_fixed_with_deliveries_and_periods(
    admin_user, system_a, flis_system, vendor_a_user, django_assert_num_queries
):
    routes = routes_everywhere(system_a, established_on=date(2026, 1, 1))
    lokal = routes[0].endpoint
    Delivery.objects.bulk_create(
        Delivery(
            route=route,
            it_system=system_a,
            data_area_id=route.data_area_id,
            kommune_id=route.kommune_id,
            endpoint=lokal,
            period=period,
            status="distributed",
            uploaded_by=vendor_a_user,
            original_filename="x.csv",
            file=f"x/{route.pk}-{period}.csv",
            size=1,
            sha256="0" * 64,
        )
        for route in routes
        for period in ("2026-09", "2026-10")
    )
    with time_machine.travel(local(2026, 12, 12, 8, 0), tick=False):
        expected_deliveries_scan()
        assert ExpectedDelivery.objects.count() == 98 * 5 * 2
        with django_assert_num_queries(7):
            matrix = coverage_matrix(user=admin_user)
    cells = list(matrix.cells())
    assert all(c.latest_delivery is not None for c in cells)
    # November is overdue everywhere but in Voksne og Handicappede, due on the 14th.
    assert {(c.area.code, c.expected.state) for c in cells} == {
        ("oekonomi", "overdue"),
        ("personale", "overdue"),
        ("skole", "overdue"),
        ("dagtilbud", "overdue"),
        ("voksne_handicappede", "due_soon"),
    }


# --- history page -----------------------------------------------------------------------------


def test_history_lists_on_time_late_and_missing(client, consultant_user, history):
    _september, october = history
    client.force_login(consultant_user)
    page = client.get(reverse("deliveries:kommune_history", args=["101"]))
    assert page.status_code == 200
    [route_history] = page.context["routes"]
    outcomes = [(line.period, line.outcome) for line in route_history.lines]
    assert outcomes == [
        ("2026-12", "Afventer"),
        ("2026-11", "Mangler"),
        ("2026-10", "3 dage for sent"),
        ("2026-09", "Til tiden"),
    ]
    html = page.content.decode()
    assert "Leveringshistorik for Københavns Kommune" in html
    assert reverse("deliveries:detail", args=[october.uuid]) in html
    assert '<span class="expected-badge expected-overdue">Mangler</span>' in html


def test_history_of_one_day_late_is_singular(client, admin_user, owing_route, make_delivery):
    with time_machine.travel(local(2026, 11, 11, 0, 30), tick=False):
        expected_deliveries_scan()
        delivery = make_delivery(owing_route, admin_user, "x", period="2026-10")
        walk_to(delivery, *DISTRIBUTED)
    client.force_login(admin_user)
    page = client.get(reverse("deliveries:kommune_history", args=["101"]))
    assert [line.outcome for line in page.context["routes"][0].lines][-1] == "1 dag for sent"


def test_history_query_count_is_fixed(client, consultant_user, history, django_assert_num_queries):
    client.force_login(consultant_user)
    # session, user, the role's kommuner check, kommune, routes, expected periods (+ deliveries)
    with django_assert_num_queries(6):
        client.get(reverse("deliveries:kommune_history", args=["101"]))
    factories.route(
        sender_system=ITSystem.objects.get(name="System A"),
        endpoint="produktion",
        data_area="skole",
        established_on=date(2026, 1, 1),
    )
    with time_machine.travel(local(2026, 12, 12, 8, 0), tick=False):
        expected_deliveries_scan()
    with django_assert_num_queries(6):
        page = client.get(reverse("deliveries:kommune_history", args=["101"]))
    assert len(page.context["routes"]) == 2


def test_history_is_read_only(client, consultant_user, history):
    client.force_login(consultant_user)
    assert client.post(reverse("deliveries:kommune_history", args=["101"])).status_code == 405


def test_history_of_another_kommune_is_404_for_a_consultant(client, consultant_user, history):
    client.force_login(consultant_user)
    assert client.get(reverse("deliveries:kommune_history", args=["751"])).status_code == 404
    assert client.get(reverse("deliveries:kommune_history", args=["999"])).status_code == 404


def test_history_is_404_for_vendor_staff_and_people_without_a_role(client, vendor_a_user, history):
    client.force_login(vendor_a_user)
    assert client.get(reverse("deliveries:kommune_history", args=["101"])).status_code == 404
    client.force_login(User.objects.create_user("nobody", password="pw-nobody-1234"))
    assert client.get(reverse("deliveries:kommune_history", args=["101"])).status_code == 404


def test_history_needs_login(client, history):
    response = client.get(reverse("deliveries:kommune_history", args=["101"]))
    assert response.status_code == 302
