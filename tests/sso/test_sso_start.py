"""Starting a login when the provider cannot be used: a Danish page that says what to do, and
an audit row with the technical reason, never a server error. Also logging out without a
provider, and the mappings' own validation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from flisportal.audit.models import AuditEntry
from flisportal.sso.models import RoleMapping
from tests.helpers.net import free_port
from tests.helpers.sso import identity_provider

pytestmark = pytest.mark.django_db


def test_unreachable_provider_is_refused_with_a_danish_message(client, settings):
    settings.SSO_HTTP_TIMEOUT = 2
    identity_provider(slug="nede", name="Nede IdP", issuer=f"http://127.0.0.1:{free_port()}")
    response = client.get(reverse("sso:start", args=["nede"]))
    assert response.status_code == 400
    assert "Nede IdP svarer ikke lige nu" in response.content.decode()
    assert AuditEntry.objects.get(action="sso.refused").after["reason"].startswith("discovery")


def test_missing_secret_variable_is_refused_not_a_server_error(client, monkeypatch):
    monkeypatch.delenv("FLISPORTAL_SSO_UNSET_SECRET", raising=False)
    identity_provider(slug="uden", client_secret_env="FLISPORTAL_SSO_UNSET_SECRET")
    response = client.get(reverse("sso:start", args=["uden"]))
    assert response.status_code == 400
    reason = AuditEntry.objects.get(action="sso.refused").after["reason"]
    assert "FLISPORTAL_SSO_UNSET_SECRET" in reason


def test_disabled_provider_is_not_found(client):
    identity_provider(slug="slukket", enabled=False)
    assert client.get(reverse("sso:start", args=["slukket"])).status_code == 404


def test_callback_is_get_only(client):
    identity_provider(slug="kun-get")
    assert client.post(reverse("sso:callback", args=["kun-get"])).status_code == 405


def test_logout_of_a_password_user_ends_the_session_and_goes_to_login(client, vendor_a_user):
    """base.html's logout form posts here for everyone, not only SSO users."""
    client.force_login(vendor_a_user)
    response = client.post(reverse("sso:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("sso:logout")).status_code == 405


def test_a_vendor_or_kommune_mapping_must_name_its_vendor_or_kommune():
    provider = identity_provider()
    for role, field in (("vendor", "vendor"), ("consultant", "kommune")):
        with pytest.raises(ValidationError) as refused:
            RoleMapping(provider=provider, value="g", role=role).full_clean()
        assert field in refused.value.message_dict
