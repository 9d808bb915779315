"""The identity provider as the administrator configures it: the client secret typed in the
admin is stored encrypted and never shown; a named environment variable wins over it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from flisportal.sso.models import IdentityProvider
from tests.helpers.sso import identity_provider

pytestmark = pytest.mark.django_db


def test_secret_typed_in_the_admin_is_stored_encrypted_and_not_shown(client, admin_user):
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    form = {
        "name": "Entra ID",
        "slug": "entra",
        "issuer": "https://login.microsoftonline.com/tenant/v2.0",
        "client_id": "portal-client",
        "client_secret_env": "",
        "client_secret": "s3cret-from-entra",
        "scopes": "openid profile email",
        "groups_claim": "groups",
        "mfa_acr_values": "",
        "enabled": "on",
        "mappings-TOTAL_FORMS": "0",
        "mappings-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("admin:sso_identityprovider_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    provider = IdentityProvider.objects.get(slug="entra")
    assert b"s3cret" not in bytes(provider.client_secret_encrypted)
    assert provider.client_secret() == "s3cret-from-entra"
    change = reverse("admin:sso_identityprovider_change", args=[provider.pk])
    assert "s3cret-from-entra" not in client.get(change).content.decode()


def test_secret_from_the_named_environment_variable(monkeypatch):
    provider = identity_provider(client_secret_env="FLISPORTAL_SSO_ENTRA_SECRET")
    monkeypatch.setenv("FLISPORTAL_SSO_ENTRA_SECRET", "from-env")
    assert provider.client_secret() == "from-env"
    monkeypatch.delenv("FLISPORTAL_SSO_ENTRA_SECRET")
    with pytest.raises(ImproperlyConfigured, match="FLISPORTAL_SSO_ENTRA_SECRET"):
        provider.client_secret()
