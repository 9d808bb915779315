"""Security keys and passkeys (WebAuthn) on the server side. The ceremonies themselves run in
Chromium with a virtual authenticator (test_browser.py); these hold the rules around them."""

from __future__ import annotations

import json

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from flisportal.audit.models import AuditEntry
from flisportal.twofactor.models import RecoveryCodeDevice, SecurityKey
from flisportal.twofactor.policy import MFA_SESSION_KEY
from tests.helpers.twofactor import authenticator, force_login_password_only

pytestmark = pytest.mark.django_db


def _key(user) -> SecurityKey:
    return SecurityKey.objects.create(
        user=user, name="YubiKey", credential_id="AAAA", public_key=b"\x00"
    )


def _post_json(client, name, body=None):
    return client.post(reverse(name), json.dumps(body or {}), content_type="application/json")


def test_a_key_counts_as_a_second_factor_at_login(client, admin_user):
    # Rule: a user with only a security key is asked for it, not sent to enrol.
    _key(admin_user)
    force_login_password_only(client, admin_user)
    assert client.get("/drift/")["Location"].startswith(reverse("twofactor:verify"))
    page = client.get(reverse("twofactor:verify")).content.decode()
    assert 'id="securitykey-login"' in page
    assert "twofactor/webauthn.js" in page


def test_the_registration_options_name_the_portal_and_exclude_the_users_keys(
    client, admin_user, settings
):
    settings.PORTAL_BASE_URL = "https://flis.example.dk"
    _key(admin_user)
    client.force_login(admin_user)
    options = _post_json(client, "twofactor:securitykey_register_begin").json()
    assert options["rp"] == {"id": "flis.example.dk", "name": "FLIS-portal"}
    assert [item["id"] for item in options["excludeCredentials"]] == ["AAAA"]


def test_a_password_only_session_cannot_register_a_key_past_an_existing_factor(client, admin_user):
    authenticator(admin_user)
    force_login_password_only(client, admin_user)
    response = _post_json(client, "twofactor:securitykey_register_begin")
    assert response.status_code == 403
    assert "Bekræft først" in response.json()["error"]


def test_a_registration_that_does_not_verify_is_refused_with_a_reason(client, admin_user):
    force_login_password_only(client, admin_user)
    _post_json(client, "twofactor:securitykey_register_begin")
    response = _post_json(
        client, "twofactor:securitykey_register_finish", {"credential": {"id": "x"}}
    )
    assert response.status_code == 400
    assert "Nøglen blev ikke godkendt" in response.json()["error"]
    assert not SecurityKey.objects.exists()


def test_a_wrong_key_answer_counts_as_a_failed_login(client, admin_user):
    # Rule: the lockout and the audit log cover the key like the codes.
    _key(admin_user)
    force_login_password_only(client, admin_user)
    _post_json(client, "twofactor:securitykey_login_begin")
    response = _post_json(
        client, "twofactor:securitykey_login_finish", {"credential": {"id": "AAAA"}}
    )
    assert response.status_code == 400
    assert MFA_SESSION_KEY not in client.session
    assert AuditEntry.objects.get(action="twofactor.failed").after["kind"] == "webauthn"
    assert AccessAttempt.objects.get(username=admin_user.username).failures_since_start == 1


def test_removing_the_last_key_removes_the_recovery_codes_and_is_logged(client, admin_user):
    key = _key(admin_user)
    RecoveryCodeDevice.objects.create(user=admin_user, name="G").issue_codes()
    client.force_login(admin_user)
    url = reverse("twofactor:securitykey_remove", args=[key.pk])
    assert client.get(url).status_code == 405
    client.post(url)
    assert not SecurityKey.objects.exists()
    assert not RecoveryCodeDevice.objects.filter(user=admin_user).exists()
    entry = AuditEntry.objects.get(action="twofactor.device_removed")
    assert entry.before == {"device": "YubiKey", "kind": "webauthn"}


def test_another_users_key_cannot_be_removed(client, admin_user, vendor_a_user):
    key = _key(admin_user)
    client.force_login(vendor_a_user)
    client.post(reverse("twofactor:securitykey_remove", args=[key.pk]))
    assert SecurityKey.objects.filter(pk=key.pk).exists()
