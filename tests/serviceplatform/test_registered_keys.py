"""The stand-in's own register of public keys (its Administrationsmodul): filled for users it
meets for the first time when it starts (so the demo data logs in), and after that only by an
explicit registration, in the admin or with `manage.py serviceplatform_register_key`."""

from __future__ import annotations

from io import StringIO

import asyncssh
import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from deliveries.serviceplatform.models import RegisteredKey
from deliveries.serviceplatform.server import endpoint_register_standin
from routes import services
from routes.keys import generate_key_pair
from routes.models import Endpoint, KeyState, SftpKey, SftpUser, User
from tests import factories

pytestmark = pytest.mark.django_db


def start_standin() -> None:
    """What the stand-in does on its Endpoint when it starts (without serving anything)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    endpoint_register_standin(slug="lokal", key=key, host="127.0.0.1", port=2222)


def registered(sftp_user: SftpUser) -> set[str]:
    return set(
        RegisteredKey.objects.filter(
            endpoint=sftp_user.endpoint, username=sftp_user.username
        ).values_list("fingerprint", flat=True)
    )


@pytest.fixture
def sender(db: None) -> SftpUser:
    user = factories.sftp_user(factories.sender_system("A"), "LEV-A_FLIS_SFTP")
    services.sftp_key_generate(sftp_user=user, algorithm="ed25519", actor=None)
    return user


def test_the_standin_knows_the_demo_keys_once_it_starts(settings):
    # Rule: `make run` (demodata, then the stand-in) pushes and fetches with the demo keys.
    settings.DEBUG = True  # demodata runs in development only
    call_command("demodata", stdout=StringIO())
    start_standin()
    users = SftpUser.objects.filter(endpoint__slug="lokal")
    assert users.exists()
    for user in users:
        assert registered(user) == {user.keys.get(state=KeyState.ACTIVE).fingerprint}


def test_a_restart_does_not_register_a_rotated_key(sender):
    # Rule: only a user the stand-in has never met gets its current key registered on start;
    # a rotated key must be registered explicitly, as at KOMBIT, or a rotation confirmed too
    # early would work here and fail on the real platform.
    start_standin()
    old = sender.keys.get(state=KeyState.ACTIVE).fingerprint
    services.sftp_key_rotate(sftp_user=sender, algorithm="ed25519", actor=None)
    services.sftp_key_confirm_rotation(sftp_user=sender, actor=None)
    start_standin()
    assert registered(sender) == {old}


def test_the_command_registers_a_key_once(sender):
    new = services.sftp_key_rotate(sftp_user=sender, algorithm="ed25519", actor=None)
    for _ in range(2):
        out = StringIO()
        call_command("serviceplatform_register_key", sender.username, new.public_key, stdout=out)
        assert f"Nøglen {new.fingerprint} er registreret for {sender.username}" in out.getvalue()
    assert registered(sender) == {new.fingerprint}


@pytest.mark.parametrize(
    ("username", "public_key", "endpoint", "message"),
    [
        ("NOBODY", None, "lokal", "har ingen SFTP-bruger 'NOBODY'"),
        (None, "ssh-rsa not-a-key", "lokal", "Den offentlige nøgle kan ikke læses"),
        (None, None, "exttest", "intet stand-in-endpoint med koden 'exttest'"),
    ],
)
def test_the_command_refuses_with_what_to_do(sender, username, public_key, endpoint, message):
    key = public_key or generate_key_pair("ed25519").public_openssh
    with pytest.raises(CommandError, match=message):
        call_command(
            "serviceplatform_register_key",
            username or sender.username,
            key,
            endpoint=endpoint,
            stdout=StringIO(),
        )
    assert not RegisteredKey.objects.exists()


def test_an_administrator_registers_a_key_in_the_admin(client: Client, admin_user: User, sender):
    # Rule: the admin's add form is the stand-in's "KOMBIT registers the key"; the fingerprint
    # is computed, a key registered twice or for another endpoint is refused with a reason.
    new = services.sftp_key_rotate(sftp_user=sender, algorithm="ed25519", actor=None)
    client.force_login(admin_user)
    url = reverse("admin:serviceplatform_registeredkey_add")
    form = {
        "endpoint": Endpoint.objects.get(slug="lokal").pk,
        "username": sender.username,
        "public_key": new.public_key,
    }
    assert client.post(url, form).status_code == 302
    assert registered(sender) == {new.fingerprint}

    again = client.post(url, form).content.decode()
    assert "Nøglen er allerede registreret for brugeren." in again
    elsewhere = client.post(url, {**form, "endpoint": Endpoint.objects.get(slug="exttest").pk})
    assert "Kun en lokal stand-in har sit eget nøgleregister" in elsewhere.content.decode()
    assert RegisteredKey.objects.count() == 1
    # KOMBIT registering a key is not the portal confirming it: the portal's key still waits.
    assert SftpKey.objects.filter(state=KeyState.PENDING).get() == new
