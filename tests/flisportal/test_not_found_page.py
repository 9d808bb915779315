"""With DEBUG on (`make run`), a page that is not there or lies outside the user's scope shows
the portal's own Danish 404 page, not Django's technical one (English, every URL pattern);
FLISPORTAL_TECHNICAL_404 turns the technical page back on for a developer."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

PORTAL_PAGE = "Siden findes ikke, eller du har ikke adgang til den."
TECHNICAL_PAGE = "Using the URLconf defined in"


@pytest.fixture
def debug_on(settings):
    settings.DEBUG = True
    settings.TECHNICAL_404 = False
    return settings


def test_page_outside_the_users_scope_shows_the_portals_404(debug_on, client, vendor_a_user):
    # Driftsstatus is for administrators: the view raises Http404 for a vendor.
    client.force_login(vendor_a_user)
    response = client.get(reverse("front:drift"))
    assert response.status_code == 404
    page = response.content.decode()
    assert PORTAL_PAGE in page
    assert "You’re seeing this error because you have" not in page


def test_path_nothing_matches_shows_the_portals_404(debug_on, client, vendor_a_user):
    client.force_login(vendor_a_user)
    response = client.get("/findes-ikke/")
    assert response.status_code == 404
    page = response.content.decode()
    assert PORTAL_PAGE in page
    assert TECHNICAL_PAGE not in page
    # The page is the portal's, with its menu for the logged-in user.
    assert reverse("deliveries:list") in page


def test_a_missing_slash_is_still_added(debug_on, client, admin_user):
    client.force_login(admin_user)
    response = client.get("/drift")
    assert (response.status_code, response["Location"]) == (301, reverse("front:drift"))


def test_developers_can_turn_the_technical_page_on(debug_on, client, vendor_a_user):
    debug_on.TECHNICAL_404 = True
    client.force_login(vendor_a_user)
    response = client.get("/findes-ikke/")
    assert response.status_code == 404
    assert TECHNICAL_PAGE in response.content.decode()
