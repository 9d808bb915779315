"""The admin's index in a real browser, as an administrator meets it after logging in with
password and authenticator code: django-axes and django-rq under their Danish names
(flisportal/apps.py, flisportal/locale/da/), and django-rq's row still opening its dashboard.
The screenshot goes to test-artifacts/admin-index.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.helpers.browser import Portal, log_in, shot
from tests.helpers.e2e import PASSWORD, E2EWorld
from tests.helpers.twofactor import authenticator

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def test_admin_index_shows_third_party_apps_in_danish(
    portal: Portal, e2e_world: E2EWorld, browser
) -> None:
    user = factories.admin("navne-admin")
    factories.portal_password(user, PASSWORD)
    device = authenticator(user)
    context = browser.new_context(locale="da-DK", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(30_000)
    log_in(page, portal.url, user.username, PASSWORD, device=device)

    page.goto(f"{portal.url}/admin/")
    content = page.locator("#content-main")
    for heading in ("Loginspærring", "Jobkøer"):
        expect(content.get_by_role("link", name=heading, exact=True)).to_be_visible()
    for row in ("Loginforsøg", "Fejlede logins", "Adgangslog", "Django-RQ"):
        expect(content.get_by_role("link", name=row, exact=True)).to_be_visible()
    text = content.inner_text()
    for english in ("Axes", "Django_Rq", "Access attempts", "Access failures", "Access logs"):
        assert english not in text
    shot(page, "admin-index")

    # django-rq's row opens its dashboard (the admin's own URL for it), not a 404.
    with page.expect_navigation() as opened:
        content.get_by_role("link", name="Django-RQ", exact=True).click()
    assert opened.value is not None and opened.value.status == 200, page.url
    assert "/admin/django_rq/dashboard/" in page.url
    context.close()
