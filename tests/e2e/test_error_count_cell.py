"""The «Fejl» column in a real browser at 1366×768, as vendor staff see it: on the start page's
«Kræver handling» and on Leverancer a delivery the Serviceplatform refused shows «–», whose
tooltip says where the reason is and which a screen reader reads as that text; a validation
rejection shows its number. Screenshots go to test-artifacts/ (fejl-forside.png,
fejl-leverancer.png)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from deliveries.lifecycle.states import DeliveryStatus
from tests import factories
from tests.factories import portal_password
from tests.helpers.browser import log_in, shot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "pw-fejl-e2e-2026"
NOTE = "Ikke stoppet af fejl i rækkerne – årsagen står på leverancens side"


def test_a_vendor_sees_a_dash_with_its_reason_beside_a_refused_delivery(
    portal_url, page, vendor_a_user, upload_route
):
    factories.delivery(upload_route, status=DeliveryStatus.REJECTED, error_count=3)
    factories.delivery(upload_route, status=DeliveryStatus.REFUSED, push_attempts=1)
    portal_password(vendor_a_user, PASSWORD)
    log_in(page, portal_url, vendor_a_user.username, PASSWORD)
    page.wait_for_url(f"{portal_url}/")

    for where, table in (("forside", "#problems-heading ~ div table"), ("leverancer", "table")):
        if where == "leverancer":
            page.goto(f"{portal_url}/leverancer/")
        rows = page.locator(f"{table} tbody tr")
        expect(rows).to_have_count(2)
        # Newest first: the refused one, then the rejection with its three errors.
        dash = rows.nth(0).get_by_text("–", exact=True)
        expect(dash).to_be_visible()
        expect(dash).to_have_attribute("title", NOTE)
        expect(rows.nth(0).get_by_role("cell", name=NOTE, exact=True)).to_have_count(1)
        expect(rows.nth(1).get_by_role("cell", name="3", exact=True)).to_have_count(1)
        dash.hover()
        shot(page, f"fejl-{where}", full_page=False)
