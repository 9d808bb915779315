"""What only the SSO browser tests use: the portal served from a thread of this process
(tests/helpers/liveportal.py) with PORTAL_BASE_URL pointing at it, registered as a client of
the session's OpenID Connect provider. The browser is the shared `browser` fixture
(tests/fixtures/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from flisportal.sso.models import IdentityProvider
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
