"""A kommune's own page (/kommuner/<code>/): its routes, its vendors with their
databehandleraftale, the last twelve periods per data area as a strip of cells, and the open
problems. Administrators see every kommune, consultants their own, a vendor's staff the
kommuner their vendor has an agreement or a route with (and only their own rows there);
anyone else gets 404. A fixed number of queries however much the kommune has."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ExpectedDelivery
from deliveries.selectors import collecting_period
from flisportal.front.coverage import CellState
from flisportal.lib.periods import period_shift
from routes.models import AgreementStatus, RouteStatus
from tests import factories
from tests.helpers.country import varied_country

pytestmark = pytest.mark.django_db


def url(code: str = "101") -> str:
    return reverse("front:kommune", args=[code])


def expected(route, period: str, state: str, *, days: int = -5) -> ExpectedDelivery:
    due = timezone.now() + timedelta(days=days)
    return ExpectedDelivery.objects.create(
        route=route, period=period, due_at=due, overdue_at=due, state=state
    )


def strip_of(page, area: str) -> list[str]:
    strip = next(s for s in page.context["page"].strips if s.area.code == area)
    return [cell.state for cell in strip.cells]


def test_administrator_sees_routes_vendors_strip_and_problems(
    admin_client, upload_route, system_b, make_route, kommune_kbh
):
    collecting = collecting_period()
    expected(upload_route, period_shift(collecting, -1), "met")
    expected(upload_route, collecting, "overdue")
    waiting = make_route(kommune=kommune_kbh, sender_system=system_b, status=RouteStatus.ORDERED)
    page = admin_client.get(url())
    assert page.status_code == 200
    data = page.context["page"]
    assert data.periods[-1] == collecting and len(data.periods) == 12
    assert strip_of(page, "dagtilbud")[-2:] == [CellState.MET, CellState.OVERDUE]
    assert strip_of(page, "dagtilbud")[0] == CellState.NO_ROUTE  # nothing owed then
    assert set(strip_of(page, "personale")) == {CellState.WAITING}  # ordered, not established
    assert [row.period for row in data.overdue] == [collecting]
    assert data.waiting_routes == [waiting]
    lines = {line.vendor.name: line for line in data.vendors}
    assert lines["Leverandør A"].agreement.status == AgreementStatus.SIGNED
    assert lines["Leverandør B"].agreement is None  # a route without an agreement
    html = page.content.decode()
    assert f'aria-label="Dagtilbud · {collecting}: overskredet"' in html
    assert "mangler" in html  # vendor B's missing agreement, in words
    for link in (
        reverse("deliveries:kommune_history", args=["101"]),
        reverse("routes:kommune_routes", args=["101"]),
        reverse("front:onboarding", args=[system_b.vendor_id, "101"]),
        waiting.get_absolute_url(),
    ):
        assert link in html


def test_a_rejection_stays_open_until_a_later_delivery_reaches_the_recipient(
    admin_client, upload_route
):
    """Rule: the page's open problems settle as the start page's «Kræver handling» does
    (`unsettled_problems`): only a later delivery that got through settles the period."""
    collecting = collecting_period()
    expected(upload_route, collecting, "pending", days=10)
    rejected = factories.delivery(upload_route, status=DeliveryStatus.REJECTED, period=collecting)
    page = admin_client.get(url())
    assert [item.uuid for item in page.context["page"].turned_down] == [str(rejected.uuid)]
    assert strip_of(page, "dagtilbud")[-1] == CellState.REJECTED
    # Another rejection is still open (the newest one shows); so it is while a validated file
    # is on its way (the platform may still refuse it); one that reached FLIS settles it.
    again = factories.delivery(upload_route, status=DeliveryStatus.REFUSED, period=collecting)
    assert [i.uuid for i in admin_client.get(url()).context["page"].turned_down] == [
        str(again.uuid)
    ]
    on_its_way = factories.delivery(upload_route, status=DeliveryStatus.SENT, period=collecting)
    assert [i.uuid for i in admin_client.get(url()).context["page"].turned_down] == [
        str(again.uuid)
    ]
    on_its_way.status = DeliveryStatus.DISTRIBUTED
    on_its_way.save(update_fields=["status"])
    page = admin_client.get(url())
    assert page.context["page"].turned_down == []
    assert strip_of(page, "dagtilbud")[-1] == CellState.PENDING
    assert "Ingen åbne problemer" in page.content.decode()


def test_consultant_sees_their_kommune_and_gets_404_for_another(
    client, consultant_user, upload_route, kommune_aarhus
):
    client.force_login(consultant_user)
    page = client.get(url("101"))
    assert page.status_code == 200
    assert reverse("deliveries:kommune_history", args=["101"]) in page.content.decode()
    # Ordering routes is the administrators' page: no link to it.
    assert reverse("routes:kommune_routes", args=["101"]) not in page.content.decode()
    assert client.get(url("751")).status_code == 404


def test_vendor_staff_see_kommuner_they_work_with_and_only_their_own_rows(
    client, vendor_a_user, upload_route, system_b, make_route, kommune_kbh, kommune_aarhus
):
    make_route(kommune=kommune_kbh, sender_system=system_b, status=RouteStatus.ESTABLISHED)
    client.force_login(vendor_a_user)
    page = client.get(url("101"))
    assert page.status_code == 200
    assert page.context["page"].routes == [upload_route]
    assert [line.vendor.name for line in page.context["page"].vendors] == ["Leverandør A"]
    html = page.content.decode()
    assert "Leverandør B" not in html and "System B" not in html
    # No history or order page links: those pages answer vendors 404.
    assert reverse("deliveries:kommune_history", args=["101"]) not in html
    # No agreement and no route with Aarhus: as if it did not exist.
    assert client.get(url("751")).status_code == 404


def test_users_without_role_get_404_and_anonymous_users_log_in(client, django_user_model):
    assert client.get(url()).status_code == 302
    client.force_login(django_user_model.objects.create_user("ingen"))
    assert client.get(url()).status_code == 404


def test_unknown_codes_are_404_and_a_leading_zero_is_accepted(admin_client, kommune_kbh):
    assert admin_client.get(url("0101")).status_code == 200
    assert admin_client.get(url("999")).status_code == 404
    assert admin_client.get(url("abc")).status_code == 404


def test_the_page_is_read_only(admin_client, kommune_kbh):
    assert admin_client.post(url()).status_code == 405


def test_links_to_the_kommune_page(admin_client, upload_route):
    target = f'href="{url()}"'
    assert target in admin_client.get(reverse("front:coverage")).content.decode()
    for name in ("deliveries:kommune_history", "routes:kommune_routes"):
        assert target in admin_client.get(reverse(name, args=["101"])).content.decode()


def test_query_count_is_fixed_however_much_the_kommune_has(
    admin_client, consultant_user, client, upload_route, django_assert_num_queries
):
    # session, user, the kommune, data areas, routes, their recipients, the strip's periods,
    # its deliveries, agreements
    with django_assert_num_queries(9):
        admin_client.get(url("101"))
    varied_country(vendors=5, months=14)
    with django_assert_num_queries(9):
        page = admin_client.get(url("101"))
    assert len(page.context["page"].routes) >= 5
    assert page.context["page"].turned_down or page.context["page"].overdue
    client.force_login(consultant_user)
    # the same, and the consultant's role check (their kommuner)
    with django_assert_num_queries(10):
        assert client.get(url("101")).status_code == 200


def test_each_route_row_links_its_route_with_its_own_status_badge(
    admin_client, upload_route, system_b, make_route, kommune_kbh
):
    """Rule: the routes table's badges are drawn once per status on the page
    (flisportal/front/kommune.py): each row still shows its own route's status and link, with
    the badge's «?» to the help page."""
    ordered = make_route(kommune=kommune_kbh, sender_system=system_b, status=RouteStatus.ORDERED)
    html = admin_client.get(url()).content.decode()
    for route, label in ((upload_route, "etableret"), (ordered, "bestilt")):
        badge = f'<span class="status-badge status-{route.status}">{label}</span>'
        assert f'<td><a href="{route.get_absolute_url()}">{badge}<a class="help-link"' in html


def test_the_strip_escapes_a_data_area_name(admin_client, upload_route):
    """Rule: the strip's rows are written in Python (`strip_rows_html`); a data area named with
    markup shows as text in its row heading and in each cell's accessible name."""
    area = upload_route.data_area
    area.name = "<script>&\"'"
    area.save(update_fields=["name"])
    html = admin_client.get(url()).content.decode()
    escaped = "&lt;script&gt;&amp;&quot;&#x27;"
    assert f'<th scope="row">{escaped}</th>' in html
    assert f'aria-label="{escaped} · {collecting_period()}: ' in html
    assert "<script>&" not in html
