"""Long values wrap: a 255-character file name without spaces (the longest a file system
allows) must not make the delivery page wider than a 1366-pixel laptop screen. In Chromium,
with the portal's own CSS."""

from __future__ import annotations

import pytest

from deliveries.lifecycle.states import DeliveryStatus
from tests import factories
from tests.factories import portal_password
from tests.helpers.browser import launch_chromium, start_manage, wait_for_http
from tests.helpers.net import free_port
from tests.helpers.processes import stop
from tests.helpers.workers import worker_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

LONG_NAME = "u" * 251 + ".csv"
WIDTH = 1366


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
        yield browser.new_page(locale="da-DK", viewport={"width": WIDTH, "height": 900})
        browser.close()


def test_a_255_character_file_name_wraps_on_the_delivery_page(
    portal_url, page, vendor_a_user, upload_route
):
    assert len(LONG_NAME) == 255
    delivery = factories.delivery(
        upload_route,
        status=DeliveryStatus.REJECTED,
        original_filename=LONG_NAME,
        uploaded_by=vendor_a_user,
    )
    portal_password(vendor_a_user, "pw-vendor-a-1234")
    page.goto(f"{portal_url}/konto/login/")
    page.fill("input[name=username]", vendor_a_user.username)
    page.fill("input[name=password]", "pw-vendor-a-1234")
    page.click("button[type=submit]")
    page.wait_for_url(f"{portal_url}/")

    page.goto(f"{portal_url}/leverancer/{delivery.uuid}/")
    assert page.get_by_text(LONG_NAME).count() == 1  # shown whole, not cut
    for path in (f"/leverancer/{delivery.uuid}/", "/leverancer/"):
        page.goto(f"{portal_url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTH, f"{path} is {width} px wide at a {WIDTH} px screen"
