"""Hjælp in a real browser at 1366×768: a vendor follows the «?» beside a rejected delivery's
badge on the start page to its entry on the help page; the page fits the screen, and with the
menu's new entry an administrator's menu still fits on one line. The screenshot of the help
page goes to test-artifacts/hjaelp.png (copied to docs/screenshots/ for docs/users/help.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from deliveries.lifecycle.states import DeliveryStatus
from tests import factories
from tests.factories import portal_password
from tests.helpers.browser import ARTIFACTS, start_manage, wait_for_http
from tests.helpers.net import free_port
from tests.helpers.processes import stop
from tests.helpers.twofactor import authenticator, code_of
from tests.helpers.workers import worker_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTH, HEIGHT = 1366, 768
PASSWORD = "pw-hjaelp-e2e-2026"


@pytest.fixture
def portal_url(clean_redis, redis_url, private_media) -> Iterator[str]:
    """The web server alone: the help page needs no worker, cron or stand-in."""
    env = worker_env(redis_url)
    env["DEBUG"] = "true"  # runserver serves the static files (the CSS of the «?» links)
    port = free_port()
    server = start_manage(["runserver", f"127.0.0.1:{port}", "--noreload"], env, log=None)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/konto/login/", server)
        yield url
    finally:
        stop(server, timeout=10)


def new_page(browser) -> Page:
    page = browser.new_page(locale="da-DK", viewport={"width": WIDTH, "height": HEIGHT})
    page.set_default_timeout(30_000)
    return page


def log_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/konto/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_a_vendor_follows_a_badges_help_link_to_its_entry(
    portal_url, browser, vendor_a_user, upload_route
):
    factories.delivery(upload_route, status=DeliveryStatus.REJECTED, uploaded_by=vendor_a_user)
    portal_password(vendor_a_user, PASSWORD)
    page = new_page(browser)
    log_in(page, portal_url, vendor_a_user.username)
    page.wait_for_url(f"{portal_url}/")

    # Kræver handling: the rejected delivery's badge, and beside it its «?».
    link = page.get_by_role("link", name="Hjælp: hvad betyder «afvist»?")
    expect(link).to_have_count(1)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hjaelp-forside.png"))
    link.click()
    page.wait_for_url(re.compile(r".*/hjaelp/#status-afvist$"))
    entry = page.locator("#status-afvist")
    expect(entry).to_be_in_viewport()
    expect(entry).to_contain_text("Upload rettet fil")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTH, f"the help page is {width} px wide at a {WIDTH} px screen"

    page.goto(f"{portal_url}/hjaelp/")
    expect(page.locator("h1")).to_have_text("Hjælp")
    page.screenshot(path=str(ARTIFACTS / "hjaelp.png"))
    # The whole page too, to read every section as a user would.
    page.screenshot(path=str(ARTIFACTS / "hjaelp-hele.png"), full_page=True)


def test_an_administrators_menu_with_hjaelp_fits_on_one_line(portal_url, browser, admin_user):
    portal_password(admin_user, PASSWORD)
    device = authenticator(admin_user)
    page = new_page(browser)
    log_in(page, portal_url, admin_user.username)
    page.wait_for_url(re.compile(r".*/konto/2fa/kode/.*"))
    page.fill("input[name=token]", code_of(device))
    page.click("#code-submit")
    page.wait_for_url(f"{portal_url}/")

    menu = page.locator("#hovedmenu")
    help_entry = menu.get_by_role("link", name="Hjælp", exact=True)
    first_entry = menu.get_by_role("link", name="Forside", exact=True)
    # One line: the last entry sits at the height of the first.
    assert abs(help_entry.bounding_box()["y"] - first_entry.bounding_box()["y"]) < 5
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hjaelp-menu.png"))
