"""deliveries/sftp.py against a real OpenSSH sshd on a loopback port (tests/helpers/sshd.py).

Every fault the push job must tell apart is produced for real: a wrong host key, a wrong client
key, a closed port, a server that never answers, a server killed mid-upload, a server that refuses
writes.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from deliveries.sftp import (
    CHUNK_SIZE,
    SftpError,
    Timeouts,
    connect,
    open_for_endpoint,
    retry_delay,
)
from routes.keys import KeyPair, fingerprint_of, generate_key_pair
from routes.models import Endpoint, SftpUser
from tests.helpers.net import free_port
from tests.helpers.sshd import SshServer, start_sshd

# Short timeouts keep the failure tests fast; the happy paths never come near them.
FAST = Timeouts(connect=3, banner=2, auth=3, operation=5)


@pytest.fixture(scope="module")
def client_key() -> KeyPair:
    return generate_key_pair("ed25519", comment="flisportal-test")


@pytest.fixture(scope="module")
def other_key() -> KeyPair:
    """A valid key pair the server does not know."""
    return generate_key_pair("ed25519", comment="stranger")


@pytest.fixture(scope="module")
def rsa_key() -> KeyPair:
    return generate_key_pair("rsa", comment="flisportal-rsa")


@pytest.fixture(scope="module")
def sshd(
    tmp_path_factory: pytest.TempPathFactory, client_key: KeyPair, rsa_key: KeyPair
) -> Iterator[SshServer]:
    server = start_sshd(
        tmp_path_factory.mktemp("sshd"),
        authorized_keys=[client_key.public_openssh, rsa_key.public_openssh],
    )
    yield server
    server.stop()


@pytest.fixture
def remote_dir(tmp_path: Path) -> Path:
    """A folder the sshd user writes into; the test reads results straight from disk."""
    folder = tmp_path / "OUT"
    folder.mkdir()
    return folder


def _connect(server: SshServer, key: KeyPair, **overrides):
    options: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "username": server.username,
        "private_key": key.private_openssh,
        "pinned_host_key": server.host_key_line,
        "large_writes": False,
        "timeouts": FAST,
    }
    options.update(overrides)
    return connect(**options)


@pytest.mark.parametrize("large_writes", [False, True], ids=["32k-writes", "255k-writes"])
@pytest.mark.parametrize("size", [0, 1, 32 * 1024 + 1, CHUNK_SIZE + 12345, 3 * CHUNK_SIZE])
def test_round_trip(sshd, client_key, remote_dir, tmp_path, size, large_writes):
    data = random.Random(size).randbytes(size)
    local = tmp_path / "local.csv"
    local.write_bytes(data)
    remote = str(remote_dir / "data.csv")

    with _connect(sshd, client_key, large_writes=large_writes) as sftp:
        assert sftp.cipher == "aes128-gcm@openssh.com"
        assert sftp.upload(local, remote, size=size) == size
        assert sftp.remote_size(remote) == size
        target = io.BytesIO()
        assert sftp.download(remote, target) == (size, hashlib.sha256(data).hexdigest())

    assert (remote_dir / "data.csv").read_bytes() == data
    assert target.getvalue() == data


def test_upload_from_django_storage_and_rsa_key(sshd, rsa_key, remote_dir, tmp_path):
    storage = FileSystemStorage(location=tmp_path / "media")
    data = os.urandom(2 * CHUNK_SIZE + 3)
    name = storage.save("uploads/extract.csv", ContentFile(data))

    with _connect(sshd, rsa_key) as sftp, storage.open(name, "rb") as source:
        assert sftp.upload(source, str(remote_dir / "extract.csv")) == len(data)
        # The caller's file stays open: it owns it.
        assert not source.closed

    assert (remote_dir / "extract.csv").read_bytes() == data


def test_leftover_partial_file_is_overwritten(sshd, client_key, remote_dir):
    # An earlier, interrupted try left a longer file with other bytes behind.
    (remote_dir / "data.csv").write_bytes(b"x" * (CHUNK_SIZE * 2))
    data = b"id;navn\n1;Hansen\n"

    with _connect(sshd, client_key, large_writes=True) as sftp:
        sftp.upload(io.BytesIO(data), str(remote_dir / "data.csv"))
        assert sftp.remote_size(str(remote_dir / "data.csv")) == len(data)

    assert (remote_dir / "data.csv").read_bytes() == data


def test_size_mismatch_is_permanent(sshd, client_key, remote_dir):
    with _connect(sshd, client_key) as sftp, pytest.raises(SftpError) as caught:
        sftp.upload(io.BytesIO(b"12345"), str(remote_dir / "data.csv"), size=6)
    assert caught.value.permanent
    assert "ventet 6" in str(caught.value)


def test_listdir_rename_remove(sshd, client_key, remote_dir):
    (remote_dir / "b.sftpreceipt").write_text("<r/>")
    (remote_dir / "a.csv").write_text("a")

    with _connect(sshd, client_key) as sftp:
        assert sftp.listdir(str(remote_dir)) == ["a.csv", "b.sftpreceipt"]
        sftp.rename(str(remote_dir / "a.csv"), str(remote_dir / "c.csv"))
        sftp.remove(str(remote_dir / "b.sftpreceipt"))
        assert sftp.listdir(str(remote_dir)) == ["c.csv"]

    assert sorted(p.name for p in remote_dir.iterdir()) == ["c.csv"]


def test_missing_file_is_permanent(sshd, client_key, remote_dir):
    with _connect(sshd, client_key) as sftp:
        with pytest.raises(SftpError) as caught:
            sftp.download(str(remote_dir / "nope.xml"), io.BytesIO())
        assert caught.value.permanent
        assert "findes ikke" in str(caught.value)
        # The session is still usable after a refused operation.
        assert sftp.listdir(str(remote_dir)) == []


def test_pinned_fingerprint_is_accepted(sshd, client_key, remote_dir):
    pinned = f"# pinned by fingerprint\n{fingerprint_of(sshd.host_key_line)}\n"
    with _connect(sshd, client_key, pinned_host_key=pinned) as sftp:
        assert sftp.listdir(str(remote_dir)) == []


def test_pinned_rsa_key_is_asked_for_first(tmp_path, client_key, remote_dir):
    # The server has an Ed25519 and an RSA host key; only the RSA one is pinned (as for a
    # platform that publishes its RSA key). The client must ask for RSA, not fail on Ed25519.
    server = start_sshd(
        tmp_path / "sshd-rsa",
        authorized_keys=[client_key.public_openssh],
        host_key_types=("ed25519", "rsa"),
    )
    try:
        pinned = f"[{server.host}]:{server.port} {server.host_key_lines['rsa']}"
        with _connect(server, client_key, pinned_host_key=pinned) as sftp:
            assert sftp.listdir(str(remote_dir)) == []
    finally:
        server.stop()


def test_wrong_host_key_is_refused_before_login(sshd, other_key):
    pinned = generate_key_pair("ed25519").public_openssh
    # other_key is not authorized: had the client logged in first, this would be an auth error.
    with pytest.raises(SftpError) as caught:
        with _connect(sshd, other_key, pinned_host_key=pinned):
            pytest.fail("connected despite a wrong host key")
    error = caught.value
    assert error.permanent
    assert fingerprint_of(sshd.host_key_line) in str(error)
    assert "anden værtsnøgle end den fastlåste" in str(error)
    assert "administrator" in str(error)


def test_no_pinned_host_key_is_permanent(sshd, client_key):
    with pytest.raises(SftpError) as caught:
        with _connect(sshd, client_key, pinned_host_key="  \n# nothing pinned yet\n"):
            pytest.fail("connected without a pinned host key")
    assert caught.value.permanent
    assert "ingen fastlåst værtsnøgle" in str(caught.value)
    assert fingerprint_of(sshd.host_key_line) in str(caught.value)


def test_unreadable_pinned_host_key_is_permanent(sshd, client_key):
    with pytest.raises(SftpError) as caught:
        with _connect(sshd, client_key, pinned_host_key="not a key"):
            pytest.fail("connected with a broken pin")
    assert caught.value.permanent
    assert "kan ikke læses" in str(caught.value)


def test_wrong_client_key_is_permanent(sshd, other_key):
    with pytest.raises(SftpError) as caught:
        with _connect(sshd, other_key):
            pytest.fail("logged in with an unknown key")
    assert caught.value.permanent
    assert "afviste login" in str(caught.value)
    assert other_key.fingerprint in str(caught.value)


def test_unreadable_private_key_is_permanent(sshd):
    with pytest.raises(SftpError) as caught:
        with connect(
            host=sshd.host,
            port=sshd.port,
            username=sshd.username,
            private_key=b"-----BEGIN OPENSSH PRIVATE KEY-----\ngarbage\n",
            pinned_host_key=sshd.host_key_line,
            timeouts=FAST,
        ):
            pytest.fail("connected with a broken key")
    assert caught.value.permanent


def test_connection_refused_is_transient(sshd, client_key):
    port = free_port()  # bound and released again: nothing listens there
    started = time.monotonic()
    with pytest.raises(SftpError) as caught:
        with _connect(sshd, client_key, port=port):
            pytest.fail("connected to a closed port")
    assert not caught.value.permanent
    assert "afvist" in str(caught.value)
    assert time.monotonic() - started < 2


def test_silent_server_times_out_as_transient(silent_server, client_key):
    timeouts = Timeouts(connect=2, banner=1, auth=1, operation=1)
    started = time.monotonic()
    with pytest.raises(SftpError) as caught:
        with connect(
            host="127.0.0.1",
            port=silent_server,
            username="nobody",
            private_key=client_key.private_openssh,
            pinned_host_key=client_key.public_openssh,
            timeouts=timeouts,
        ):
            pytest.fail("a silent server cannot complete a handshake")
    elapsed = time.monotonic() - started
    assert not caught.value.permanent
    assert "svarede ikke inden for 1 sekund," in str(caught.value)
    # The banner timeout (1 s) ends the wait, with a little slack for a busy machine.
    assert 0.9 <= elapsed < 4


class _KillsServerAfter(io.RawIOBase):
    """A source file that kills the server once `after` bytes have been read from it."""

    def __init__(self, server: SshServer, total: int, after: int) -> None:
        self.server, self.left, self.after, self.read_so_far = server, total, after, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.read_so_far >= self.after and self.server.process.poll() is None:
            self.server.kill()
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        self.read_so_far += size
        return b"\0" * size


def test_server_killed_mid_upload_is_transient(tmp_path, client_key, remote_dir):
    server = start_sshd(tmp_path / "sshd-doomed", authorized_keys=[client_key.public_openssh])
    try:
        source = _KillsServerAfter(server, total=64 * CHUNK_SIZE, after=3 * CHUNK_SIZE)
        started = time.monotonic()
        with pytest.raises(SftpError) as caught:
            with _connect(server, client_key, large_writes=True) as sftp:
                sftp.upload(source, str(remote_dir / "data.csv"))
        assert server.process.poll() is not None, "the server was not killed"
        assert not caught.value.permanent
        assert "afbrudt" in str(caught.value) or "svarede ikke" in str(caught.value)
        assert time.monotonic() - started < FAST.operation + 3
    finally:
        server.kill()


def test_server_gone_before_connect_is_transient(tmp_path, client_key):
    server = start_sshd(tmp_path / "sshd-gone", authorized_keys=[client_key.public_openssh])
    server.stop()
    with pytest.raises(SftpError) as caught:
        with _connect(server, client_key):
            pytest.fail("connected to a stopped server")
    assert not caught.value.permanent


def test_write_refused_by_server_is_permanent(tmp_path, client_key, remote_dir):
    # internal-sftp -R refuses every write with SSH_FX_PERMISSION_DENIED, as a read-only
    # folder would (file modes do not stop root, which runs these tests).
    server = start_sshd(
        tmp_path / "sshd-readonly", authorized_keys=[client_key.public_openssh], read_only=True
    )
    try:
        with _connect(server, client_key) as sftp:
            with pytest.raises(SftpError) as caught:
                sftp.upload(io.BytesIO(b"data"), str(remote_dir / "data.csv"))
            assert caught.value.permanent
            assert "nægtede adgang" in str(caught.value)
            with pytest.raises(SftpError) as caught:
                sftp.remove(str(remote_dir))
            assert caught.value.permanent
        assert not (remote_dir / "data.csv").exists()
    finally:
        server.stop()


def test_retry_delay_grows_with_jitter_and_is_capped():
    rng = random.Random(1)
    delays = [retry_delay(n, base=10, cap=100, rng=rng) for n in range(1, 8)]
    steps = [10, 20, 40, 80, 100, 100, 100]
    for delay, step in zip(delays, steps, strict=True):
        assert step / 2 <= delay <= step
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not constant


class _RecordingReader(io.RawIOBase):
    """A large source that records how much each read asked for."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.asked: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.asked.append(size)
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return b"\1" * size


