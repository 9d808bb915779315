"""Dækning's overview in Chromium at 1366×768: an administrator sees all 98 kommuner (the data
migration's) on one screen without scrolling, every row inside the viewport; the search
filters the overview as one types; a cell leads to the kommune's own page, whose strip and open
problems show. Screenshots go to test-artifacts/ (overblik.png, kommune.png; copies in
docs/screenshots/)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from routes.models import Kommune
from tests import factories
from tests.helpers.browser import log_in, shot
from tests.helpers.country import varied_country
from tests.helpers.twofactor import authenticator

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTH, HEIGHT = 1366, 768  # the `page` fixture's viewport
PASSWORD = "pw-overblik-e2e-2026"


def test_all_98_kommuner_fit_one_laptop_screen(portal_url, page):
    assert Kommune.objects.count() == 98
    varied_country(months=12)
    admin = factories.portal_password(factories.admin("overblik"), PASSWORD)
    log_in(page, portal_url, admin.username, PASSWORD, device=authenticator(admin))

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
    shot(page, "overblik", full_page=False)

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
