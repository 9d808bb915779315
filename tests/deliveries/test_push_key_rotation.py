"""Key rotation against the real stand-in: a rotated key is used only once someone confirms
that the Serviceplatform has registered it, and the stand-in knows only the keys registered
with it, so a rotation confirmed too early fails the way it would on the real platform."""

from __future__ import annotations

import pytest

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.serviceplatform.keys import registered_key_add
from deliveries.serviceplatform.models import RegisteredKey
from deliveries.services.push import delivery_push
from deliveries.services.sftp_login import sftp_login_as
from routes import services
from routes.keys import load_private_key
from routes.models import KeyState, SftpKey

pytestmark = pytest.mark.redis

S = DeliveryStatus


def _login_fingerprint(world) -> str:
    """The fingerprint of the key push and fetch log in with now."""
    login = sftp_login_as(sftp_user=world.sender.sftp_user)
    return load_private_key(login.private_key).fingerprint


def test_rotated_key_is_used_only_after_it_is_registered_and_confirmed(world, pushable):
    # Rule: "Rotér nøgle" must not switch logins to a key KOMBIT does not know yet; the old
    # key goes on working until the registration is confirmed, then the new one takes over.
    sender = world.sender.sftp_user
    old = SftpKey.objects.get(sftp_user=sender, state=KeyState.ACTIVE)
    new = services.sftp_key_rotate(sftp_user=sender, algorithm="ed25519", actor=None)

    # Pending: the stand-in knows only the old key, and the push still gets through.
    assert _login_fingerprint(world) == old.fingerprint
    delivery = pushable(b"x;y\n")
    assert delivery_push(delivery_id=delivery.pk) == S.SENT

    # KOMBIT registers the new key, someone confirms, and KOMBIT drops the old one: a push
    # that gets through now can only have used the new key.
    registered_key_add(endpoint=world.endpoint, username=sender.username, public_key=new.public_key)
    services.sftp_key_confirm_rotation(sftp_user=sender, actor=None)
    RegisteredKey.objects.filter(username=sender.username, fingerprint=old.fingerprint).delete()
    assert _login_fingerprint(world) == new.fingerprint
    delivery = pushable(b"x;y\n")
    assert delivery_push(delivery_id=delivery.pk) == S.SENT


def test_rotation_confirmed_before_registration_fails_as_a_login_refusal(world, pushable):
    # Rule: the stand-in does not take the portal's word for which keys are registered: a
    # rotation confirmed before KOMBIT registered the key is refused at login, permanently, with
    # a message that names the key and says what to do (the portal does not fall back).
    sender = world.sender.sftp_user
    new = services.sftp_key_rotate(sftp_user=sender, algorithm="ed25519", actor=None)
    services.sftp_key_confirm_rotation(sftp_user=sender, actor=None)

    delivery = pushable(b"x;y\n")
    assert delivery_push(delivery_id=delivery.pk) == S.FAILED
    delivery.refresh_from_db()
    assert delivery.push_attempts == 1  # permanent: not retried
    assert f"afviste login for SFTP-brugeren {sender.username}" in delivery.last_error
    assert new.fingerprint in delivery.last_error
    assert "prøver ikke en anden" in delivery.last_error
    assert "KOMBITs Administrationsmodul" in delivery.last_error