def test_upload_streams_in_chunks(sshd, client_key, remote_dir):
    source = _RecordingReader(5 * CHUNK_SIZE + 1)
    with _connect(sshd, client_key, large_writes=True) as sftp:
        assert sftp.upload(source, str(remote_dir / "big.csv")) == 5 * CHUNK_SIZE + 1
    # Never "read everything": memory stays at one chunk whatever the file size.
    assert set(source.asked) == {CHUNK_SIZE}
    assert (remote_dir / "big.csv").stat().st_size == 5 * CHUNK_SIZE + 1


def test_open_for_endpoint_uses_the_endpoint(sshd, client_key, remote_dir):
    endpoint = Endpoint(
        slug="lokal",
        name="Lokal sshd",
        host=sshd.host,
        port=sshd.port,
        host_key=f"[{sshd.host}]:{sshd.port} {sshd.host_key_line}",
        large_writes=True,
    )
    sftp_user = SftpUser(endpoint=endpoint, username=sshd.username)
    with open_for_endpoint(
        sftp_user=sftp_user, private_key=client_key.private_openssh, timeouts=FAST
    ) as sftp:
        assert sftp.large_writes
        assert sftp.listdir(str(remote_dir)) == []


def test_timeouts_come_from_settings(settings):
    settings.SFTP_CONNECT_TIMEOUT = 4
    settings.SFTP_BANNER_TIMEOUT = 5
    settings.SFTP_AUTH_TIMEOUT = 6
    settings.SFTP_OPERATION_TIMEOUT = 7
    assert Timeouts.from_settings() == Timeouts(connect=4, banner=5, auth=6, operation=7)


