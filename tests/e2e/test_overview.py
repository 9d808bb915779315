"""Dækning's overview in Chromium at 1366×768: an administrator sees all 98 kommuner (the data
migration's) on one screen without scrolling, every row inside the viewport; the search
filters the overview as one types; a cell leads to the kommune's own page, whose strip and open
problems show. Screenshots go to test-artifacts/ (overblik.png, kommune.png; copies in
docs/screenshots/)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import Page, expect

from routes.models import Kommune
from tests import factories
from tests.helpers.browser import ARTIFACTS, launch_chromium, start_manage, wait_for_http
from tests.helpers.country import varied_country
from tests.helpers.net import free_port
from tests.helpers.processes import stop
from tests.helpers.workers import worker_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTH, HEIGHT = 1366, 768


@pytest.fixture
def portal_url(clean_redis, redis_url, private_media):
    port = free_port()
    server = start_manage(
        ["runserver", f"127.0.0.1:{port}", "--noreload"], worker_env(redis_url), log=None
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/konto/login/", server)
        yield url
    finally:
        stop(server, timeout=10)


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls stay synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser.new_page(locale="da-DK", viewport={"width": WIDTH, "height": HEIGHT})
        browser.close()


def login(page: Page, url: str, user) -> None:
    """The browser takes over a test client's session: administrators always need a second
    factor, and the suite's `force_login` passes it (tests/fixtures/twofactor.py); the login
    page and the second factor are driven in tests/twofactor/test_browser.py."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}])
    page.goto(f"{url}/")
    expect(page.locator("h1")).to_contain_text("Forside")


def shot(page: Page, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def test_all_98_kommuner_fit_one_laptop_screen(portal_url, page):
    assert Kommune.objects.count() == 98
    varied_country(months=12)
    login(page, portal_url, factories.admin("overblik"))

    page.goto(f"{portal_url}/daekning/")
    rows = page.locator("#overview tr[data-kommune]")
    expect(rows).to_have_count(98)
    boxes = [rows.nth(i).bounding_box() for i in range(98)]
    outside = [
        rows.nth(i).get_attribute("data-kommune")
        for i, box in enumerate(boxes)
        if box is None
        or box["y"] < 0
        or box["y"] + box["height"] > HEIGHT
        or box["x"] < 0
        or box["x"] + box["width"] > WIDTH
    ]
    assert outside == [], f"outside the {WIDTH}×{HEIGHT} viewport without scrolling"
    assert page.evaluate("window.scrollY") == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    shot(page, "overblik")

    # Typing filters the overview at once (the static script; the GET form without it).
    page.fill("#id_search", "aarhus")
    expect(page.locator("#overview tr[data-kommune]:visible")).to_have_count(1)
    cell = page.locator('#overview a[aria-label^="Aarhus · Skole:"]')
    expect(cell).to_have_count(1)
    cell.click()
    expect(page.locator("h1")).to_have_text("Aarhus Kommune")
    expect(page.locator(".strip-table tbody tr")).to_have_count(5)
    expect(page.locator(".strip-table tbody .ov")).to_have_count(5 * 12)
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    shot(page, "kommune", full_page=True)
