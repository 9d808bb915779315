"""The second step of logging in: a code from the app or a recovery code; failures count in
the lockout and in the audit log."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from flisportal.audit.models import AuditEntry
from flisportal.twofactor.models import RecoveryCodeDevice, SecurityKey
from flisportal.twofactor.policy import MFA_SESSION_KEY
from tests.helpers.twofactor import authenticator, code_of, force_login_password_only

pytestmark = pytest.mark.django_db


def _password_login(client, user, password):
    response = client.post(reverse("login"), {"username": user.username, "password": password})
    assert response.status_code == 302
    return client.get(response["Location"])


def test_administrator_lands_on_the_start_page_after_the_code(client, admin_user):
    device = authenticator(admin_user)
    response = _password_login(client, admin_user, "pw-admin-1234")
    assert response["Location"].startswith(reverse("twofactor:verify"))

    response = client.post(response["Location"], {"token": code_of(device)}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("front:start")
    assert "Forside for administratorer" in response.content.decode()
    assert client.session[MFA_SESSION_KEY] == "totp"
    entry = AuditEntry.objects.get(action="twofactor.verified")
    assert entry.actor == admin_user
    assert entry.after["source"] == "127.0.0.1"


def test_the_session_key_changes_when_the_second_factor_is_passed(client, admin_user):
    # Rule: a session key seen before the second factor (say, by a shoulder-surfer of the
    # password) is not the key of the verified session.
    device = authenticator(admin_user)
    force_login_password_only(client, admin_user)
    before = client.session.session_key
    client.post(reverse("twofactor:verify"), {"token": code_of(device)})
    assert client.session.session_key != before


def test_a_recovery_code_works_once(client, admin_user):
    authenticator(admin_user)
    codes = RecoveryCodeDevice.objects.create(user=admin_user, name="G").issue_codes()
    force_login_password_only(client, admin_user)
    response = client.post(reverse("twofactor:verify"), {"token": codes[0].lower()})
    assert response.status_code == 302
    assert client.session[MFA_SESSION_KEY] == "recovery"
    used = AuditEntry.objects.get(action="twofactor.recovery_code_used")
    assert used.after["codes_left"] == 9

    other = type(client)()
    force_login_password_only(other, admin_user)
    again = other.post(reverse("twofactor:verify"), {"token": codes[0]})
    assert again.status_code == 200
    assert MFA_SESSION_KEY not in other.session


def test_a_wrong_code_is_refused_counted_and_logged(client, admin_user):
    authenticator(admin_user)
    force_login_password_only(client, admin_user)
    response = client.post(reverse("twofactor:verify"), {"token": "123456"})
    assert response.status_code == 200
    assert "Koden passer ikke" in response.content.decode()
    assert MFA_SESSION_KEY not in client.session
    failed = AuditEntry.objects.get(action="twofactor.failed")
    assert failed.actor == admin_user
    assert "123456" not in str(failed.after)
    # The lockout counts it as a failed login of that user name from that address.
    attempt = AccessAttempt.objects.get(username=admin_user.username)
    assert attempt.failures_since_start == 1


def test_too_many_wrong_codes_lock_the_account_and_log_out(client, admin_user, settings):
    # Rule: the password lockout covers the second factor: AXES_FAILURE_LIMIT wrong codes lock.
    settings.AXES_FAILURE_LIMIT = 3
    device = authenticator(admin_user)
    device.throttling_enabled = False  # this test is about the lockout, not the app's own delay
    device.save()
    force_login_password_only(client, admin_user)
    for _ in range(2):
        assert client.post(reverse("twofactor:verify"), {"token": "111111"}).status_code == 200
    locked = client.post(reverse("twofactor:verify"), {"token": "111111"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # Even the right code is refused while the lock holds.
    force_login_password_only(client, admin_user)
    response = client.post(reverse("twofactor:verify"), {"token": code_of(device)})
    assert response.status_code == 429


def test_the_app_slows_down_after_wrong_codes_even_across_password_logins(client, admin_user):
    # Rule: a password login resets the lockout's count; the device's own throttle is not reset
    # by it, so guessing codes between fresh password logins stays slow.
    device = authenticator(admin_user)
    force_login_password_only(client, admin_user)
    client.post(reverse("twofactor:verify"), {"token": "111111"})
    client.post(reverse("twofactor:verify"), {"token": "222222"})
    force_login_password_only(client, admin_user)
    client.post(reverse("twofactor:verify"), {"token": code_of(device)})
    assert MFA_SESSION_KEY not in client.session
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1
    assert device.verify_is_allowed()[0] is False


def test_an_unsafe_next_is_not_followed(client, admin_user):
    device = authenticator(admin_user)
    force_login_password_only(client, admin_user)
    response = client.post(
        reverse("twofactor:verify"), {"token": code_of(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("front:start")


def test_removing_the_last_app_removes_the_recovery_codes_and_is_logged(client, admin_user):
    device = authenticator(admin_user)
    RecoveryCodeDevice.objects.create(user=admin_user, name="G").issue_codes()
    client.force_login(admin_user)
    assert client.get(reverse("twofactor:device_remove", args=[device.pk])).status_code == 405
    client.post(reverse("twofactor:device_remove", args=[device.pk]))
    assert not RecoveryCodeDevice.objects.filter(user=admin_user).exists()
    assert AuditEntry.objects.get(action="twofactor.device_removed").actor == admin_user


def test_another_users_app_cannot_be_removed(client, admin_user, vendor_a_user):
    device = authenticator(admin_user)
    client.force_login(vendor_a_user)
    client.post(reverse("twofactor:device_remove", args=[device.pk]))
    assert device.__class__.objects.filter(pk=device.pk).exists()


def test_new_recovery_codes_replace_the_old(client, admin_user):
    authenticator(admin_user)
    old = RecoveryCodeDevice.objects.create(user=admin_user, name="G").issue_codes()
    client.force_login(admin_user)
    response = client.post(reverse("twofactor:recovery_codes_renew"))
    page = client.get(response["Location"]).content.decode()
    assert old[0] not in page
    device = RecoveryCodeDevice.objects.get(user=admin_user)
    assert device.remaining() == 10
    assert not device.verify_token(old[0])
    assert AuditEntry.objects.filter(action="twofactor.recovery_codes_renewed").exists()


def test_an_administrator_removes_a_users_second_factor_with_an_audit_row(
    admin_client, admin_user, vendor_a_user
):
    # Rule: a user who lost app and codes is helped by an administrator, on the record.
    authenticator(vendor_a_user)
    RecoveryCodeDevice.objects.create(user=vendor_a_user, name="G").issue_codes()
    url = reverse("twofactor:user_second_factor_reset", args=[vendor_a_user.pk])
    admin_client.post(url)
    assert not RecoveryCodeDevice.objects.filter(user=vendor_a_user).exists()
    entry = AuditEntry.objects.get(action="twofactor.device_removed")
    assert (entry.actor, entry.object_id) == (admin_user, str(vendor_a_user.pk))


def test_only_administrators_remove_another_users_second_factor(
    client, vendor_a_user, vendor_b_user
):
    device = authenticator(vendor_a_user)
    client.force_login(vendor_b_user)
    url = reverse("twofactor:user_second_factor_reset", args=[vendor_a_user.pk])
    assert client.post(url).status_code == 404
    assert device.__class__.objects.filter(pk=device.pk).exists()


def test_the_admin_does_not_offer_authenticators(admin_client):
    # Its delete would write no audit row, and its form shows the secret key.
    assert admin_client.get("/admin/otp_totp/totpdevice/").status_code == 404


def test_the_to_faktor_page_lists_apps_keys_and_codes_left(client, admin_user):
    authenticator(admin_user)
    SecurityKey.objects.create(user=admin_user, name="YubiKey", credential_id="A", public_key=b"")
    device = RecoveryCodeDevice.objects.create(user=admin_user, name="G")
    device.verify_token(device.issue_codes()[0])
    client.force_login(admin_user)
    page = client.get(reverse("twofactor:manage")).content.decode()
    assert "Godkendelsesapp" in page
    assert "YubiKey" in page
    assert "Du har 9 ubrugte gendannelseskoder." in page
