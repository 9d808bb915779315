"""What only the SSO browser tests use: the portal served from a thread of this process
(tests/helpers/liveportal.py) with PORTAL_BASE_URL pointing at it, registered as a client of
the session's OpenID Connect provider, and Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connections

from flisportal.sso.models import IdentityProvider
from tests.helpers.browser import launch_chromium
from tests.helpers.liveportal import portal_in_thread
from tests.helpers.oidc import Provider
from tests.helpers.sso import identity_provider


@dataclass
class SsoPortal:
    url: str
    provider: Provider
    row: IdentityProvider


@pytest.fixture
def portal_url(transactional_db: None, django_db_serialized_rollback: None) -> Iterator[str]:
    with portal_in_thread() as url:
        yield url


def _portal(url: str, settings: Any, running: Provider, slug: str) -> SsoPortal:
    settings.PORTAL_BASE_URL = url
    running.register_client(f"{url}/sso/{slug}/callback/")
    row = identity_provider(running, slug=slug, name="Testkommunens login")
    return SsoPortal(url=url, provider=running, row=row)


@pytest.fixture
def sso_portal(portal_url: str, settings: Any, oidc_provider: Provider) -> SsoPortal:
    return _portal(portal_url, settings, oidc_provider, "kommune-idp")


@pytest.fixture
def expired_sso_portal(
    portal_url: str, settings: Any, expired_oidc_provider: Provider
) -> SsoPortal:
    return _portal(portal_url, settings, expired_oidc_provider, "forsinket-idp")


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API keeps an asyncio loop on this thread, and Django refuses ORM calls
    # from a thread with a loop; the test's own ORM calls never run inside that loop's tasks.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()
            connections.close_all()
