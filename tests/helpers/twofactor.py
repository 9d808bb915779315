"""Sessions of test clients and the second factor (flisportal/twofactor/).

`client.force_login` skips the login page, and so the second factor: the suite's fixture
(tests/fixtures/twofactor.py) marks such a session as having passed one, as a real login with
an authenticator would, so the hundreds of tests that open administrator pages test those pages
and not the gate. Tests of the gate itself log in with `force_login_password_only`, or through
the login page.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from flisportal.twofactor.models import UserSession, digest
from flisportal.twofactor.policy import SOURCE_TOTP, mark_session_verified
from flisportal.twofactor.sessions import SESSION_TRACK_KEY

# Django's own, kept before the suite's fixture replaces it.
DJANGO_FORCE_LOGIN = Client.force_login


def force_login_password_only(client: Client, user: Any) -> None:
    """Logged in as after the password step alone: no second factor passed."""
    DJANGO_FORCE_LOGIN(client, user)


def mark_second_factor_passed(client: Client, source: str = SOURCE_TOTP) -> None:
    """The client's session as after a second factor, and already in the user's session list
    (so its first request writes no row: list pages pin their query counts)."""
    session = client.session
    mark_session_verified(session, source)
    user_id = session["_auth_user_id"]
    key_hash = digest(session.session_key or "")
    now = timezone.now()
    UserSession.objects.update_or_create(
        key_hash=key_hash, defaults={"user_id": user_id, "last_seen": now}
    )
    session[SESSION_TRACK_KEY] = {"hash": key_hash, "at": now.timestamp()}
    session.save()


def authenticator(user: Any) -> TOTPDevice:
    """A confirmed authenticator app of the user's, as after enrolment."""
    return TOTPDevice.objects.create(user=user, name="Godkendelsesapp", confirmed=True)


def code_of(device: TOTPDevice, *, at: float | None = None) -> str:
    """The six digits the user's app shows now (or at the Unix time `at`)."""
    device.refresh_from_db()
    counter = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    counter.time = at if at is not None else time.time()
    return f"{counter.token():06d}"


def clear_of_a_step_boundary(margin: float = 5.0) -> None:
    """Waits, if need be, until the current 30-second TOTP step has at least `margin` seconds
    left. A code typed in one step and checked in the next is accepted one step behind, and
    django-otp then learns a drift of -1 (OTP_TOTP_SYNC), after which a code one step ahead is
    refused: a test that relies on "one step ahead" enrols clear of the boundary."""
    left = 30 - time.time() % 30
    if left < margin:
        time.sleep(left + 0.1)


def code_from_secret(secret: str, *, at: float | None = None) -> str:
    """The code an app shows for the base32 key the enrolment page prints (now, or at the Unix
    time `at`)."""
    counter = TOTP(base64.b32decode(secret))
    counter.time = at if at is not None else time.time()
    return f"{counter.token():06d}"
