"""The list pages' rows written in Python (deliveries/rows.py): the delivery list, the inbox and
the periods still owed show what the templates showed, with every name a vendor, a kommune or a
sender outside the portal chose escaped, and each badge matching its own row's value."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

import pytest
import time_machine
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ExpectedDelivery, ExpectedState, Receipt, ReceiptVerdict
from flisportal.lib.periods import COPENHAGEN, date_text
from routes.models import DataArea, Endpoint, ITSystem, Kommune, Route, Vendor
from tests import factories

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script>&\"'"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;&#x27;"
# 12 November: October is the period being collected, September is overdue.
NOW = datetime(2026, 11, 12, 10, 0, tzinfo=COPENHAGEN)


@pytest.fixture
def hostile_route(upload_route: Route) -> Route:
    """Vendor A's route with a vendor, system, kommune and data area each named like a script."""
    system = upload_route.sender_system
    Vendor.objects.filter(pk=system.vendor_id).update(name=f"Vendor {HOSTILE}")
    ITSystem.objects.filter(pk=system.pk).update(name=f"System {HOSTILE}")
    Kommune.objects.filter(pk=upload_route.kommune_id).update(name=f"Kommune {HOSTILE}")
    DataArea.objects.filter(pk=upload_route.data_area_id).update(name=f"Area {HOSTILE}")
    return Route.objects.get(pk=upload_route.pk)


def page_html(client, user, url_name: str, **query: str) -> str:
    client.force_login(user)
    response = client.get(reverse(url_name), query)
    assert response.status_code == 200
    return response.content.decode()


def table_body(html: str) -> str:
    return html[html.index("<tbody>") : html.index("</tbody>")]


def test_delivery_list_escapes_every_name_in_its_rows(client, hostile_route, admin_user):
    factories.delivery(hostile_route)
    body = table_body(page_html(client, admin_user, "deliveries:list"))
    assert "<script>" not in body
    for name in ("System", "Kommune", "Area"):
        assert f"{name} {ESCAPED}" in body, name


def test_inbox_escapes_what_a_sender_outside_the_portal_wrote(client, flis_system, admin_user):
    # A file the metadata says little about: no kommune or area the registry knows, a sender
    # name and an InfRef as the platform gave them.
    receipt = Receipt.objects.create(
        filetransfer_uuid=str(uuid.uuid4()),
        recipient_sftp_user=factories.sftp_user(flis_system, "FLIS_HENT"),
        recipient_system=flis_system,
        file_name="x.csv",
        size=1234,
        sender=f"Sender {HOSTILE}",
        infref=f"InfRef {HOSTILE}",
        verdict=ReceiptVerdict.UNKNOWN_ROUTE,
    )
    body = table_body(page_html(client, admin_user, "deliveries:inbox"))
    assert "<script>" not in body
    assert f"<td>Sender {ESCAPED}</td>" in body
    assert f"<td>InfRef {ESCAPED}</td>" in body  # the area falls back to the InfRef
    assert "<td>–</td>" in body  # no kommune, no period
    # The exact size in the title, with the portal's thousands separator.
    assert '<span title="1.234 bytes">' in body
    assert reverse("deliveries:receipt", args=[receipt.uuid]) in body


def test_outstanding_list_escapes_names_and_names_the_vendor_to_administrators_only(
    client, hostile_route, admin_user, vendor_a_user
):
    with time_machine.travel(NOW, tick=False):
        expected = factories.expected(hostile_route, "2026-09")
        admin_body = table_body(page_html(client, admin_user, "deliveries:outstanding"))
        vendor_body = table_body(page_html(client, vendor_a_user, "deliveries:outstanding"))
    assert "<script>" not in admin_body + vendor_body
    assert f'<span class="text-muted small">· Vendor {ESCAPED}</span>' in admin_body
    assert "Vendor" not in vendor_body  # vendor staff see only their own systems
    for name in ("System", "Kommune", "Area"):
        assert f"{name} {ESCAPED}" in vendor_body, name
    assert f"?forventet={expected.pk}" in vendor_body
    assert f'<td class="text-nowrap">{date_text(expected.due_date)}</td>' in vendor_body


def test_each_row_shows_its_own_status_badge(client, upload_route, admin_user):
    # The badge partial is rendered once per status on the page: two statuses, two badges,
    # each with the help link of its own status.
    factories.delivery(upload_route, status=DeliveryStatus.REJECTED, error_count=1234)
    factories.delivery(upload_route, status=DeliveryStatus.DISTRIBUTED)
    body = table_body(page_html(client, admin_user, "deliveries:list"))
    rows = body.split("<tr>")[1:]
    assert len(rows) == 2
    assert 'data-for="distributed"' in rows[0] and 'data-for="rejected"' not in rows[0]
    assert 'data-for="rejected"' in rows[1] and 'data-for="distributed"' not in rows[1]
    assert '<td class="text-end">1.234</td>' in rows[1]  # the error count, grouped
    assert f"<td>{factories.kommune()}</td>" in rows[1]  # the kommune as it names itself


def test_start_page_and_outstanding_list_write_the_same_row(client, upload_route, vendor_a_user):
    # The start pages hold the periods as objects, the list reads them as values: one table.
    with time_machine.travel(NOW, tick=False):
        expected = factories.expected(upload_route, "2026-09", state=ExpectedState.OVERDUE)
        start = page_html(client, vendor_a_user, "front:start")
        listed = page_html(client, vendor_a_user, "deliveries:outstanding")

    def row(html: str) -> str:
        found = re.search(rf"<tr>(?:(?!</tr>).)*forventet={expected.pk}\D.*?</tr>", html, re.S)
        assert found, html
        return found.group(0)

    assert row(start) == row(listed)
    assert ExpectedDelivery.objects.count() == 1


def test_an_environment_named_like_markup_is_escaped(client, upload_route, admin_user):
    Endpoint.objects.filter(pk=upload_route.endpoint_id).update(slug="lokal<b>")
    factories.delivery(Route.objects.get(pk=upload_route.pk))
    body = table_body(page_html(client, admin_user, "deliveries:list"))
    assert "<td>lokal&lt;b&gt;</td>" in body
