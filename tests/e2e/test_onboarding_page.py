"""The onboarding checklist in a real browser at 1366×768, as an administrator reads it after
logging in with password and authenticator code: each task in its state in words (a rejected
exttest order as «Afvist» with KOMBIT's reason), and the links to where each open task is done.

The screenshot is the one in docs/users/onboarding.md (docs/screenshots/ibrugtagning.png).
Run it alone with `.venv/bin/pytest -m e2e tests/e2e/test_onboarding_page.py`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from routes import services
from routes.models import Endpoint, RouteStatus, User, Vendor
from tests import factories
from tests.helpers.browser import log_in, shot
from tests.helpers.twofactor import authenticator

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "pw-e2e-flis-1234"


def onboarding_world() -> tuple[User, Vendor]:
    """Vendor A for København: a signed agreement, an SFTP user on exttest with a key,
    Personale ordered on exttest and rejected, Skole ordered and waiting; nothing in production."""
    kbh = factories.kommune(factories.KBH)
    system = factories.sender_system("A")
    flis = factories.flis_system()
    assert system.vendor is not None
    factories.agreement(system.vendor, kbh)
    sftp_user = factories.sftp_user(system, "LEV-A_SFTP", endpoint="exttest")
    services.sftp_key_generate(sftp_user=sftp_user, algorithm="ed25519", actor=None)
    # runserver has the portal's hasher, not the tests' fast one.
    admin = factories.portal_password(factories.admin("admin-e2e"), PASSWORD)
    exttest = Endpoint.objects.get(slug="exttest")
    # Dates relative to now: the page counts the wait up to today.
    now = timezone.now()
    for area, at in (("personale", now - timedelta(days=60)), ("skole", now - timedelta(days=32))):
        with time_machine.travel(at, tick=False):
            route = services.route_order(
                kommune=kbh,
                data_area=factories.data_area(area),
                sender_system=system,
                recipient_systems=[flis],
                endpoint=exttest,
                actor=admin,
                order_reference=f"DK-{area}",
            )
    with time_machine.travel(now - timedelta(days=55), tick=False):
        first = system.sent_routes.get(data_area__code="personale")
        services.route_transition(
            route=first,
            new_status=RouteStatus.REJECTED,
            actor=admin,
            note="Modtagersystemet er ikke FLIS' produktionssystem",
        )
    assert route.status == RouteStatus.ORDERED
    return admin, system.vendor


def test_the_administrator_reads_the_checklist_in_words_with_links(portal_url: str, page) -> None:
    admin, vendor = onboarding_world()
    log_in(page, portal_url, admin.username, PASSWORD, device=authenticator(admin))
    page.goto(f"{portal_url}/ibrugtagning/{vendor.pk}/101/")

    expect(page.locator("h1")).to_contain_text("Ibrugtagning: Leverandør A · Københavns Kommune")
    exttest = page.locator("[data-task=established_exttest]")
    expect(exttest).to_contain_text("✘ Afvist")
    expect(exttest).to_contain_text("Årsag: Modtagersystemet er ikke FLIS' produktionssystem")
    expect(exttest).to_contain_text("◐ Bestilt")
    expect(page.locator("[data-task=agreement]")).to_contain_text("✔ OK")
    reorder = exttest.get_by_role("link", name="Bestil igen")
    expect(reorder).to_be_visible()
    # Nothing runs off the 1366 px screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1366
    shot(page, "ibrugtagning", full_page=False)

    reorder.click()
    expect(page.locator("#id_data_area")).to_have_value(str(factories.data_area("personale").pk))
    expect(page.locator("#id_endpoint")).to_have_value(str(Endpoint.objects.get(slug="exttest").pk))
