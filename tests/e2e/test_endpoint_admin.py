"""An administrator sets how many connections a file is pushed over, on an endpoint's admin page,
in a real browser at 1366×768: KOMBIT's production endpoint refuses anything but 1 with the
reason in Danish, another operator's server takes 2. The screenshot is the one in
docs/operations/deployment.md («Endpoint options»).

Run it alone with `.venv/bin/pytest -m e2e tests/e2e/test_endpoint_admin.py`.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from routes.models import Endpoint
from tests import factories
from tests.helpers.browser import ARTIFACTS, launch_chromium, start_manage, wait_for_http
from tests.helpers.net import free_port
from tests.helpers.processes import stop
from tests.helpers.twofactor import authenticator, code_of
from tests.helpers.workers import worker_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "pw-admin-endpoint-2026"
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs/screenshots/endpoint-forbindelser.png"


@pytest.fixture
def portal_url(clean_redis: None, redis_url: str) -> Iterator[str]:
    """The portal as `runserver` on the test database (DEBUG serves the static files)."""
    port = free_port()
    env = {**worker_env(redis_url), "DEBUG": "true"}
    server = start_manage(["runserver", f"127.0.0.1:{port}", "--noreload"], env, log=None)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/konto/login/", server)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(server, timeout=10)


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:
    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are
    # synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context(locale="da-DK", viewport={"width": 1366, "height": 768})
        yield context.new_page()
        browser.close()


def log_in(page: Page, url: str) -> None:
    admin = factories.portal_password(factories.admin("admin-endpoint"), PASSWORD)
    device = authenticator(admin)
    page.goto(f"{url}/konto/login/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/konto/2fa/kode/.*"))
    page.fill("input[name=token]", code_of(device))
    page.click("#code-submit")
    page.wait_for_url(re.compile(r".*/$"))


def test_parallel_connections_refused_for_kombit_and_taken_for_another_server(
    portal_url: str, page: Page
) -> None:
    log_in(page, portal_url)
    produktion = Endpoint.objects.get(slug="produktion")

    page.goto(f"{portal_url}/admin/routes/endpoint/{produktion.pk}/change/")
    field = page.locator("#id_parallel_connections")
    expect(field).to_have_value("1")
    expect(page.locator("body")).to_contain_text("KOMBIT har ikke givet lov på Serviceplatformen")
    field.fill("2")
    page.click("input[name=_continue]")
    expect(page.locator(".errorlist")).to_contain_text(
        "KOMBIT har ikke givet lov til at sende én fil over flere forbindelser"
    )
    # The error, the field and its help text in the middle of the screen, not under its edge.
    page.locator("#id_parallel_connections").evaluate("f => f.scrollIntoView({block: 'center'})")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "endpoint-forbindelser.png"
    page.screenshot(path=str(shot))
    produktion.refresh_from_db()
    assert produktion.parallel_connections == 1

    own = Endpoint.objects.create(slug="egen", name="Egen SFTP-server", host="sftp.example.org")
    page.goto(f"{portal_url}/admin/routes/endpoint/{own.pk}/change/")
    page.fill("#id_parallel_connections", "2")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_be_visible()
    own.refresh_from_db()
    assert own.parallel_connections == 2

    DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, DOCS_SCREENSHOT)
