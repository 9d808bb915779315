"""Identity providers and role mappings as rows, for the SSO tests."""

from __future__ import annotations

from typing import Any

from flisportal.sso.models import IdentityProvider, RoleMapping
from routes.keys import encrypt_private_key
from tests.helpers.oidc import Provider


def identity_provider(
    running: Provider | None = None, *, slug: str = "kommune-idp", **fields: Any
) -> IdentityProvider:
    """A provider row; pointing at `running` with its registered client (secret stored
    encrypted, as the admin stores a typed-in secret)."""
    values: dict[str, Any] = {
        "name": "Kommunens login",
        "slug": slug,
        "issuer": running.issuer if running else "https://idp.example.invalid",
        "client_id": running.client_id if running else "portal",
        "client_secret_encrypted": (
            encrypt_private_key(running.client_secret.encode()) if running else b""
        ),
    }
    values.update(fields)
    return IdentityProvider.objects.create(**values)


def mapping(provider: IdentityProvider, value: str, role: str, **target: Any) -> RoleMapping:
    return RoleMapping.objects.create(provider=provider, value=value, role=role, **target)
