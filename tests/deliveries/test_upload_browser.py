"""The upload page in a real browser: the script posts with progress, redirects to the new
delivery on success, and keeps a refusal on screen."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from deliveries.models import Delivery
from tests.conftest import ROOT, dagtilbud_csv, free_port, portal_password, worker_env

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
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=worker_env(redis_url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{url}/konto/login/", timeout=1)  # noqa: S310
            break
        except OSError:
            time.sleep(0.1)
    else:
        server.kill()
        pytest.fail("runserver did not start")
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: `make test` installs it (apt-get).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser.new_page(locale="da-DK")
        browser.close()


def _fill(page, url, route, extract):
    page.goto(f"{url}/leverancer/upload/")
    page.select_option("select[name=data_area]", str(route.data_area_id))
    page.select_option("select[name=kommune]", str(route.kommune_id))
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
    assert "allerede leveret" in errors.inner_text()
    assert page.url == f"{portal_url}/leverancer/upload/"
    assert Delivery.objects.count() == 1
