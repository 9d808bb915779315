"""The upload page in a real browser at 1366×768, as a vendor's staff member meets it: the route
list starts with «Vælg rute», never Django's «---------», and reads as kommune groups below it.

Run it alone with `.venv/bin/pytest -m e2e tests/e2e/test_upload_page.py`.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.helpers.browser import log_in, shot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "pw-vendor-a-1234"


def test_the_route_list_says_what_to_do_before_a_route_is_chosen(portal_url: str, page) -> None:
    """Rule: the select's empty first option, shown before anything is chosen, is «Vælg rute»."""
    system = factories.sender_system("A")
    assert system.vendor is not None
    for code in (factories.KBH, factories.AARHUS):
        kommune = factories.kommune(code)
        factories.agreement(system.vendor, kommune)
        factories.route(sender_system=system, kommune=kommune, data_area="dagtilbud")
    user = factories.vendor_staff(system.vendor, "leverandoer-a")
    factories.portal_password(user, PASSWORD)  # runserver has the portal's hasher
    log_in(page, portal_url, user.username, PASSWORD)

    page.goto(f"{portal_url}/leverancer/upload/")
    route = page.locator("select#id_route")
    expect(route).to_be_visible()
    # What the closed select shows: the chosen option's text.
    assert route.evaluate("s => s.options[s.selectedIndex].text") == "Vælg rute"
    assert route.evaluate("s => s.options[s.selectedIndex].value") == ""
    expect(route.locator("optgroup")).to_have_count(2)
    assert "---------" not in page.content()
    shot(page, "upload-page-route-choice", full_page=False)
