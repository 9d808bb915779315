"""The audit log page and its CSV: administrators search everything, consultants see their
kommuners' entries, others get 404; formulas are neutralised; the query count is fixed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from flisportal.audit.models import AuditEntry
from flisportal.audit.services import audit_record
from tests.helpers.pages import csv_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(admin_user, kommune_kbh, kommune_aarhus):
    audit_record(action="route.order", object_repr="Skole · KBH", kommune_id=kommune_kbh.pk)
    audit_record(action="route.order", object_repr="Skole · Aarhus", kommune_id=kommune_aarhus.pk)
    audit_record(action="routes.vendor.change", object_repr='=HYPERLINK("http://x")')


def test_administrator_sees_and_searches_everything(client, admin_user, entries):
    client.force_login(admin_user)  # itself a row: auth.login
    page = client.get(reverse("audit:log"))
    assert page.status_code == 200
    assert [e.action for e in page.context["page"]] == [
        "auth.login",
        "routes.vendor.change",
        "route.order",
        "route.order",
    ]
    found = client.get(reverse("audit:log"), {"q": "aarhus"})
    assert [e.object_repr for e in found.context["page"]] == ["Skole · Aarhus"]
    by_action = client.get(reverse("audit:log"), {"action": "routes.vendor.change"})
    assert [e.action for e in by_action.context["page"]] == ["routes.vendor.change"]
    assert "Skole · KBH" in page.content.decode()


def test_consultant_sees_only_entries_about_their_kommuner(client, consultant_user, entries):
    client.force_login(consultant_user)
    page = client.get(reverse("audit:log"))
    assert [e.object_repr for e in page.context["page"]] == ["Skole · KBH"]
    rows = csv_rows(client.get(reverse("audit:log_csv")))
    assert [r[6] for r in rows[1:]] == ["Skole · KBH"]


def test_vendor_staff_and_anonymous_get_nothing(client, vendor_a_user, entries):
    assert client.get(reverse("audit:log")).status_code == 302
    client.force_login(vendor_a_user)
    assert client.get(reverse("audit:log")).status_code == 404
    assert client.get(reverse("audit:log_csv")).status_code == 404


def test_pages_are_read_only(client, admin_user, entries):
    client.force_login(admin_user)
    assert client.post(reverse("audit:log")).status_code == 405
    assert client.post(reverse("audit:log_csv")).status_code == 405
    assert AuditEntry.objects.count() == 4


def test_csv_export_neutralises_formulas(client, admin_user, entries):
    client.force_login(admin_user)
    response = client.get(reverse("audit:log_csv"), {"action": "routes.vendor.change"})
    assert response["Content-Disposition"].startswith('attachment; filename="revisionslog-')
    header, row = csv_rows(response)
    assert header[:4] == ["Nr.", "Tidspunkt", "Aktør", "Handling"]
    assert row[6] == '\'=HYPERLINK("http://x")'
    assert len(row[9]) == 64  # the hash, so an export can be checked against the chain


def test_list_query_count_is_fixed(client, admin_user, kommune_kbh, django_assert_num_queries):
    client.force_login(admin_user)
    # session, user, the actions for the filter, count, the page of entries
    with django_assert_num_queries(5):
        client.get(reverse("audit:log"))
    for n in range(60):
        audit_record(action="test", object_repr=f"nr {n}", kommune_id=kommune_kbh.pk)
    with django_assert_num_queries(5):
        page = client.get(reverse("audit:log"))
    assert len(page.context["page"]) == 50