@pytest.fixture
def own_sshd(tmp_path: Path, client_key: KeyPair) -> Iterator[SshServer]:
    """A server of the test's own, for tests that freeze or kill it."""
    server = start_sshd(tmp_path / "sshd-own", authorized_keys=[client_key.public_openssh])
    yield server
    try:
        server.thaw()
    finally:
        server.kill()  # never left running, whatever thaw met


def test_hung_server_times_out_as_transient(own_sshd, client_key, remote_dir):
    timeouts = Timeouts(connect=2, banner=2, auth=2, operation=1)
    with _connect(own_sshd, client_key, timeouts=timeouts) as sftp:
        assert sftp.listdir(str(remote_dir)) == []
        own_sshd.freeze()
        started = time.monotonic()
        with pytest.raises(SftpError) as caught:
            sftp.listdir(str(remote_dir))
        elapsed = time.monotonic() - started
        own_sshd.thaw()
    assert not caught.value.permanent
    assert "svarede ikke" in str(caught.value)
    assert 0.9 <= elapsed < 4


class _FreezesServerAfter(_RecordingReader):
    def __init__(self, server: SshServer, total: int, after: int) -> None:
        super().__init__(total)
        self.server, self.after, self.read_so_far = server, after, 0

    def read(self, size: int = -1) -> bytes:
        if self.read_so_far == self.after:
            self.server.freeze()
        data = super().read(size)
        self.read_so_far += len(data)
        return data


