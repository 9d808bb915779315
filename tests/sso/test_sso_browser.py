"""Logging in through a real OpenID Connect provider in a real browser: the provider
(oidc-provider-mock on a loopback port, tests/helpers/oidc.py) signs real ID tokens, the portal
checks them with Authlib, Chromium carries the redirects. Covers the mapped login with PKCE and
the provider's MFA, a user waiting for approval, a tampered `state`, an expired token and
logging out of both."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import Page, expect

from flisportal.audit.models import AuditEntry
from flisportal.sso.models import RoleMapping, SsoLink
from tests import factories
from tests.helpers.oidc import s256
from tests.helpers.sso import mapping

pytestmark = pytest.mark.e2e


def new_page(browser: Any) -> Page:
    context = browser.new_context(locale="da-DK")
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def log_in_at_provider(page: Page, portal: Any, sub: str) -> None:
    """From the portal's login page, through the provider's consent page, as `sub`."""
    page.goto(f"{portal.url}/konto/login/")
    page.click("text=Log ind med Testkommunens login")
    page.fill("input[name=sub]", sub)
    page.click("button:has-text('Authorize')")


def session_of(page: Page) -> SessionStore:
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    return SessionStore(session_key=cookie["value"])


def test_mapped_group_logs_in_with_pkce_and_the_providers_mfa(sso_portal, browser):
    """A login with a mapped group lands on the role's start page; the authorization request
    carried an S256 challenge whose verifier reached the token endpoint; the ID token's
    amr "mfa" tells the twofactor middleware the provider did the second factor."""
    vendor = factories.vendor("A")
    mapping(sso_portal.row, "lev-a", RoleMapping.Grant.VENDOR, vendor=vendor)
    sso_portal.provider.set_user("lene", email="lene@lev-a.dk", groups=["lev-a"], amr=["mfa"])
    page = new_page(browser)
    authorize_urls: list[str] = []
    page.on("request", lambda r: authorize_urls.append(r.url) if "/authorize" in r.url else None)

    log_in_at_provider(page, sso_portal, "lene")

    expect(page.locator("h1")).to_contain_text("Forside for Leverandør A")
    query = parse_qs(urlsplit(authorize_urls[0]).query)
    assert query["code_challenge_method"] == ["S256"]
    verifier = sso_portal.provider.token_requests[-1]["code_verifier"]
    assert s256(verifier) == query["code_challenge"][0]
    link = SsoLink.objects.get(subject="lene")
    assert link.issuer == sso_portal.provider.issuer and link.user.vendor == vendor
    assert session_of(page)["auth_mfa_source"] == "provider"
    assert AuditEntry.objects.filter(action="sso.login", object_id=str(link.user.pk)).exists()


def test_login_without_mfa_leaves_the_mfa_source_unset(sso_portal, browser):
    mapping(sso_portal.row, "admins", RoleMapping.Grant.ADMINISTRATOR)
    sso_portal.provider.set_user("ada", groups=["admins"], amr=["pwd"])
    page = new_page(browser)
    log_in_at_provider(page, sso_portal, "ada")
    expect(page.locator("h1")).to_contain_text("Forside for administratorer")
    assert "auth_mfa_source" not in session_of(page)


def test_unmapped_user_waits_for_approval_without_a_session(sso_portal, browser):
    sso_portal.provider.set_user("ny", email="ny@kommune.dk", groups=["ukendt-gruppe"])
    page = new_page(browser)
    log_in_at_provider(page, sso_portal, "ny")
    expect(page.locator("h1")).to_have_text("Din bruger afventer godkendelse")
    user = SsoLink.objects.get(subject="ny").user
    assert user.role == "none"
    page.goto(f"{sso_portal.url}/")
    expect(page).to_have_url(re.compile(r"/konto/login/"))


def _tamper_state(url: str) -> str:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    query["state"] = [query["state"][0][::-1]]
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True)))


def test_tampered_state_is_refused_with_a_danish_message(sso_portal, browser):
    """The provider is sent a `state` other than the one the portal put in the session (as an
    attacker's forged login link would); its answer carries that state back and is refused."""
    mapping(sso_portal.row, "admins", RoleMapping.Grant.ADMINISTRATOR)
    sso_portal.provider.set_user("mallory", groups=["admins"])
    page = new_page(browser)
    page.goto(f"{sso_portal.url}/konto/login/")
    page.click("text=Log ind med Testkommunens login")
    page.wait_for_url(re.compile(r"/oauth2/authorize"))
    page.goto(_tamper_state(page.url))
    page.fill("input[name=sub]", "mallory")
    page.click("button:has-text('Authorize')")

    expect(page.locator("h1")).to_have_text("Login afvist")
    expect(page.locator(".alert-danger")).to_contain_text("state stemmer ikke")
    assert not SsoLink.objects.exists()
    assert AuditEntry.objects.get(action="sso.refused").after["reason"].startswith("state")


def test_expired_id_token_is_refused(expired_sso_portal, browser):
    mapping(expired_sso_portal.row, "admins", RoleMapping.Grant.ADMINISTRATOR)
    expired_sso_portal.provider.set_user("sen", groups=["admins"])
    page = new_page(browser)
    log_in_at_provider(page, expired_sso_portal, "sen")
    expect(page.locator("h1")).to_have_text("Login afvist")
    expect(page.locator(".alert-danger")).to_contain_text("kunne ikke godkendes")
    assert not SsoLink.objects.exists()
    assert "expired" in AuditEntry.objects.get(action="sso.refused").after["reason"]


def test_logout_ends_the_portal_session_and_the_providers(sso_portal, browser):
    mapping(sso_portal.row, "admins", RoleMapping.Grant.ADMINISTRATOR)
    sso_portal.provider.set_user("ada", groups=["admins"])
    page = new_page(browser)
    log_in_at_provider(page, sso_portal, "ada")
    expect(page.locator("h1")).to_contain_text("Forside for administratorer")

    page.click("nav button.dropdown-toggle")
    page.click("nav button:has-text('Log ud')")
    # The provider's end_session page, reached with the ID token as hint.
    expect(page.locator("h1")).to_have_text("End Session")
    assert "id_token_hint" in page.url
    page.click("button:has-text('End session')")
    expect(page).to_have_url(re.compile(r"/konto/login/"))
    page.goto(f"{sso_portal.url}/")
    expect(page).to_have_url(re.compile(r"/konto/login/"))
