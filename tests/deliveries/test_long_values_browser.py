"""Long values wrap: a 255-character file name without spaces (the longest a file system
allows) must not make the delivery page wider than a 1366-pixel laptop screen. In Chromium,
with the portal's own CSS."""

from __future__ import annotations

import pytest

from deliveries.lifecycle.states import DeliveryStatus
from tests import factories
from tests.factories import portal_password
from tests.helpers.browser import log_in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

LONG_NAME = "u" * 251 + ".csv"
WIDTH = 1366


@pytest.fixture
def viewport() -> dict[str, int]:
    """A laptop's width, which is what this test measures against (its height never mattered)."""
    return {"width": WIDTH, "height": 900}


def test_a_255_character_file_name_wraps_on_the_delivery_page(
    portal_url, page, vendor_a_user, upload_route
):
    assert len(LONG_NAME) == 255
    delivery = factories.delivery(
        upload_route,
        status=DeliveryStatus.REJECTED,
        original_filename=LONG_NAME,
        uploaded_by=vendor_a_user,
    )
    portal_password(vendor_a_user, "pw-vendor-a-1234")
    log_in(page, portal_url, vendor_a_user.username, "pw-vendor-a-1234")

    page.goto(f"{portal_url}/leverancer/{delivery.uuid}/")
    assert page.get_by_text(LONG_NAME).count() == 1  # shown whole, not cut
    for path in (f"/leverancer/{delivery.uuid}/", "/leverancer/"):
        page.goto(f"{portal_url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTH, f"{path} is {width} px wide at a {WIDTH} px screen"
