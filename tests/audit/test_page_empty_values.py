"""On the Revisionslog page a before/after cell is never blank: an empty value reads as a muted
«(tom)», a value the entry does not have on that side as a muted «(ingen)», so an administrator
can tell either from a page that failed to render. The CSV export stays as stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import translation

from flisportal.audit.display import ABSENT, EMPTY
from flisportal.audit.services import audit_record
from tests import factories
from tests.helpers.pages import csv_rows

pytestmark = pytest.mark.django_db

AT = datetime(2026, 7, 1, 10, 5, tzinfo=UTC)
MUTED = '<span class="text-muted fst-italic">'


def _cells(html: str, label: str) -> tuple[str, str]:
    """The Før and Efter cells of the changes table's row labelled `label`, as HTML."""
    found = re.search(
        rf'<th scope="row" class="fw-normal">{re.escape(label)}\b.*?</th>\s*'
        r"<td>(.*?)</td>\s*<td>(.*?)</td>",
        html,
        re.S,
    )
    assert found, f"no row «{label}» on the page"
    return found[1], found[2]


@pytest.fixture
def route(kommune_kbh, vendor_a):
    return factories.route(
        kommune=kommune_kbh, sender_system=factories.sender_system(vendor=vendor_a)
    )


def _page(client, admin_user, action: str) -> str:
    client.force_login(admin_user)
    return client.get(reverse("audit:log"), {"action": action}).content.decode()


def test_an_empty_value_reads_tom_and_a_real_value_as_is(client, admin_user, route):
    """Rule: a note that was blank and then filled in shows «(tom)», muted, in the Før cell and
    the text as written in the Efter cell; a value that merely reads «(tom)» is not muted."""
    audit_record(
        action="routes.route.change",
        obj=route,
        before={"note": "", "order_reference": "(tom)"},
        after={"note": "tekst", "order_reference": "(tom)"},
        at=AT,
    )
    html = _page(client, admin_user, "routes.route.change")
    before, after = _cells(html, "Note")
    assert before == f"{MUTED}(tom)</span>"
    assert after == "<bdi>tekst</bdi>"
    typed_before, typed_after = _cells(html, "Bestillingsreference")
    assert typed_before == typed_after == "<bdi>(tom)</bdi>"


def test_null_empty_list_and_spaces_read_tom_too(client, admin_user, route):
    """Rule: a field with no value at all (null, or a many-to-many with no members) and a text
    of spaces alone are empty in the same word as a blank text, not a dash or a blank cell."""
    audit_record(
        action="routes.route.change",
        obj=route,
        before={"established_on": None, "recipient_systems": [], "note": "  "},
        after={"established_on": "2026-07-01", "recipient_systems": [], "note": "x"},
        at=AT,
    )
    html = _page(client, admin_user, "routes.route.change")
    assert _cells(html, "Etableret") == (f"{MUTED}(tom)</span>", "<bdi>01.07.2026</bdi>")
    assert _cells(html, "Modtagersystemer") == (f"{MUTED}(tom)</span>",) * 2
    assert _cells(html, "Note")[0] == f"{MUTED}(tom)</span>"


def test_a_value_the_entry_does_not_have_reads_ingen(client, admin_user, route, vendor_a):
    """Rule: a side the entry has no value for (a creation's before; a key only the new side
    wrote, like a status step's note) shows «(ingen)», muted, apart from an empty value."""
    audit_record(
        action="route.status",
        obj=route,
        before={"status": "requested"},
        after={"status": "ordered", "note": ""},
        at=AT,
    )
    audit_record(action="routes.vendor.create", obj=vendor_a, after={"name": "Firma"}, at=AT)
    html = _page(client, admin_user, "route.status")
    assert _cells(html, "Note") == (f"{MUTED}(ingen)</span>", f"{MUTED}(tom)</span>")
    assert _cells(html, "Status")[0] == "<bdi>anmodet</bdi>"
    created = _page(client, admin_user, "routes.vendor.create")
    assert _cells(created, "Navn") == (f"{MUTED}(ingen)</span>", "<bdi>Firma</bdi>")


def test_an_entry_that_is_not_a_record_of_fields_marks_its_empty_side(client, admin_user, route):
    """Rule: the one-row fallback for a bare value uses the same words: no side is «(ingen)»,
    an empty list «(tom)»; a falsy real value (0) is still shown as itself."""
    audit_record(action="routes.route.change", obj=route, before=[], after=0, at=AT)
    audit_record(action="routes.vendor.change", obj=route, before=" ", after=[1], at=AT)
    audit_record(action="route.status", obj=route, after=["a"], at=AT)
    assert _cells(_page(client, admin_user, "routes.route.change"), "Værdi") == (
        f"{MUTED}(tom)</span>",
        "<bdi>0</bdi>",
    )
    assert _cells(_page(client, admin_user, "route.status"), "Værdi")[0] == (
        f"{MUTED}(ingen)</span>"
    )
    assert _cells(_page(client, admin_user, "routes.vendor.change"), "Værdi") == (
        f"{MUTED}(tom)</span>",
        "<bdi>[1]</bdi>",
    )


def test_the_words_have_english_translations():
    """Rule: the page's words follow the reader's language like the rest of the page."""
    with translation.override("en"):
        assert (str(EMPTY), str(ABSENT)) == ("(empty)", "(none)")


def test_csv_export_keeps_empty_cells_as_stored(client, admin_user, route):
    """Rule: the export is data, not a page: a creation's before is an empty cell and an empty
    value stays as stored; the page's words never reach it."""
    audit_record(
        action="routes.route.change", obj=route, after={"note": "", "status": "requested"}, at=AT
    )
    client.force_login(admin_user)
    response = client.get(reverse("audit:log_csv"), {"action": "routes.route.change"})
    _header, row = csv_rows(response)
    assert row[7] == ""
    assert "'note': ''" in row[8]
    assert "(tom)" not in ";".join(row) and "(ingen)" not in ";".join(row)
