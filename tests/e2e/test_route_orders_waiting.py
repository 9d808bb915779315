"""Rutebestillinger, a route's page, the kommune's routes and the vendor overview in a real
browser at 1366×768, as an administrator: a route ordered 20 days ago shows since when and
«venter længe» in words, one ordered yesterday only since when.

The screenshot is the one in docs/users/onboarding.md (docs/screenshots/rutebestillinger.png).
Run it alone with `.venv/bin/pytest -m e2e tests/e2e/test_route_orders_waiting.py`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from flisportal.lib.periods import date_text, local_date
from routes import services
from routes.models import Endpoint, Route
from tests import factories
from tests.helpers.browser import log_in, shot
from tests.helpers.twofactor import authenticator

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "pw-e2e-flis-1234"


def order(days_ago: int, *, system, flis, kommune: str, area: str, admin) -> Route:
    """`system`'s route for `kommune` and `area` on exttest, ordered `days_ago` days ago."""
    with time_machine.travel(timezone.now() - timedelta(days=days_ago), tick=False):
        return services.route_order(
            kommune=factories.kommune(kommune),
            data_area=factories.data_area(area),
            sender_system=system,
            recipient_systems=[flis],
            endpoint=Endpoint.objects.get(slug="exttest"),
            actor=admin,
            order_reference=f"DK-{kommune}-{area}",
        )


def test_the_administrator_sees_how_long_orders_have_waited(portal_url: str, page) -> None:
    # runserver has the portal's hasher, not the tests' fast one.
    admin = factories.portal_password(factories.admin("admin-e2e"), PASSWORD)
    # Dates relative to now: the pages count the wait up to today.
    parties = {"system": factories.sender_system("A"), "flis": factories.flis_system()}
    long_wait = order(20, **parties, kommune=factories.KBH, area="personale", admin=admin)
    order(1, **parties, kommune=factories.AARHUS, area="skole", admin=admin)
    since = date_text(local_date(timezone.now() - timedelta(days=20)))
    log_in(page, portal_url, admin.username, PASSWORD, device=authenticator(admin))
    page.goto(f"{portal_url}/ruter/")
    rows = page.locator("table tbody tr")
    expect(rows.filter(has_text="København")).to_contain_text(
        f"siden {since} · i 20 dage · venter længe"
    )
    expect(rows.filter(has_text="Aarhus")).to_contain_text("i 1 dag")
    expect(rows.filter(has_text="Aarhus")).not_to_contain_text("venter længe")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    shot(page, "rutebestillinger", full_page=False)

    page.goto(f"{portal_url}{long_wait.get_absolute_url()}")
    expect(page.locator("dl")).to_contain_text(
        f"Venter på etablering siden {since} · i 20 dage · venter længe"
    )
    shot(page, "rute-venter", full_page=False)

    # The kommune's routes and the vendor overview say the same.
    page.goto(f"{portal_url}/ruter/kommune/101/")
    expect(page.locator("table").filter(has_text="exttest")).to_contain_text(
        f"siden {since} · i 20 dage · venter længe"
    )
    # The since-date wraps within its column: the table stays inside its card.
    card = page.locator(".card").filter(has_text="Personale").first
    assert page.evaluate(
        "card => card.querySelector('table').scrollWidth <= card.clientWidth",
        card.element_handle(),
    )
    shot(page, "kommune-ruter-venter", full_page=False)
    page.goto(f"{portal_url}/leverandoer/{parties['system'].vendor_id}/")
    expect(page.locator("body")).to_contain_text(f"siden {since} · i 20 dage · venter længe")
    shot(page, "leverandoer-venter")
