"""The stand-in's own register of public keys, as KOMBIT's Administrationsmodul keeps it.

A login is accepted for a key registered here for that user on that endpoint, and nothing
else: the portal's SftpKey table says which key the portal *uses*, not which one the platform
*knows*, and mixing the two would hide a key the portal uses before it is registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import IntegrityError, transaction

from deliveries.serviceplatform.models import RegisteredKey
from routes.keys import fingerprint_of, parse_public_key
from routes.models import Endpoint, KeyState, SftpKey, SftpUser


def registered_key_add(*, endpoint: Endpoint, username: str, public_key: str) -> RegisteredKey:
    """KOMBIT registers `public_key` for `username`: from now on it logs in. Registering a key
    already registered returns the existing row (running the command twice is harmless).

    Raises ValidationError for a line that is not an RSA or Ed25519 public key."""
    line = parse_public_key(public_key)
    fingerprint = fingerprint_of(line)
    try:
        with transaction.atomic():
            key, _created = RegisteredKey.objects.get_or_create(
                endpoint=endpoint,
                username=username,
                fingerprint=fingerprint,
                defaults={"public_key": line},
            )
    except IntegrityError:
        # Another registration of the same key won the race: the key is registered either way.
        key = RegisteredKey.objects.get(
            endpoint=endpoint, username=username, fingerprint=fingerprint
        )
    return key


@dataclass
class OnboardingResult:
    registered: list[str] = field(default_factory=list)  # user names


def registered_keys_onboard(*, endpoint: Endpoint) -> OnboardingResult:
    """Users the stand-in has never met get their current key registered, as KOMBIT does when
    a system is first connected (and as the demo data needs, so `make run` can push).

    A user with any key registered here is left alone: a rotated key must be registered
    explicitly, or the stand-in would accept a key the real platform refuses."""
    result = OnboardingResult()
    known = set(RegisteredKey.objects.filter(endpoint=endpoint).values_list("username", flat=True))
    keys = (
        SftpKey.objects.filter(sftp_user__endpoint=endpoint, state=KeyState.ACTIVE)
        .exclude(sftp_user__username__in=known)
        .select_related("sftp_user")
        .defer("encrypted_private_key")
    )
    for key in keys:
        registered_key_add(
            endpoint=endpoint, username=key.sftp_user.username, public_key=key.public_key
        )
        result.registered.append(key.sftp_user.username)
    return result


def authorised_public_keys(endpoint_id: int, username: str) -> list[str]:
    """The public keys a login as `username` is accepted with: those registered here for a user
    the endpoint still has."""
    if not SftpUser.objects.filter(endpoint_id=endpoint_id, username=username).exists():
        return []
    return list(
        RegisteredKey.objects.filter(endpoint_id=endpoint_id, username=username).values_list(
            "public_key", flat=True
        )
    )
