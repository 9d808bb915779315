"""An administrator's bulk work on routes in a real browser at 1366×768: a bulk order for five
kommuner is previewed (one skipped, those without a signed databehandleraftale warned about)
and confirmed; then four production routes are selected with «Vælg alle» and moved from
bestilt to etableret in one step, the two without an agreement left as they are, with the
reason. The screenshots are the ones in docs/users/route-orders.md.

Run it alone with `.venv/bin/pytest -m e2e tests/e2e/test_route_bulk.py`.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from routes.models import Kommune, Route, RouteEvent, RouteStatus
from tests import factories
from tests.helpers.browser import log_in, shot
from tests.helpers.twofactor import authenticator

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "pw-admin-bulk-2026"
ORDER_KOMMUNER = ("101", "147", "151", "153", "155")
ESTABLISH_KOMMUNER = ("157", "159", "161", "163")


def world() -> tuple:
    """Vendor A's system and FLIS; København already has an order for Personale on exttest;
    vendor A has signed agreements with København, Frederiksberg, Gentofte (157) and Gladsaxe
    (159); four production routes for Skole are ordered (Gentofte, Gladsaxe, Glostrup, Herlev),
    the last two without an agreement."""
    admin = factories.portal_password(factories.admin("admin-bulk"), PASSWORD)
    device = authenticator(admin)
    system = factories.sender_system("A")
    flis = factories.flis_system()
    vendor = system.vendor
    for code in ("101", "147", "157", "159"):
        factories.agreement(vendor, factories.kommune(code))
    factories.route(
        sender_system=system, kommune="101", endpoint="exttest", status="ordered", recipients=[flis]
    )
    for code in ESTABLISH_KOMMUNER:
        factories.route(
            sender_system=system,
            kommune=code,
            data_area="skole",
            endpoint="produktion",
            status=RouteStatus.ORDERED,
            order_reference=f"DK-2026-{code}",
            recipients=[flis],
        )
    return admin, device, system, flis


def test_bulk_order_preview_confirm_and_bulk_status_change(portal_url: str, page: Page) -> None:
    admin, device, system, flis = world()
    log_in(page, portal_url, admin.username, PASSWORD, device=device)

    # Bulk order: the form, then the preview.
    page.goto(f"{portal_url}/ruter/massebestilling/")
    page.select_option("#id_data_area", label="Personale")
    page.select_option("#id_sender_system", value=str(system.pk))
    page.check(f"input[name=recipient_systems][value='{flis.pk}']")
    page.select_option("#id_endpoint", label="Serviceplatformen – ekstern test")
    page.fill("#id_kommune_codes", ", ".join(ORDER_KOMMUNER))
    page.fill("#id_note", "Leverandør A tager fem kommuner i brug.")
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text("Massebestilling: gennemse og bekræft")
    expect(page.locator("body")).to_contain_text("4 oprettes")
    expect(page.locator("body")).to_contain_text("1 springes over")
    expect(page.locator("body")).to_contain_text("3 uden underskrevet databehandleraftale")
    shot(page, "samlet-bestilling")
    assert Route.objects.filter(data_area__code="personale").count() == 1
    page.click("button[name=confirm]")
    page.wait_for_url(f"{portal_url}/ruter/")
    expect(page.locator("body")).to_contain_text("4 ruter registreret, 1 sprunget over.")
    codes = Route.objects.filter(data_area__code="personale").values_list("kommune__code")
    assert sorted(c for (c,) in codes) == sorted(ORDER_KOMMUNER)

    # Bulk status change: production Skole routes, all selected, to etableret.
    page.click("text=Samlet statusskift")
    expect(page.locator("h1")).to_have_text("Samlet statusskift")
    page.select_option("#id_endpoint", label="Serviceplatformen – produktion")
    page.click("input[type=submit][value='Vis ruter']")
    expect(page.locator("input[name=routes]")).to_have_count(4)
    page.check("#select-all")
    shot(page, "samlet-statusskift-valg")
    page.select_option("#id_new_status", "established")
    page.fill("#id_note", "KOMBIT har oprettet ruterne i produktion.")
    page.click("input[type=submit][value='Forhåndsvis statusskiftet']")
    expect(page.locator("body")).to_contain_text("2 flyttes")
    expect(page.locator("body")).to_contain_text("2 bliver stående")
    expect(page.locator("body")).to_contain_text("Ruten kan ikke etableres i produktion")
    shot(page, "samlet-statusskift")
    page.click("button[name=confirm]")
    expect(page.locator("body")).to_contain_text("2 ruter flyttet til «etableret», 2 uændret.")
    established = Route.objects.filter(status=RouteStatus.ESTABLISHED, data_area__code="skole")
    assert sorted(r.kommune.code for r in established) == ["157", "159"]
    assert RouteEvent.objects.filter(note="KOMBIT har oprettet ruterne i produktion.").count() == 2
    assert Kommune.objects.get(code="161").routes.get().status == RouteStatus.ORDERED
