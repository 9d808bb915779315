"""The coverage dashboard: kommune × data area for consultants (their kommuner) and
administrators (all), with filters, a CSV export that cannot inject formulas, and a fixed
number of queries however many kommuner and routes there are."""

import pytest
from django.urls import reverse

from flisportal.front.coverage import coverage_matrix
from routes.models import DataArea, Endpoint, ITSystem, Kommune, Vendor
from tests.helpers.pages import csv_rows, table_of

pytestmark = pytest.mark.django_db


def test_consultant_sees_only_their_kommuner(
    client, consultant_user, make_route, system_a, kommune_kbh, kommune_aarhus
):
    make_route(kommune=kommune_kbh, sender_system=system_a, status="established")
    make_route(kommune=kommune_aarhus, sender_system=system_a, status="established")
    client.force_login(consultant_user)
    page = client.get(reverse("front:coverage"))
    assert page.status_code == 200
    matrix = page.context["matrix"]
    assert [row.kommune.code for row in matrix.rows] == ["101"]
    assert [a.code for a in matrix.areas] == [
        "oekonomi",
        "personale",
        "skole",
        "dagtilbud",
        "voksne_handicappede",
    ]
    personale = matrix.rows[0].cells[1]
    assert personale.status == "established"
    assert personale.entries[0].system == system_a
    assert personale.entries[0].vendor.name == "Leverandør A"
    assert personale.latest_delivery is None  # filled in by the deliveries app later
    html = page.content.decode()
    assert "Aarhus" not in html
    assert "exttest: etableret" in html
    assert reverse("front:onboarding", args=[system_a.vendor_id, "101"]) in html


def test_administrator_sees_all_98_kommuner(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("front:coverage"))
    assert len(page.context["matrix"].rows) == 98


def test_filters_by_region_vendor_and_area(
    client, admin_user, make_route, system_a, system_b, kommune_kbh, kommune_aarhus, skole
):
    make_route(kommune=kommune_kbh, sender_system=system_a)
    make_route(kommune=kommune_aarhus, sender_system=system_b, data_area=skole)
    client.force_login(admin_user)
    page = client.get(reverse("front:coverage"), {"region": "Region Midtjylland"})
    codes = [row.kommune.code for row in page.context["matrix"].rows]
    assert "751" in codes and "101" not in codes
    page = client.get(reverse("front:coverage"), {"area": "skole"})
    matrix = page.context["matrix"]
    assert [a.code for a in matrix.areas] == ["skole"]
    assert sum(1 for cell in matrix.cells() if cell.entries) == 1
    page = client.get(reverse("front:coverage"), {"vendor": system_a.vendor_id})
    cells = [cell for cell in page.context["matrix"].cells() if cell.entries]
    assert [(c.kommune.code, c.area.code) for c in cells] == [("101", "personale")]


def test_consultant_cannot_filter_on_a_vendor_outside_their_kommuner(
    client, consultant_user, make_route, system_a, system_b, kommune_kbh, kommune_aarhus
):
    make_route(kommune=kommune_kbh, sender_system=system_a)
    make_route(kommune=kommune_aarhus, sender_system=system_b)
    client.force_login(consultant_user)
    page = client.get(reverse("front:coverage"), {"vendor": system_b.vendor_id})
    assert "vendor" in page.context["form"].errors
    assert "Leverandør B" not in page.content.decode()


@pytest.mark.parametrize("persona", ["vendor_a_user"])
def test_vendor_staff_and_users_without_role_get_404(client, request, persona, django_user_model):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("front:coverage")).status_code == 404
    assert client.get(reverse("front:coverage_csv")).status_code == 404
    client.force_login(django_user_model.objects.create_user("ingen"))
    assert client.get(reverse("front:coverage")).status_code == 404


def test_coverage_is_read_only(client, admin_user):
    client.force_login(admin_user)
    assert client.post(reverse("front:coverage")).status_code == 405
    assert client.post(reverse("front:coverage_csv")).status_code == 405


