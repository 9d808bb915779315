"""Loading a contract version in the admin, in a real browser: a version whose pattern the
row screen cannot compile is loaded all the same, and the administrator is told that its
files will be checked the slower exact way (deliveries/admin.py, deliveries/screen.py). The
screenshot goes to test-artifacts/contract-load-warning.png.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from deliveries.models import DataContract
from tests import factories
from tests.helpers.browser import Portal, log_in, shot
from tests.helpers.e2e import PASSWORD, E2EWorld
from tests.helpers.twofactor import authenticator

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def test_a_version_without_the_row_screen_is_loaded_with_a_warning(
    portal: Portal, e2e_world: E2EWorld, browser, tmp_path
) -> None:
    user = factories.admin("kontrakt-admin")
    factories.portal_password(user, PASSWORD)
    device = authenticator(user)
    document = factories.contract_the_screen_declines("2099.9")
    upload = tmp_path / "kontrakt.json"
    upload.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    context = browser.new_context(locale="da-DK", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(30_000)
    log_in(page, portal.url, user.username, PASSWORD, device=device)
    page.goto(f"{portal.url}/admin/deliveries/datacontract/load/")
    page.locator("input[type=file]").set_input_files(str(upload))
    page.get_by_role("button", name="Indlæs", exact=True).click()

    messages = page.locator("ul.messagelist")
    expect(messages).to_contain_text("er indlæst")
    expect(messages.locator("li.warning")).to_contain_text("uden rækkefilteret")
    expect(messages.locator("li.warning")).to_contain_text("Resultatet er det samme")
    shot(page, "contract-load-warning")
    assert DataContract.objects.filter(version="2099.9").exists()
    context.close()
