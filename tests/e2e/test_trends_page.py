"""Udvikling in a real browser at 1366×768: the København consultant, who works for four
kommuner with three vendors' routes, opens the page from the menu and sees a year of periods
as charts, opens the numbers under a chart, and switches to 24 months. The charts draw without
a Content-Security-Policy complaint. The screenshot (test-artifacts/udvikling.png) is the one
in docs/users/trends.md (docs/screenshots/udvikling.png, copied by hand).

The portal runs in another process on the real clock, so the year of data is made relative to
now (the periods ending with the one being collected).

Run it alone with `.venv/bin/pytest -m e2e tests/e2e/test_trends_page.py`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ValidationIssue
from deliveries.services.expected import expected_deadlines
from deliveries.services.rule_failures import rule_failures_add
from flisportal.front.trends import trend_periods
from routes.models import ITSystem, Route, Vendor
from tests import factories
from tests.helpers.browser import Portal, csp_complaints, log_in, shot
from tests.helpers.e2e import PASSWORD, E2EWorld, make_e2e_world
from tests.helpers.twofactor import authenticator

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

KOMMUNER = (factories.KBH, "147", "151", "153")
# Each vendor delivers one data area for all four kommuner; vendor C is often late.
AREAS = {"A": "dagtilbud", "B": "skole", "C": "personale"}
# Broken rules per vendor: (column, rule) of the listed errors; a rejected file breaks the first
# one, two or three of its vendor's.
BROKEN = {
    "A": [("kommunekode", "pattern"), ("cpr_barn", "pattern"), ("", "header")],
    "B": [("periode", "pattern")],
    "C": [("kommunekode", "required"), ("periode", "pattern")],
}


def outcome(vendor: str, n: int) -> str:
    """A fixed mix per vendor: A mostly on time, B with rejections, C often late or missing."""
    mix = {
        "A": "oooooooolor",
        "B": "ooooorooooloor",
        "C": "oollmolloorlm",
    }[vendor]
    return mix[n % len(mix)]


def a_year_of_periods(world: E2EWorld) -> None:
    kommuner = [factories.kommune(code) for code in KOMMUNER]
    world.consultant.kommuner.add(*kommuner)
    vendor_c = Vendor.objects.create(name="Leverandør C", cvr="12345674")
    systems = {
        "A": world.route.sender_system,
        "B": world.other_delivery.it_system,
        "C": ITSystem.objects.create(
            name="System C", uuid=uuid.uuid4(), vendor=vendor_c, is_sender=True
        ),
    }
    now = timezone.now()
    for letter, area in AREAS.items():
        for k, kommune in enumerate(kommuner):
            route = (
                world.route
                if (letter, kommune.code) == ("A", factories.KBH)
                else factories.route(sender_system=systems[letter], kommune=kommune, data_area=area)
            )
            for n, period in enumerate(trend_periods(12)):
                _one_period(
                    route, period, outcome(letter, n + k), BROKEN[letter][: 1 + n % 3], now=now
                )


def _one_period(
    route: Route, period: str, kind: str, broken: list[tuple[str, str]], *, now
) -> None:
    due_at, _overdue_at = expected_deadlines(route=route, period=period)
    if kind == "r":
        delivery = factories.delivery(route, status=DeliveryStatus.REJECTED, period=period)
        ValidationIssue.objects.bulk_create(
            ValidationIssue(delivery=delivery, position=i, column=c, rule=r, message="fejl")
            for i, (c, r) in enumerate(broken)
        )
        # Counted in the failed-rules roll-up the page reads, as validation counts it.
        rule_failures_add(delivery=delivery, rules=broken)
    met_at = {"o": due_at - timedelta(days=3), "l": due_at + timedelta(days=4)}.get(kind)
    if met_at is not None and met_at >= now:
        met_at = None  # not yet: the period is still open
    factories.expected(route, period, met_at=met_at)


def test_consultant_sees_a_year_of_periods_as_charts(
    portal: Portal, e2e_world: E2EWorld, browser
) -> None:
    context = browser.new_context(locale="da-DK", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    csp_errors = csp_complaints(page)
    log_in(page, portal.url, e2e_world.consultant.username, PASSWORD)

    page.get_by_role("link", name="Udvikling", exact=True).click()
    expect(page.locator("h1")).to_have_text("Udvikling: leverancer måned for måned")
    months = page.locator("svg#trend-months")
    expect(months).to_be_visible()
    expect(page.get_by_role("img", name="Forventede leverancer pr. måned")).to_be_visible()
    # The charts and the menu fit the window: no sideways scrolling at 1366 pixels, and the
    # menu on one line.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    bar = page.locator("nav.navbar").bounding_box()
    assert bar is not None and bar["height"] < 70
    expect(page.locator("svg#trend-leverandoerer text", has_text="Leverandør C")).to_have_count(1)
    expect(page.locator("h3", has_text="Leverandør A")).to_be_visible()
    shot(page, "udvikling")

    # The numbers are one click away.
    section = page.locator("section", has=page.locator("#maaneder-heading"))
    section.get_by_text("Vis tallene").click()
    expect(section.locator("table tbody tr")).to_have_count(12)
    page.get_by_label("Periode", exact=True).select_option("24")
    page.get_by_role("button", name="Filtrér").click()
    expect(page.locator("#id_months")).to_have_value("24")
    section.get_by_text("Vis tallene").click()
    expect(section.locator("table tbody tr")).to_have_count(24)
    assert csp_errors == [], "\n".join(csp_errors)
    context.close()
    administrator_menu_fits(portal, browser)


def administrator_menu_fits(portal: Portal, browser) -> None:
    """The administrators' menu, the fullest, still holds Udvikling on one line at 1366 px."""
    admin = factories.admin("anne-admin")
    admin.first_name, admin.last_name = "Anne", "Administrator"  # the demo's, on the button
    admin.save()
    factories.portal_password(admin, PASSWORD)
    device = authenticator(admin)
    context = browser.new_context(locale="da-DK", viewport={"width": 1366, "height": 768})
    page = context.new_page()
    log_in(page, portal.url, admin.username, PASSWORD, device=device)
    page.get_by_role("link", name="Udvikling", exact=True).click()
    expect(page.locator("h1")).to_have_text("Udvikling: leverancer måned for måned")
    bar = page.locator("nav.navbar").bounding_box()
    assert bar is not None and bar["height"] < 70  # one line, not wrapped
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    shot(page, "udvikling-administrator")
    context.close()


@pytest.fixture
def e2e_world(
    transactional_db: None, django_db_serialized_rollback: None, private_media: Path
) -> E2EWorld:
    """The flow test's world (tests/helpers/e2e.py) with a year of periods, made before the
    portal's processes start (their cron scan makes this month's rows too)."""
    world = make_e2e_world()
    a_year_of_periods(world)
    return world
