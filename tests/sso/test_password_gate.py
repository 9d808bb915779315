"""Local passwords switched off (flisportal/sso/backends.py): per provider for its linked
users, or for everyone but superusers with SSO_PASSWORD_LOGIN off."""

from __future__ import annotations

import pytest
from django.urls import reverse

from flisportal.sso.models import SsoLink
from tests.helpers.sso import identity_provider

pytestmark = pytest.mark.django_db

PASSWORD = "pw-vendor-a-1234"


def link(user, **provider_fields) -> None:
    provider = identity_provider(name="Kommunens login", **provider_fields)
    SsoLink.objects.create(provider=provider, user=user, issuer=provider.issuer, subject="s-1")


def post_login(client, username: str, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_provider_that_switches_passwords_off_refuses_its_users_password(client, vendor_a_user):
    link(vendor_a_user, password_login_disabled=True)
    page = post_login(client, vendor_a_user.username).content.decode()
    assert "_auth_user_id" not in client.session
    assert "Din bruger logger ind med Kommunens login, ikke med adgangskode" in page


def test_a_wrong_password_learns_nothing_about_how_the_account_logs_in(client, vendor_a_user):
    link(vendor_a_user, password_login_disabled=True)
    page = post_login(client, vendor_a_user.username, "forkert").content.decode()
    assert "Kommunens login" not in page.split("<form", 1)[0]
    assert "ikke med adgangskode" not in page


def test_provider_that_keeps_passwords_lets_its_users_log_in(client, vendor_a_user):
    link(vendor_a_user, password_login_disabled=False)
    assert post_login(client, vendor_a_user.username).status_code == 302
    assert client.session["_auth_user_id"] == str(vendor_a_user.pk)


def test_passwords_off_globally_refuse_everyone_but_superusers(
    client, settings, vendor_a_user, django_user_model
):
    settings.SSO_PASSWORD_LOGIN = False
    page = post_login(client, vendor_a_user.username).content.decode()
    assert "_auth_user_id" not in client.session
    assert "Portalen bruger ikke adgangskoder" in page
    django_user_model.objects.create_superuser("nødadgang", password="pw-break-glass-1234")
    assert post_login(client, "nødadgang", "pw-break-glass-1234").status_code == 302


def test_login_page_offers_each_enabled_provider(client, db):
    identity_provider(name="OS2faktor", slug="os2faktor")
    identity_provider(name="Gammel", slug="gammel", enabled=False)
    page = client.get(reverse("login")).content.decode()
    assert "Log ind med OS2faktor" in page
    assert reverse("sso:start", args=["os2faktor"]) in page
    assert "Log ind med Gammel" not in page
