"""Notifikationer in a real browser at 1366×768, as a kommune consultant meets it: the events
of their kommuner with what each sends, an example subject and the three choices, the defaults
marked, and for a consultant of two kommuner a choice per kommune; a choice is saved and
shown again. The screenshot is the one in
docs/users/notifications.md.

Run it alone with `.venv/bin/pytest -m e2e tests/e2e/test_notifications_page.py`.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from flisportal.notifications.models import NotificationKommuneChoice, NotificationPreference
from tests import factories
from tests.helpers.browser import log_in, shot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "pw-konsulent-1234"


def test_consultant_chooses_which_events_reach_them(portal_url: str, page) -> None:
    consultant = factories.consultant(
        factories.kommune(factories.KBH),
        factories.kommune("147"),
        username="konsulent-kbh",
        first_name="Karin",
        last_name="Konsulent",
        email="karin.konsulent@kk.dk",
    )
    # runserver has the portal's hasher, not the tests' fast one.
    factories.portal_password(consultant, PASSWORD)
    log_in(page, portal_url, consultant.username, PASSWORD)
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
    # Two kommuner: each may differ from the general choice; every cell starts «som generelt».
    frb_rejected = page.get_by_label("Frederiksberg Kommune: afvist ved validering")
    expect(frb_rejected).to_have_value("")
    frb_rejected.select_option(label="daglig opsamling")
    page.click("button[type=submit]:has-text('Gem')")
    expect(page.get_by_text("Dit valg er gemt.")).to_be_visible()
    expect(fetched.get_by_label("Daglig opsamling")).to_be_checked()
    expect(frb_rejected).to_have_value("digest")
    preference = NotificationPreference.objects.get(user=consultant)
    assert (preference.fetched, preference.route_changed) == ("digest", "immediate")
    [own] = NotificationKommuneChoice.objects.filter(user=consultant)
    assert (own.kommune.code, own.event, own.choice) == ("147", "rejected", "digest")

    shot(page, "notifikationer")
