"""Two factors in a real browser against a portal in its own process: an administrator with a
password alone reaches no administrator page, enrols an authenticator app from the key the page
shows, and logs in again with a code from it."""

from __future__ import annotations

import re
import time

import pytest

from flisportal.audit.models import AuditEntry
from flisportal.twofactor.models import SecurityKey
from tests.factories import portal_password
from tests.helpers.browser import enter_password
from tests.helpers.twofactor import clear_of_a_step_boundary, code_from_secret

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "pw-admin-e2e-2026"


@pytest.fixture
def portal_host() -> str:
    """WebAuthn refuses an IP address as the site's name: the browser reaches the portal as
    localhost (and the shared `portal_url` makes that PORTAL_BASE_URL, which keys are checked
    against)."""
    return "localhost"


def test_an_administrator_enrols_an_app_and_logs_in_with_it(portal_url, page, admin_user):
    portal_password(admin_user, PASSWORD)
    enter_password(page, portal_url, admin_user.username, PASSWORD)
    page.wait_for_url(re.compile(r".*/konto/2fa/opret/.*"))
    assert page.locator("#twofactor-required").is_visible()

    # With the password alone no administrator page opens.
    for path in ("/drift/", "/admin/", "/ruter/"):
        page.goto(f"{portal_url}{path}")
        assert "/konto/2fa/opret/" in page.url, path

    secret = page.locator("#totp-secret").inner_text()
    assert page.locator("#totp-qr svg").count() == 1
    # Typed and checked in the same step, so the device learns no drift (the login below types
    # a code one step ahead, which a drift of -1 would refuse).
    clear_of_a_step_boundary()
    page.fill("input[name=token]", code_from_secret(secret))
    page.click("#totp-confirm")
    page.wait_for_url(re.compile(r".*/konto/2fa/gendannelseskoder/.*"))
    assert page.locator("#recovery-codes li").count() == 10
    page.click("text=Jeg har gemt koderne")
    page.goto(f"{portal_url}/drift/")
    assert page.url == f"{portal_url}/drift/"

    # Log out and in again: the code is asked for after the password.
    page.locator("form[action$='/logout/']").evaluate("form => form.submit()")
    page.wait_for_url(re.compile(r".*/konto/(login|logout)/.*"))
    enter_password(page, portal_url, admin_user.username, PASSWORD)
    page.wait_for_url(re.compile(r".*/konto/2fa/kode/.*"))
    page.goto(f"{portal_url}/admin/")
    assert "/konto/2fa/kode/" in page.url
    # The app's next code (django-otp accepts one step ahead): the one used to enrol cannot be
    # used twice.
    page.fill("input[name=token]", code_from_secret(secret, at=time.time() + 30))
    page.click("#code-submit")
    page.wait_for_url(f"{portal_url}/admin/")
    assert page.locator("#user-tools").count() == 1


def _log_out(page):
    page.locator("form[action$='/logout/']").evaluate("form => form.submit()")
    page.wait_for_url(re.compile(r".*/konto/(login|logout)/.*"))


def test_an_administrator_registers_a_security_key_and_logs_in_with_it(
    portal_url, page, admin_user
):
    # Chromium's virtual authenticator plays the security key (DevTools protocol).
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    portal_password(admin_user, PASSWORD)
    enter_password(page, portal_url, admin_user.username, PASSWORD)
    page.wait_for_url(re.compile(r".*/konto/2fa/opret/.*"))
    page.fill("#securitykey-name", "YubiKey")
    page.click("#securitykey-add")
    page.wait_for_url(re.compile(r".*/konto/2fa/gendannelseskoder/.*"))
    assert page.locator("#recovery-codes li").count() == 10
    key = SecurityKey.objects.get(user=admin_user)
    assert key.name == "YubiKey"

    _log_out(page)
    enter_password(page, portal_url, admin_user.username, PASSWORD)
    page.wait_for_url(re.compile(r".*/konto/2fa/kode/.*"))
    page.goto(f"{portal_url}/konto/2fa/kode/?next=/admin/")
    page.click("#securitykey-login")
    page.wait_for_url(f"{portal_url}/admin/")
    assert page.locator("#user-tools").count() == 1
    assert AuditEntry.objects.filter(action="twofactor.verified", after__kind="webauthn").exists()
