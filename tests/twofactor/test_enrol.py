"""Enrolling an authenticator app: QR code drawn by the portal, confirmation with a code,
recovery codes shown once and stored hashed, every step in the audit log."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from flisportal.audit.models import AuditEntry
from flisportal.twofactor.models import RecoveryCode, digest, normalise_recovery_code
from flisportal.twofactor.policy import MFA_SESSION_KEY
from tests.helpers.twofactor import code_from_secret, force_login_password_only

pytestmark = pytest.mark.django_db


def _secret(page: str) -> str:
    found = re.search(r'id="totp-secret">([A-Z2-7=]+)<', page)
    assert found, "the enrolment page shows the key for typing in"
    return found.group(1)


def test_the_qr_code_is_an_inline_svg_drawn_by_the_portal(client, admin_user):
    # Rule: the QR code is rendered server-side; no image from elsewhere carries the secret.
    force_login_password_only(client, admin_user)
    page = client.get(reverse("twofactor:enrol")).content.decode()
    qr = page.split('id="totp-qr">', 1)[1]
    assert qr.lstrip().startswith("<svg")
    assert "<img" not in qr.split("</svg>", 1)[0]
    assert TOTPDevice.objects.get(user=admin_user).confirmed is False


def test_reloading_the_page_keeps_the_same_key(client, admin_user):
    force_login_password_only(client, admin_user)
    first = _secret(client.get(reverse("twofactor:enrol")).content.decode())
    again = _secret(client.get(reverse("twofactor:enrol")).content.decode())
    assert first == again
    assert TOTPDevice.objects.filter(user=admin_user).count() == 1


def test_confirming_with_a_good_code_enrols_and_shows_the_codes_once(client, admin_user):
    force_login_password_only(client, admin_user)
    secret = _secret(client.get(reverse("twofactor:enrol")).content.decode())
    response = client.post(
        reverse("twofactor:enrol"), {"token": code_from_secret(secret), "next": "/drift/"}
    )
    assert response["Location"].startswith(reverse("twofactor:recovery_codes_shown"))
    assert TOTPDevice.objects.get(user=admin_user).confirmed is True
    assert client.session[MFA_SESSION_KEY] == "totp"

    shown = client.get(response["Location"]).content.decode()
    codes = re.findall(r"<li>([A-Z2-9]{5}-[A-Z2-9]{5})</li>", shown)
    assert len(codes) == 10
    assert 'href="/drift/"' in shown
    # Stored hashed: no code is in the database as typed.
    stored = set(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert stored == {digest(normalise_recovery_code(code)) for code in codes}
    # Shown once: the page does not show them again.
    again = client.get(reverse("twofactor:recovery_codes_shown"))
    assert again["Location"] == reverse("twofactor:manage")

    entry = AuditEntry.objects.get(action="twofactor.enrolled")
    assert entry.actor == admin_user
    assert client.get("/drift/").status_code == 200


def test_a_wrong_code_does_not_enrol(client, admin_user):
    force_login_password_only(client, admin_user)
    client.get(reverse("twofactor:enrol"))
    response = client.post(reverse("twofactor:enrol"), {"token": "000000x"})
    assert response.status_code == 200
    assert "Koden passer ikke" in response.content.decode()
    assert TOTPDevice.objects.get(user=admin_user).confirmed is False
    assert MFA_SESSION_KEY not in client.session
    assert not AuditEntry.objects.filter(action="twofactor.enrolled").exists()


def test_the_enrolment_page_is_english_for_an_english_user(client, admin_user, settings):
    force_login_password_only(client, admin_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("twofactor:enrol")).content.decode()
    assert "Your role requires two-factor login" in page
    assert "Din rolle kræver" not in page