def test_server_hanging_mid_upload_times_out_as_transient(own_sshd, client_key, remote_dir):
    timeouts = Timeouts(connect=2, banner=2, auth=2, operation=2)
    source = _FreezesServerAfter(own_sshd, total=64 * CHUNK_SIZE, after=2 * CHUNK_SIZE)
    started = time.monotonic()
    with pytest.raises(SftpError) as caught:
        with _connect(own_sshd, client_key, timeouts=timeouts, large_writes=True) as sftp:
            sftp.upload(source, str(remote_dir / "data.csv"))
    # The send window (2 MiB) fills within a few chunks; then the operation timeout ends it,
    # once: the half-written file is not closed politely, which would wait out a second one.
    assert source.read_so_far < 64 * CHUNK_SIZE
    assert not caught.value.permanent
    assert time.monotonic() - started < 2 * timeouts.operation - 0.5


class _KillsServerOnWrite(io.RawIOBase):
    def __init__(self, server: SshServer, after: int) -> None:
        self.server, self.after, self.written = server, after, 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.written += len(data)
        if self.written >= self.after:
            self.server.kill()
        return len(data)


def test_server_killed_mid_download_is_transient(own_sshd, client_key, remote_dir):
    (remote_dir / "big.csv").write_bytes(b"\2" * (32 * CHUNK_SIZE))
    target = _KillsServerOnWrite(own_sshd, after=CHUNK_SIZE)
    started = time.monotonic()
    with pytest.raises(SftpError) as caught:
        with _connect(own_sshd, client_key) as sftp:
            sftp.download(str(remote_dir / "big.csv"), target)
    assert not caught.value.permanent
    assert target.written < 32 * CHUNK_SIZE
    assert time.monotonic() - started < FAST.operation + 3


