"""Hjælp in a real browser at 1366×768: a vendor follows the «?» beside a rejected delivery's
badge on the start page to its entry on the help page; the page fits the screen, and with the
menu's new entry an administrator's menu still fits on one line. The screenshot of the help
page goes to test-artifacts/hjaelp.png (copied to docs/screenshots/ for docs/users/help.md)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from deliveries.lifecycle.states import DeliveryStatus
from tests import factories
from tests.factories import portal_password
from tests.helpers.browser import log_in, shot
from tests.helpers.twofactor import authenticator

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTH = 1366  # the `page` fixture's viewport
PASSWORD = "pw-hjaelp-e2e-2026"


def test_a_vendor_follows_a_badges_help_link_to_its_entry(
    portal_url, page, vendor_a_user, upload_route
):
    factories.delivery(upload_route, status=DeliveryStatus.REJECTED, uploaded_by=vendor_a_user)
    portal_password(vendor_a_user, PASSWORD)
    log_in(page, portal_url, vendor_a_user.username, PASSWORD)
    page.wait_for_url(f"{portal_url}/")

    # Kræver handling: the rejected delivery's badge, and beside it its «?».
    link = page.get_by_role("link", name="Hjælp: hvad betyder «afvist»?")
    expect(link).to_have_count(1)
    shot(page, "hjaelp-forside", full_page=False)
    link.click()
    page.wait_for_url(re.compile(r".*/hjaelp/#status-afvist$"))
    entry = page.locator("#status-afvist")
    expect(entry).to_be_in_viewport()
    expect(entry).to_contain_text("Upload rettet fil")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"the help page is {width} px wide at a {WIDTH} px screen"

    page.goto(f"{portal_url}/hjaelp/")
    expect(page.locator("h1")).to_have_text("Hjælp")
    shot(page, "hjaelp", full_page=False)
    # The whole page too, to read every section as a user would.
    shot(page, "hjaelp-hele")


def test_an_administrators_menu_with_hjaelp_fits_on_one_line(portal_url, page, admin_user):
    portal_password(admin_user, PASSWORD)
    log_in(page, portal_url, admin_user.username, PASSWORD, device=authenticator(admin_user))
    page.wait_for_url(f"{portal_url}/")

    menu = page.locator("#hovedmenu")
    help_entry = menu.get_by_role("link", name="Hjælp", exact=True)
    first_entry = menu.get_by_role("link", name="Forside", exact=True)
    # One line: the last entry sits at the height of the first.
    assert abs(help_entry.bounding_box()["y"] - first_entry.bounding_box()["y"]) < 5
    shot(page, "hjaelp-menu", full_page=False)
