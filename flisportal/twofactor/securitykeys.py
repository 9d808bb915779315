"""Security keys and passkeys (WebAuthn) with py_webauthn: registering one and logging in with it.

The browser talks to the key; the portal makes a fresh challenge for each ceremony, keeps it in
the session until the answer comes, and checks the answer against the portal's own origin and
host name (PORTAL_BASE_URL), so a look-alike site cannot relay a signature made for itself.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import PublicKeyCredentialDescriptor

from flisportal.audit.services import audit_record
from flisportal.twofactor.models import RecoveryCodeDevice, SecurityKey
from flisportal.twofactor.policy import SOURCE_WEBAUTHN, has_second_factor

CHALLENGE_KEY = "twofactor_webauthn_challenge"
RP_NAME = "FLIS-portal"


def relying_party() -> tuple[str, str]:
    """(host name, origin) of the portal as its users reach it."""
    parts = urlsplit(settings.PORTAL_BASE_URL)
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def _descriptors(user: Any) -> list[PublicKeyCredentialDescriptor]:
    ids = SecurityKey.objects.filter(user=user).values_list("credential_id", flat=True)
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(value)) for value in ids]


def registration_begin(*, user: Any, session: SessionBase) -> str:
    """The options for navigator.credentials.create(), as JSON; the challenge stays in the
    session. The user's own keys are excluded, so one key is not registered twice."""
    rp_id, _origin = relying_party()
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=RP_NAME,
        user_name=user.get_username(),
        user_id=str(user.pk).encode(),
        user_display_name=user.get_full_name() or user.get_username(),
        exclude_credentials=_descriptors(user),
    )
    session[CHALLENGE_KEY] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def _challenge(session: SessionBase) -> bytes | None:
    # Each challenge answers one ceremony only.
    value = session.pop(CHALLENGE_KEY, None)
    return base64url_to_bytes(value) if value else None


def registration_finish(
    *, user: Any, session: SessionBase, credential: dict[str, Any], name: str
) -> SecurityKey | None:
    """Stores the key the browser registered, or None if its answer does not verify."""
    challenge = _challenge(session)
    if challenge is None:
        return None
    rp_id, origin = relying_party()
    try:
        verified = verify_registration_response(
            credential=json.dumps(credential),
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return None
    with transaction.atomic():
        key = SecurityKey.objects.create(
            user=user,
            name=name[:64] or "Sikkerhedsnøgle",
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
        )
        audit_record(
            action="twofactor.enrolled",
            obj=user,
            actor=user,
            after={"device": key.name, "kind": SOURCE_WEBAUTHN},
        )
    return key


def authentication_begin(*, user: Any, session: SessionBase) -> str:
    """The options for navigator.credentials.get() with the user's keys, as JSON."""
    rp_id, _origin = relying_party()
    options = generate_authentication_options(rp_id=rp_id, allow_credentials=_descriptors(user))
    session[CHALLENGE_KEY] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def authentication_finish(
    *, user: Any, session: SessionBase, credential: dict[str, Any], address: str
) -> bool:
    """Did one of the user's keys sign this session's challenge? Audit-logged when it did."""
    challenge = _challenge(session)
    key = SecurityKey.objects.filter(user=user, credential_id=str(credential.get("id", ""))).first()
    if challenge is None or key is None:
        return False
    rp_id, origin = relying_party()
    try:
        verified = verify_authentication_response(
            credential=json.dumps(credential),
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=bytes(key.public_key),
            credential_current_sign_count=key.sign_count,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return False
    key.sign_count = verified.new_sign_count
    key.last_used_at = timezone.now()
    key.save(update_fields=["sign_count", "last_used_at"])
    audit_record(
        action="twofactor.verified",
        obj=user,
        actor=user,
        after={"kind": SOURCE_WEBAUTHN, "device": key.name, "source": address},
    )
    return True


def security_key_remove(*, user: Any, key_id: int, actor: Any) -> bool:
    with transaction.atomic():
        key = SecurityKey.objects.filter(user=user, pk=key_id).first()
        if key is None:
            return False
        key.delete()
        if not has_second_factor(user):
            # The recovery codes lead back to a second factor that no longer exists.
            RecoveryCodeDevice.objects.filter(user=user).delete()
        audit_record(
            action="twofactor.device_removed",
            obj=user,
            actor=actor,
            before={"device": key.name, "kind": SOURCE_WEBAUTHN},
        )
    return True
