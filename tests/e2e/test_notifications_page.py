"""Notifikationer in a real browser at 1366×768, as a kommune consultant meets it: the events
of their kommuner with what each sends, an example subject and the three choices, the defaults
marked; a choice is saved and shown again. The screenshot is the one in
docs/users/notifications.md.

Run it alone with `.venv/bin/pytest -m e2e tests/e2e/test_notifications_page.py`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from flisportal.notifications.models import NotificationPreference
from tests import factories
from tests.helpers.browser import ARTIFACTS
from tests.helpers.liveportal import portal_in_thread

pytestmark = [pytest.mark.e2e]

PASSWORD = "pw-konsulent-1234"


@pytest.fixture
def portal_url(transactional_db: None, django_db_serialized_rollback: None) -> Iterator[str]:
    # The page needs no worker: the portal in a thread of this process is enough.
    with portal_in_thread() as url:
        yield url


def test_consultant_chooses_which_events_reach_them(portal_url: str, browser) -> None:
    consultant = factories.consultant(
        factories.kommune(factories.KBH),
        factories.kommune("147"),
        username="konsulent-kbh",
        password=PASSWORD,
        first_name="Karin",
        last_name="Konsulent",
        email="karin.konsulent@kk.dk",
    )
    context = browser.new_context(locale="da-DK", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{portal_url}/konto/login/")
    page.fill("#id_username", consultant.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]:has-text('Log ind')")
    expect(page.locator("h1")).to_contain_text("Forside")

    page.goto(f"{portal_url}/konto/notifikationer/")
    expect(page.locator("h2")).to_contain_text("Hvad du får besked om for dine kommuner")
    kommuner = page.get_by_text("Dine valg gælder for: Frederiksberg Kommune, Københavns Kommune.")
    expect(kommuner).to_be_visible()
    # The defaults are what is checked before any choice.
    rejected = page.get_by_role("radiogroup", name="Afvist ved validering")
    expect(rejected.get_by_label("Straks")).to_be_checked()
    fetched = page.get_by_role("radiogroup", name="Hentet af modtageren")
    expect(fetched.get_by_label("Ingen mail")).to_be_checked()
    # Nothing runs off the screen sideways at 1366 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366

    fetched.get_by_label("Daglig opsamling").check()
    page.get_by_role("radiogroup", name="Ruteændringer").get_by_label("Straks").check()
    page.click("button[type=submit]:has-text('Gem')")
    expect(page.get_by_text("Dit valg er gemt.")).to_be_visible()
    expect(fetched.get_by_label("Daglig opsamling")).to_be_checked()
    preference = NotificationPreference.objects.get(user=consultant)
    assert (preference.fetched, preference.route_changed) == ("digest", "immediate")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notifikationer.png"), full_page=True)
    context.close()
