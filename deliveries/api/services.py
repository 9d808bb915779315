"""A person's API tokens: made, revoked, and checked when a request presents one.

A token reads `flis_<key id>_<secret>`. The key id is public and finds the row; the secret has
256 bits from `secrets`, so one SHA-256 of the whole token is as good as a slow password hash
(nobody can guess through 2**256 values) and is what is stored. The digest is compared in
constant time. Tokens made and revoked are audit rows, as are uploads made with them
(`deliveries.api.views`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deliveries.api.models import ApiToken
from flisportal.audit.services import audit_record, snapshot
from routes.models import User

PREFIX = "flis"
# Last use is written at most this often per token: a vendor system polling a status every
# second must not turn every read into a write.
LAST_USED_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # the whole token, shown once and never again


def _digest(presented: str) -> str:
    return hashlib.sha256(presented.encode("utf-8")).hexdigest()


def api_token_create(*, user: User, name: str, days: int) -> NewToken:
    """A new token for `user`, valid for `days` days (1 up to API_TOKEN_MAX_DAYS)."""
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValueError(f"days must be 1..{settings.API_TOKEN_MAX_DAYS}")
    key_id = secrets.token_hex(6)
    presented = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            key_id=key_id,
            digest=_digest(presented),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        audit_record(
            action="api_token.create",
            obj=token,
            after=snapshot(token, exclude=("digest",)),
            actor=user,
        )
    return NewToken(token=token, secret=presented)


def api_token_revoke(*, token_id: int, user: User) -> bool:
    """Revokes one of `user`'s own tokens; False if it is not theirs or already revoked."""
    with transaction.atomic():
        token = (
            ApiToken.objects.select_for_update()
            .filter(pk=token_id, user=user, revoked_at__isnull=True)
            .first()
        )
        if token is None:
            return False
        before = snapshot(token, exclude=("digest",))
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            action="api_token.revoke",
            obj=token,
            before=before,
            after=snapshot(token, exclude=("digest",)),
            actor=user,
        )
    return True


class TokenRefused(Exception):
    """A presented token opens nothing; `reason` says which rule refused it: "unknown" (no
    such token, or not the right secret), "revoked", "expired" or "inactive" (the person's
    account is closed). The holder of a real token may learn which, so they know what to do;
    a guesser learns nothing from "unknown"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def api_token_authenticate(presented: str) -> ApiToken:
    """The token `presented` names, with its user, if it may be used now; raises TokenRefused
    otherwise. Records the use, at most once a minute per token."""
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise TokenRefused("unknown")
    token = ApiToken.objects.select_related("user").filter(key_id=parts[1]).first()
    # Compared in constant time, and a digest is compared even when no row was found, so the
    # time taken does not tell a guesser whether a key id exists.
    stored = token.digest if token is not None else "0" * 64
    if not hmac.compare_digest(stored, _digest(presented)) or token is None:
        raise TokenRefused("unknown")
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenRefused("revoked")
    if token.expires_at <= now:
        raise TokenRefused("expired")
    if not token.user.is_active:
        raise TokenRefused("inactive")
    # A conditional update: many processes may see the same token at once, and only one
    # write a minute goes through.
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_EVERY)
    ).update(last_used_at=now)
    return token
