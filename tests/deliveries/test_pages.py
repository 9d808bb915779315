"""Delivery list, detail, status, file and report downloads: scoped (404 for others), 405 for
wrong methods, fixed query count on the list."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from deliveries.jobs import validate_delivery
from deliveries.lifecycle.states import DeliveryStatus
from flisportal.lib.csvexport import csv_safe
from tests.factories import dagtilbud_csv, dagtilbud_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivery_a(make_delivery, upload_route, vendor_a_user):
    return make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=3))


@pytest.fixture
def rejected_a(make_delivery, upload_route, vendor_a_user):
    rows = [dagtilbud_row(1, pasningstilbud='=HYPERLINK("x")'), dagtilbud_row(2, pladstype="")]
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(*rows), period="2026-10")
    validate_delivery(delivery.pk)
    delivery.refresh_from_db()
    return delivery


def urls(delivery):
    return [
        reverse("deliveries:detail", args=[delivery.uuid]),
        reverse("deliveries:status", args=[delivery.uuid]),
        reverse("deliveries:download", args=[delivery.uuid]),
        reverse("deliveries:report_csv", args=[delivery.uuid]),
    ]


def test_owner_vendor_consultant_and_admin_see_it(
    client, delivery_a, vendor_a_user, consultant_user, admin_user
):
    for user in (vendor_a_user, consultant_user, admin_user):
        client.force_login(user)
        for url in urls(delivery_a):
            assert client.get(url).status_code == 200, (user, url)


def test_other_vendor_gets_404_everywhere(client, delivery_a, vendor_b_user):
    client.force_login(vendor_b_user)
    for url in urls(delivery_a):
        assert client.get(url).status_code == 404, url
    response = client.get(reverse("deliveries:list"))
    assert str(delivery_a.uuid) not in response.content.decode()


def test_consultant_of_another_kommune_gets_404(client, delivery_a, kommune_aarhus):
    from routes.models import User

    other = User.objects.create_user("aarhus-konsulent", password="x-123456789")
    other.kommuner.add(kommune_aarhus)
    client.force_login(other)
    assert client.get(urls(delivery_a)[0]).status_code == 404


def test_download_streams_the_file_as_an_attachment(client, delivery_a, vendor_a_user):
    client.force_login(vendor_a_user)
    response = client.get(reverse("deliveries:download", args=[delivery_a.uuid]))
    assert response.streaming
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == dagtilbud_csv(rows_ok=3).encode()


def test_detail_shows_timeline_report_and_correction_link(client, rejected_a, vendor_a_user):
    client.force_login(vendor_a_user)
    response = client.get(reverse("deliveries:detail", args=[rejected_a.uuid]))
    body = response.content.decode()
    assert rejected_a.status == DeliveryStatus.REJECTED
    assert "Upload rettet fil" in body
    assert f"?rettelse={rejected_a.uuid}" in body
    assert "Valideringsrapport" in body
    assert "«pladstype» skal udfyldes." in body
    assert "valideres" in body  # the timeline shows received → validating → rejected
    filtered = client.get(reverse("deliveries:detail", args=[rejected_a.uuid]), {"regel": "enum"})
    assert [i.rule for i in filtered.context["page"]] == ["enum"]


def test_status_json_while_working(client, delivery_a, vendor_a_user):
    client.force_login(vendor_a_user)
    data = client.get(reverse("deliveries:status", args=[delivery_a.uuid])).json()
    assert data["status"] == "received"
    assert data["working"] is True
    page = client.get(reverse("deliveries:detail", args=[delivery_a.uuid])).content.decode()
    assert "deliveries/status.js" in page


def test_report_csv_neutralises_formulas(client, rejected_a, vendor_a_user):
    client.force_login(vendor_a_user)
    response = client.get(reverse("deliveries:report_csv", args=[rejected_a.uuid]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["række", "kolonne", "værdi", "regel", "beskrivelse", "besked"]
    values = [row[2] for row in rows[1:]]
    assert '\'=HYPERLINK("x")' in values
    assert not any(v.startswith("=") for v in values)
    assert csv_safe("-1") == "'-1"
    assert csv_safe("@SUM") == "'@SUM"
    assert csv_safe("ok") == "ok"


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_wrong_method_is_405(client, delivery_a, vendor_a_user, index):
    client.force_login(vendor_a_user)
    assert client.post(urls(delivery_a)[index]).status_code == 405
    assert client.post(reverse("deliveries:list")).status_code == 405


def test_list_filters(client, make_delivery, upload_route, vendor_a_user, rejected_a):
    make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1), period="2026-09")
    client.force_login(vendor_a_user)
    url = reverse("deliveries:list")
    assert len(client.get(url).context["page"].object_list) == 2
    assert [d.period for d in client.get(url, {"period": "2026-09"}).context["page"]] == ["2026-09"]
    assert [d.status for d in client.get(url, {"status": "rejected"}).context["page"]] == [
        "rejected"
    ]
    assert len(client.get(url, {"kommune": upload_route.kommune_id}).context["page"]) == 2
    assert len(client.get(url, {"data_area": upload_route.data_area_id}).context["page"]) == 2


def test_list_query_count_does_not_grow(
    client, make_delivery, upload_route, vendor_a_user, django_assert_num_queries
):
    client.force_login(vendor_a_user)
    url = reverse("deliveries:list")
    make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1))
    client.get(url)  # warm the session
    # session, user, count, page rows, and the filter form's choices: kommune, data area,
    # it-system, environment
    with django_assert_num_queries(8):
        client.get(url)
    for n in range(2, 8):
        make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=n))
    with django_assert_num_queries(8):
        response = client.get(url)
    assert len(response.context["page"]) == 7
