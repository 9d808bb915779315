"""The Revisionslog page shows each entry's before and after as a table people can read: Danish
field labels, names instead of ids, Ja/Nej, Danish local time, changed fields marked, links to
the object's page; the action filter is a list of the actions in the log."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from flisportal.audit.display import ACTION_LABELS
from flisportal.audit.services import audit_record
from tests import factories
from tests.helpers.pages import csv_rows
from tests.helpers.processes import ROOT

pytestmark = pytest.mark.django_db

# 10:05 UTC on a summer day is 12:05 in Copenhagen (CEST).
SUMMER = datetime(2026, 7, 1, 10, 5, tzinfo=UTC)


def _route_change(route, kommune, *, n: int = 0) -> None:
    audit_record(
        action="routes.route.change",
        obj=route,
        object_repr=f"Rute {n}",
        before={
            "kommune_id": kommune.pk,
            "status": "requested",
            "updated_at": "2026-06-30T22:30:00+00:00",
        },
        after={"kommune_id": kommune.pk, "status": "established", "updated_at": SUMMER.isoformat()},
        kommune_id=kommune.pk,
        at=SUMMER,
    )


@pytest.fixture
def several_models(admin_user, kommune_kbh, vendor_a):
    route = factories.route(
        kommune=kommune_kbh, sender_system=factories.sender_system(vendor=vendor_a)
    )
    _route_change(route, kommune_kbh)
    audit_record(
        action="routes.user.change",
        obj=admin_user,
        before={"is_active": True},
        after={"is_active": False},
        at=SUMMER,
    )
    audit_record(
        action="routes.vendor.create",
        obj=vendor_a,
        after={"name": vendor_a.name, "contact_name": "Hanne"},
        at=SUMMER,
    )
    return route


def _page(client, **params) -> str:
    return client.get(reverse("audit:log"), params).content.decode()


def test_entries_of_several_models_show_danish_labels_and_no_raw_dict(
    client, admin_user, several_models
):
    """Rule: a field is labelled with its model field's verbose name, values are readable
    (names for ids, choice labels, Ja/Nej, local d.m.Y H:i), never the stored dict."""
    client.force_login(admin_user)
    html = _page(client)
    assert "{&#x27;" not in html and "{'" not in html  # no Python dict printed
    assert "kommune_id" not in html and "is_active" not in html
    assert "Myndighed" in html and "101 København" in html  # the route's kommune by name
    assert "anmodet" in html and "etableret" in html  # choice labels, not stored values
    assert "Kontaktperson" in html and "Hanne" in html
    assert ">Ja<" in html and ">Nej<" in html
    # Danish local time, in the portal's one date format
    assert "01.07.2026 12:05" in html and "01.07.2026 00:30" in html
    assert "2026-07-01T10:05" not in html


def test_keys_that_are_not_model_fields_are_labelled_and_coded_values_in_words(client, admin_user):
    """Rule: the extra keys workflows write beside the model's fields (how a login was
    verified, from where, a retention's reason and time) have Danish labels and words; an
    unknown key is still shown as written."""
    audit_record(
        action="twofactor.verified",
        obj=admin_user,
        after={"kind": "totp", "source": "192.0.2.7", "brand_new_key": "x"},
        at=SUMMER,
    )
    audit_record(
        action="deliveries.receipt.delete",
        obj=admin_user,
        after={"reason": "retention", "fetched_at": SUMMER.isoformat()},
        at=SUMMER,
    )
    client.force_login(admin_user)
    response = client.get(reverse("audit:log"))
    rows = {
        view.entry.action: {row.label: row.after for row in view.rows}
        for view in response.context["views"]
    }
    assert rows["twofactor.verified"] == {
        "Metode": "godkendelsesapp",
        "Adresse": "192.0.2.7",
        "brand_new_key": "x",
    }
    assert rows["deliveries.receipt.delete"] == {
        "Årsag": "opbevaringstiden er udløbet",
        "Hentet": "01.07.2026 12:05",
    }


def test_changed_fields_are_marked_and_objects_link_to_their_page(
    client, admin_user, several_models
):
    """Rule: in an update only the fields whose value changed are highlighted; an object with
    a page of its own links there."""
    client.force_login(admin_user)
    response = client.get(reverse("audit:log"))
    views = {view.entry.action: view for view in response.context["views"]}
    route_rows = {row.label: row.changed for row in views["routes.route.change"].rows}
    assert route_rows == {"Myndighed": False, "Status": True, "Ændret": True}
    # A creation has no "before" to differ from.
    assert not any(row.changed for row in views["routes.vendor.create"].rows)
    assert 'class="table-warning"' in response.content.decode()
    url = reverse("routes:route_detail", args=[several_models.pk])
    assert views["routes.route.change"].object_url == url
    assert f'href="{url}"' in response.content.decode()


def test_query_count_does_not_grow_with_entries(client, admin_user, kommune_kbh, vendor_a):
    """Rule: referenced names are fetched once per model for the whole page, never per entry."""
    client.force_login(admin_user)
    route = factories.route(
        kommune=kommune_kbh, sender_system=factories.sender_system(vendor=vendor_a)
    )
    _route_change(route, kommune_kbh)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("audit:log"))
    for n in range(30):
        _route_change(route, kommune_kbh, n=n)
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("audit:log"))
    assert len(response.context["views"]) == 31 + 1  # and the login
    assert len(many) == len(one)


def test_action_filter_is_a_list_of_the_actions_present(client, admin_user, several_models):
    """Rule: the action filter offers exactly the actions in the log and filters on the one
    chosen; an action not in the log is refused with a message saying what to do."""
    client.force_login(admin_user)
    response = client.get(reverse("audit:log"))
    choices = [value for value, _label in response.context["form"].fields["action"].choices]
    # In alphabetical order of their words: Bruger ændret, Leverandør oprettet, Logget ind,
    # Rute ændret.
    assert choices == [
        "",
        "routes.user.change",
        "routes.vendor.create",
        "auth.login",
        "routes.route.change",
    ]
    assert '<select name="action"' in response.content.decode()
    chosen = client.get(reverse("audit:log"), {"action": "routes.user.change"})
    assert [v.entry.action for v in chosen.context["views"]] == ["routes.user.change"]
    unknown = client.get(reverse("audit:log"), {"action": "routes.nothing"})
    assert "Vælg en handling på listen" in unknown.content.decode()


def test_csv_export_keeps_the_stored_values(client, admin_user, several_models):
    """Rule: only the page is made readable; the CSV still carries what was stored and hashed
    (attnames, ids, UTC times), so an export can be checked against the chain."""
    client.force_login(admin_user)
    response = client.get(reverse("audit:log_csv"), {"action": "routes.route.change"})
    header, row = csv_rows(response)
    assert header == [
        "Nr.",
        "Tidspunkt",
        "Aktør",
        "Handling",
        "Objekttype",
        "Objekt-id",
        "Objekt",
        "Før",
        "Efter",
        "Hash",
    ]
    assert row[4] == "routes.route" and row[5] == str(several_models.pk)
    assert "'kommune_id'" in row[7] and "'status': 'requested'" in row[7]
    assert "'updated_at': '2026-07-01T10:05:00+00:00'" in row[8]


def test_consultant_action_list_names_only_actions_they_may_see(
    client, consultant_user, several_models
):
    """Rule: the action list is scoped like the entries, so it reveals no action on another
    kommune's (or no kommune's) objects."""
    client.force_login(consultant_user)
    response = client.get(reverse("audit:log"))
    choices = [value for value, _label in response.context["form"].fields["action"].choices]
    assert choices == ["", "routes.route.change"]


def test_actions_are_named_in_words_in_the_table_and_the_filter(client, admin_user, several_models):
    """Rule: an action reads as words («Rutens status ændret», «Leverandør oprettet») in the
    table and in the filter's choices; the stored code stays beside it for searching."""
    audit_record(action="route.status", obj=several_models, after={"status": "established"})
    client.force_login(admin_user)
    response = client.get(reverse("audit:log"))
    views = {view.entry.action: view.action_text for view in response.context["views"]}
    assert views["route.status"] == "Rutens status ændret"
    assert views["routes.vendor.create"] == "Leverandør oprettet"
    assert views["routes.user.change"] == "Bruger ændret"
    choices = dict(response.context["form"].fields["action"].choices)
    assert choices["route.status"] == "Rutens status ændret"
    assert "<code>route.status</code>" in response.content.decode()


def test_every_action_the_code_writes_has_words():
    """Rule: each fixed action name passed to audit_record in the portal's code is in
    ACTION_LABELS, so no new action reaches the page as a bare code."""
    written = set()
    for app in ("flisportal", "routes", "deliveries"):
        for path in (ROOT / app).rglob("*.py"):
            written.update(re.findall(r'action="([a-z_]+\.[a-z_.]+)"', path.read_text()))
    assert written, "no action found: the pattern no longer matches the code"
    assert sorted(written - set(ACTION_LABELS)) == []