def test_download_survives_short_reads(sshd, client_key, remote_dir, monkeypatch):
    # OpenSSH's server answers a read with at most ~255 KiB; asking for 512 KiB per request
    # makes every reply short, so the download must re-ask from where each one ended.
    monkeypatch.setattr("deliveries.sftp.LARGE_WRITE_SIZE", 512 * 1024)
    data = random.Random(7).randbytes(3 * CHUNK_SIZE + 999)
    (remote_dir / "big.csv").write_bytes(data)
    target = io.BytesIO()
    with _connect(sshd, client_key, large_writes=True) as sftp:
        assert sftp.download(str(remote_dir / "big.csv"), target) == (
            len(data),
            hashlib.sha256(data).hexdigest(),
        )
    assert target.getvalue() == data


class _BrokenLocalFile(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise FileNotFoundError(2, "No such file or directory", "private/deliveries/x.csv")


def test_local_read_error_is_not_blamed_on_the_server(sshd, client_key, remote_dir):
    with _connect(sshd, client_key) as sftp:
        with pytest.raises(SftpError) as caught:
            sftp.upload(_BrokenLocalFile(), str(remote_dir / "data.csv"))
        assert "Den lokale fil" in str(caught.value)
        assert "serveren" not in str(caught.value).lower()
        assert not caught.value.permanent
        # The session goes on.
        assert sftp.listdir(str(remote_dir)) == ["data.csv"]


def test_server_hanging_before_sftp_starts_times_out(own_sshd, client_key, monkeypatch):
    # Freeze the server right after login, just before the client asks for the SFTP subsystem:
    # paramiko would wait for the answer forever.
    original = paramiko.Channel.invoke_subsystem

    def freeze_then_invoke(channel, subsystem):
        own_sshd.freeze()
        return original(channel, subsystem)

    monkeypatch.setattr(paramiko.Channel, "invoke_subsystem", freeze_then_invoke)
    timeouts = Timeouts(connect=2, banner=2, auth=2, operation=1)
    started = time.monotonic()
    with pytest.raises(SftpError) as caught:
        with _connect(own_sshd, client_key, timeouts=timeouts):
            pytest.fail("SFTP started on a frozen server")
    assert not caught.value.permanent
    assert time.monotonic() - started < 4
