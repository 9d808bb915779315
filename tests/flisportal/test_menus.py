"""The menus every page draws (the main menu and the user menu): drawn once per role and
language in a process (flisportal/context_processors.py), never shared across either."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from flisportal.context_processors import MENU_TEMPLATES, _menu_html

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_menus_drawn_yet():
    _menu_html.cache_clear()
    yield
    _menu_html.cache_clear()


def drawn(response) -> set[str]:
    return {template.name for template in response.templates} & set(MENU_TEMPLATES)


def test_a_roles_menus_are_drawn_once_and_shown_on_every_page(admin_client):
    """Rule: the menus name no user and no request, so the second page an administrator opens
    renders neither menu template again, and still shows both."""
    first = admin_client.get(reverse("front:help"))
    assert drawn(first) == set(MENU_TEMPLATES)
    again = admin_client.get(reverse("front:start"))
    assert drawn(again) == set()
    page = again.content.decode()
    assert f'href="{reverse("front:drift")}"' in page  # the administrator's Drift menu
    assert f'href="{reverse("twofactor:sessions")}"' in page  # the user menu


def test_menus_are_not_shared_between_roles(client, admin_user, vendor_a_user):
    """Rule: a vendor after an administrator gets the vendor's menu, not the cached one."""
    drift = f'href="{reverse("front:drift")}"'
    upload = f'href="{reverse("deliveries:upload")}"'
    client.force_login(admin_user)
    page = client.get(reverse("front:help")).content.decode()
    assert drift in page and upload not in page
    client.force_login(vendor_a_user)
    page = client.get(reverse("front:help")).content.decode()
    assert upload in page and drift not in page


def test_menus_follow_the_chosen_language(admin_client):
    """Rule: the language is in the key: an English page after a Danish one has English menus,
    and a Danish one after it Danish menus again."""
    danish = admin_client.get(reverse("front:help")).content.decode()
    assert "Skift adgangskode" in danish and "Forside" in danish
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = admin_client.get(reverse("front:help")).content.decode()
    assert "Skift adgangskode" not in english and "Forside" not in english
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "da"
    assert "Skift adgangskode" in admin_client.get(reverse("front:help")).content.decode()