@pytest.fixture
def many_routes(flis_system):
    """Routes for all 98 kommuner in every data area on two endpoints, from 10 vendors."""

    def make(vendors: int) -> None:
        from routes.models import Route

        systems = [
            ITSystem.objects.create(
                name=f"System {i}",
                uuid=f"{i:08d}-aaaa-4bbb-8ccc-dddddddddddd",
                vendor=Vendor.objects.create(
                    name=f"Leverandør {i}", cvr=f"{29130000 + 11 * i}"[:8]
                ),
                is_sender=True,
            )
            for i in range(1, vendors + 1)
        ]
        endpoints = list(Endpoint.objects.filter(slug__in=["exttest", "produktion"]))
        routes = [
            Route(
                endpoint=endpoint,
                data_area=area,
                kommune=kommune,
                sender_system=systems[(kommune.pk + area.pk) % len(systems)],
                sender_authority=kommune.cvr,
                recipient_authority=kommune.cvr,
                status="established" if endpoint.slug == "exttest" else "ordered",
            )
            for kommune in Kommune.objects.all()
            for area in DataArea.objects.all()
            for endpoint in endpoints
        ]
        Route.objects.bulk_create(routes)

    return make


def test_selector_query_count_is_fixed_for_all_98_kommuner(
    admin_user, many_routes, django_assert_num_queries
):
    # kommuner, data areas, routes, their sender systems (with vendors), endpoints, the newest
    # delivery per cell, the expected periods
    with django_assert_num_queries(7):
        empty = coverage_matrix(user=admin_user)
    assert len(empty.rows) == 98
    many_routes(vendors=10)
    with django_assert_num_queries(7):
        full = coverage_matrix(user=admin_user)
    assert sum(len(cell.entries) for cell in full.cells()) == 98 * 5
    assert full.established_per_area() == [98] * 5


def test_dashboard_and_csv_query_counts_are_fixed(
    client, admin_user, many_routes, django_assert_num_queries
):
    client.force_login(admin_user)
    # session, user, the change stamp, the matrix's seven, vendors and data areas for the
    # filter form
    with django_assert_num_queries(12):
        client.get(reverse("front:coverage"))
    many_routes(vendors=10)
    with django_assert_num_queries(12):
        page = client.get(reverse("front:coverage"))
    assert page.content.decode().count("exttest: etableret") == 98 * 5
    # From the cache: session, user, the change stamp, the filter form's two lists.
    with django_assert_num_queries(5):
        again = client.get(reverse("front:coverage"))
    assert table_of(again) == table_of(page)
    # session, user, the matrix's seven
    with django_assert_num_queries(9):
        response = client.get(reverse("front:coverage_csv"))
    assert len(csv_rows(response)) == 1 + 98 * 5


def test_consultant_dashboard_query_count(
    client, consultant_user, many_routes, django_assert_num_queries
):
    many_routes(vendors=3)
    client.force_login(consultant_user)
    # session, user, the role's kommuner check, the change stamp, the matrix's seven, vendors,
    # areas
    with django_assert_num_queries(13):
        page = client.get(reverse("front:coverage"))
    assert len(page.context["matrix"].rows) == 1


def test_csv_export_has_a_row_per_cell_and_sender(
    client, consultant_user, make_route, system_a, kommune_kbh, produktion
):
    make_route(kommune=kommune_kbh, sender_system=system_a, status="ordered")
    make_route(
        kommune=kommune_kbh, sender_system=system_a, status="established", endpoint=produktion
    )
    client.force_login(consultant_user)
    response = client.get(reverse("front:coverage_csv"), {"area": "personale"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="daekning-')
    rows = csv_rows(response)
    assert rows[0][:4] == ["Kommunekode", "Kommune", "Region", "Dataområde"]
    assert rows[1] == [
        "101",
        "Københavns Kommune",
        "Region Hovedstaden",
        "Personale",
        "FLISPersonaleAflever_1",
        "Leverandør A",
        "System A",
        "etableret",
        "exttest: bestilt, produktion: etableret",
        "",
        "",
        "",
    ]
    assert len(rows) == 2


@pytest.mark.parametrize("evil", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx"])
def test_csv_export_neutralises_formulas(client, admin_user, make_route, kommune_kbh, evil):
    vendor = Vendor.objects.create(name=evil, cvr="37450006")
    system = ITSystem.objects.create(
        name=evil, uuid="99999999-aaaa-4bbb-8ccc-dddddddddddd", vendor=vendor, is_sender=True
    )
    make_route(kommune=kommune_kbh, sender_system=system)
    client.force_login(admin_user)
    rows = csv_rows(client.get(reverse("front:coverage_csv"), {"area": "personale"}))
    row = next(r for r in rows if r[0] == "101")
    assert row[5] == "'" + evil
    assert row[6] == "'" + evil
    for value in (v for r in rows for v in r):
        assert not value.startswith(("=", "+", "-", "@", "\t"))
