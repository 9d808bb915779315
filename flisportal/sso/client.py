"""The OpenID Connect protocol, done by Authlib's Django client: one client per identity
provider, built from its row (Authlib's registry is keyed by name, so providers added in the
admin need no restart). Nothing of the protocol is written here by hand: this module only says
what to ask for and what to check."""

from __future__ import annotations

from typing import Any

from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from django.conf import settings
from django.urls import reverse

from flisportal.sso.models import IdentityProvider


def oidc_client(provider: IdentityProvider) -> DjangoOAuth2App:
    """Authlib's client for `provider`: discovery from the issuer, PKCE with S256 (Authlib
    makes the verifier and keeps it with `state` and `nonce` in the session)."""
    registry = OAuth()
    client = registry.register(
        name=provider.slug,
        client_id=provider.client_id,
        client_secret=provider.client_secret(),
        server_metadata_url=provider.discovery_url,
        client_kwargs={
            "scope": provider.scopes,
            "code_challenge_method": "S256",
            "timeout": settings.SSO_HTTP_TIMEOUT,
        },
    )
    assert isinstance(client, DjangoOAuth2App)
    return client


def redirect_uri(provider: IdentityProvider) -> str:
    """The address registered at the provider: from PORTAL_BASE_URL, not from the request's
    Host header, so that it is the same behind any proxy and cannot be steered by a client."""
    path = reverse("sso:callback", args=[provider.slug])
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def id_token_claims_options(provider: IdentityProvider) -> dict[str, Any]:
    """Authlib checks the signature against the provider's published keys, `nonce`, and `aud`
    (our client id); these make issuer, expiry and issue time required too."""
    return {
        "iss": {"essential": True, "values": [provider.issuer]},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "sub": {"essential": True},
    }
