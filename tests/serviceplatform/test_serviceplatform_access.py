"""Who gets in and how far: public keys registered with the stand-in (a registration needs no
restart), homes that cannot be left, and folders with a fixed shape."""

from __future__ import annotations

import errno

import paramiko
import pytest

from deliveries.serviceplatform.keys import registered_key_add
from deliveries.serviceplatform.models import RegisteredKey
from deliveries.serviceplatform.server import StandinThread
from routes.models import KeyState, SftpKey, SftpUser
from tests.helpers.standin import World, add_key, connect, home


def test_only_keys_registered_with_the_standin_log_in(standin: StandinThread, world: World) -> None:
    # Rule: the stand-in accepts the keys registered with it (its Administrationsmodul), not
    # the portal's key states: a key the portal made, even one it marks active, is refused
    # until it is registered; a registration takes effect without a restart.
    old_key = world.sender.private_key
    SftpKey.objects.filter(sftp_user=world.sender.sftp_user).update(state=KeyState.RETIRED)
    new_key = add_key(world.sender.sftp_user, KeyState.ACTIVE, registered=False)
    with pytest.raises(paramiko.AuthenticationException):
        connect(standin, world.sender, key=new_key)
    # Still registered, so still accepted, whatever the portal now calls it.
    with connect(standin, world.sender, key=old_key) as sftp:
        sftp.listdir("OUT")

    public = SftpKey.objects.get(sftp_user=world.sender.sftp_user, state=KeyState.ACTIVE)
    registered_key_add(
        endpoint=world.endpoint, username=world.sender.username, public_key=public.public_key
    )
    with connect(standin, world.sender, key=new_key) as sftp:
        sftp.listdir("OUT")

    # KOMBIT withdraws the old key: refused at once.
    RegisteredKey.objects.filter(username=world.sender.username).exclude(
        fingerprint=public.fingerprint
    ).delete()
    with pytest.raises(paramiko.AuthenticationException):
        connect(standin, world.sender, key=old_key)


def test_another_users_key_and_passwords_are_refused(standin: StandinThread, world: World) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        connect(standin, world.sender, key=world.flis.private_key)
    transport = paramiko.Transport(("127.0.0.1", standin.port))
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.AuthenticationException):
            transport.auth_password(world.sender.username, "password")
    finally:
        transport.close()


def test_unknown_user_is_refused(standin: StandinThread, world: World) -> None:
    SftpUser.objects.filter(pk=world.sender.sftp_user.pk).update(username="RENAMED")
    with pytest.raises(paramiko.AuthenticationException):
        connect(standin, world.sender)  # logs in as the old name, which no longer exists


def _denied(call, *args) -> OSError:
    with pytest.raises(OSError) as caught:
        call(*args)
    return caught.value


def test_dot_dot_is_refused(standin: StandinThread, world: World) -> None:
    with connect(standin, world.sender) as sftp:
        for path in ("../", "OUT/../../", "OUT/../../../etc/passwd", "..", "IN/.."):
            assert _denied(sftp.stat, path).errno == errno.EACCES
        assert _denied(sftp.open, "OUT/../../escape.txt", "wb").errno == errno.EACCES
    assert not (standin.standin.root.parent / "escape.txt").exists()


def test_absolute_paths_stay_inside_the_home(standin: StandinThread, world: World) -> None:
    with connect(standin, world.sender) as sftp:
        assert sftp.normalize(".") == "/"
        assert _denied(sftp.stat, "/etc/passwd").errno == errno.ENOENT
        assert sorted(sftp.listdir("/")) == ["IN", "OUT"]
        with sftp.open("/OUT/absolute.csv", "wb") as handle:
            handle.write(b"x")
    assert (home(standin, world.sender) / "OUT" / "absolute.csv").read_bytes() == b"x"


def test_symlinks_out_are_refused(standin: StandinThread, world: World) -> None:
    outside = standin.standin.root.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    out = home(standin, world.sender) / "OUT"
    (out / "dir-link").symlink_to(outside)
    (out / "file-link").symlink_to(outside / "secret.txt")
    with connect(standin, world.sender) as sftp:
        # The links themselves can be seen in a listing ...
        assert sorted(sftp.listdir("OUT")) == ["dir-link", "file-link"]
        # ... but not followed, read, written through or listed.
        assert _denied(sftp.listdir, "OUT/dir-link").errno == errno.EACCES
        assert _denied(sftp.open, "OUT/file-link", "rb").errno == errno.EACCES
        assert _denied(sftp.open, "OUT/dir-link/secret.txt", "rb").errno == errno.EACCES
        assert _denied(sftp.stat, "OUT/file-link").errno == errno.EACCES
        # And users cannot make links of their own.
        assert _denied(sftp.symlink, "/etc/passwd", "OUT/mine").errno == errno.EACCES
    assert (outside / "secret.txt").read_text() == "secret"


def test_users_write_only_directly_in_out(standin: StandinThread, world: World) -> None:
    (home(standin, world.sender) / "IN" / "receipt.sftpreceipt").write_text("r")
    with connect(standin, world.sender) as sftp:
        assert _denied(sftp.open, "IN/forged.metadata", "wb").errno == errno.EACCES
        assert _denied(sftp.open, "forged.txt", "wb").errno == errno.EACCES
        assert _denied(sftp.mkdir, "OUT/sub").errno == errno.EACCES
        assert _denied(sftp.rmdir, "IN").errno == errno.EACCES
        assert _denied(sftp.rename, "IN/receipt.sftpreceipt", "OUT/x").errno == errno.EACCES
        assert _denied(sftp.chmod, "IN/receipt.sftpreceipt", 0).errno == errno.EACCES
        assert _denied(sftp.chmod, "IN", 0).errno == errno.EACCES
        # Reading and cleaning up IN/ is allowed: that is how recipients fetch.
        with sftp.open("IN/receipt.sftpreceipt", "rb") as handle:
            assert _denied(handle.chmod, 0).errno == errno.EACCES
            assert handle.read() == b"r"
        sftp.remove("IN/receipt.sftpreceipt")
        with sftp.open("OUT/mine.csv", "wb") as handle:
            handle.write(b"data")
            # Only times may be set, even on one's own upload (issue #14).
            assert _denied(handle.chmod, 0o600).errno == errno.EACCES
            handle.utime((1_700_000_000, 1_700_000_000))
        assert _denied(sftp.chmod, "OUT/mine.csv", 0o640).errno == errno.EACCES
        sftp.remove("OUT/mine.csv")
        assert sftp.listdir("IN") == [] and sftp.listdir("OUT") == []


def test_one_users_home_is_not_reachable_from_another(standin: StandinThread, world: World) -> None:
    (home(standin, world.flis) / "IN" / "flis-only.csv").write_text("x")
    with connect(standin, world.sender) as sftp:
        assert _denied(sftp.stat, f"/{world.flis.username}/IN/flis-only.csv").errno == errno.ENOENT
        assert _denied(sftp.stat, f"../{world.flis.username}/IN").errno == errno.EACCES
