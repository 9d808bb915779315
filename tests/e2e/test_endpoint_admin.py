"""An administrator sets how many connections a file is pushed over, on an endpoint's admin page,
in a real browser at 1366×768: KOMBIT's production endpoint refuses anything but 1 with the
reason in Danish, another operator's server takes 2. The screenshot is the one in
docs/operations/deployment.md («Endpoint options»).

Run it alone with `.venv/bin/pytest -m e2e tests/e2e/test_endpoint_admin.py`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from routes.models import Endpoint
from tests import factories
from tests.helpers.browser import log_in, shot
from tests.helpers.twofactor import authenticator

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "pw-admin-endpoint-2026"
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs/screenshots/endpoint-forbindelser.png"


def log_in_administrator(page: Page, url: str) -> None:
    admin = factories.portal_password(factories.admin("admin-endpoint"), PASSWORD)
    log_in(page, url, admin.username, PASSWORD, device=authenticator(admin))


def test_parallel_connections_refused_for_kombit_and_taken_for_another_server(
    portal_url: str, page: Page
) -> None:
    log_in_administrator(page, portal_url)
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
    screen = shot(page, "endpoint-forbindelser", full_page=False)
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
    shutil.copyfile(screen, DOCS_SCREENSHOT)
