"""The upload page in a real browser: the script posts with progress, redirects to the new
delivery on success, and keeps a refusal on screen; a long list of routes gets a filter box."""

from __future__ import annotations

import pytest

from deliveries.models import Delivery
from tests import factories
from tests.factories import dagtilbud_csv, portal_password
from tests.helpers.browser import launch_chromium, start_manage, wait_for_http
from tests.helpers.net import free_port
from tests.helpers.processes import stop
from tests.helpers.workers import worker_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def portal_url(clean_redis, redis_url, private_media):
    """The portal served by `runserver` in its own process, on the test database (like the
    worker processes), on a free loopback port; stopped after the test."""
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
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser.new_page(locale="da-DK")
        browser.close()


def _fill(page, url, route, extract):
    page.goto(f"{url}/leverancer/upload/")
    page.select_option("select[name=route]", str(route.pk))
    page.fill("input[name=period]", "2026-10")
    page.set_input_files("input[type=file]", str(extract))
    page.click("#upload-submit")


def test_upload_redirects_and_a_refusal_stays_on_screen(
    portal_url, page, vendor_a_user, upload_route, tmp_path
):
    portal_password(vendor_a_user, "pw-vendor-a-1234")
    page.goto(f"{portal_url}/konto/login/")
    page.fill("input[name=username]", "vendor-a")
    page.fill("input[name=password]", "pw-vendor-a-1234")
    page.click("button[type=submit]")
    page.wait_for_url(f"{portal_url}/")

    extract = tmp_path / "udtraek.csv"
    extract.write_text(dagtilbud_csv(rows_ok=20), encoding="utf-8")
    _fill(page, portal_url, upload_route, extract)
    page.wait_for_url(f"{portal_url}/leverancer/*-*/", timeout=15_000)
    delivery = Delivery.objects.get()
    assert page.url.endswith(f"/leverancer/{delivery.uuid}/")
    assert delivery.original_filename == "udtraek.csv"

    # The same bytes again without confirming: refused, and the message stays on screen.
    _fill(page, portal_url, upload_route, extract)
    errors = page.locator("#upload-errors")
    errors.wait_for(state="visible", timeout=15_000)
    page.wait_for_timeout(500)
    assert errors.is_visible()
    assert "præcis den samme fil blev uploadet" in errors.inner_text()
    # With a link to what was delivered before, added by the script from the JSON answer.
    earlier = page.locator("#upload-earlier")
    assert earlier.get_attribute("href") == f"/leverancer/{delivery.uuid}/"
    assert page.url == f"{portal_url}/leverancer/upload/"
    assert Delivery.objects.count() == 1


def test_a_long_route_list_can_be_filtered_by_words(
    portal_url, page, vendor_a_user, vendor_a, system_a, upload_route
):
    # Three kommuner × five areas: more routes than are read at a glance.
    for code in (factories.KBH, factories.AARHUS, "461"):
        kommune = factories.kommune(code)
        if code != factories.KBH:
            factories.agreement(vendor_a, kommune)
        for area in ("dagtilbud", "skole", "personale", "oekonomi", "voksne_handicappede"):
            if not (code == factories.KBH and area == "dagtilbud"):  # upload_route is that one
                factories.route(sender_system=system_a, kommune=kommune, data_area=area)
    portal_password(vendor_a_user, "pw-vendor-a-1234")
    page.goto(f"{portal_url}/konto/login/")
    page.fill("input[name=username]", "vendor-a")
    page.fill("input[name=password]", "pw-vendor-a-1234")
    page.click("button[type=submit]")
    page.wait_for_url(f"{portal_url}/")
    page.goto(f"{portal_url}/leverancer/upload/")

    page.fill("#route-filter", "aarhus skole")

    shown = page.locator("#id_route option:not([hidden])").all_inner_texts()
    assert [text for text in shown if "·" in text] == [
        f"Skole · {system_a} · Lokal stand-in (udvikling og test)"
    ]
    page.fill("#route-filter", "ingenting")
    assert page.get_by_text("Ingen ruter passer til søgningen.").is_visible()
