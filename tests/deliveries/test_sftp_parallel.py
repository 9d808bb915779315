"""One file over several SFTP connections at once (deliveries/sftp.py `upload_in_parts`),
against a real OpenSSH sshd on a loopback port (tests/helpers/sshd.py).

The rules held here: the parts, written at their offsets over connections of their own, make
the file byte for byte; a failing part fails the whole upload (so the push retries it and
writes no trigger) and stops the other parts; each part reads its own range in chunks, so
memory stays flat.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from deliveries import sftp
from deliveries.messages import text
from deliveries.sftp import CHUNK_SIZE, SftpError, Timeouts, connect, part_ranges, upload_in_parts
from routes.keys import KeyPair, generate_key_pair
from tests.helpers.sshd import SshServer, start_sshd

FAST = Timeouts(connect=3, banner=2, auth=3, operation=5)


@pytest.fixture(scope="module")
def client_key() -> KeyPair:
    return generate_key_pair("ed25519", comment="flisportal-parallel")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory, client_key: KeyPair) -> Iterator[SshServer]:
    server = start_sshd(
        tmp_path_factory.mktemp("sshd"), authorized_keys=[client_key.public_openssh]
    )
    yield server
    server.stop()


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of one chunk at least, so a test file of a few MiB is split."""
    monkeypatch.setattr(sftp, "MIN_PART_SIZE", CHUNK_SIZE)


def _connect(server: SshServer, key: KeyPair, **overrides: Any):
    options: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "username": server.username,
        "private_key": key.private_openssh,
        "pinned_host_key": server.host_key_line,
        "large_writes": True,
        "timeouts": FAST,
    }
    options.update(overrides)
    return connect(**options)


class _Opener:
    """Opens the local file at an offset, recording the offsets and every read's size."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.starts: list[int] = []
        self.asked: list[int] = []

    def __call__(self, start: int) -> IO[bytes]:
        self.starts.append(start)
        handle = open(self.path, "rb")
        handle.seek(start)
        opener = self

        class Recording(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def read(self, size: int = -1) -> bytes:
                opener.asked.append(size)
                return handle.read(size)

            def close(self) -> None:
                handle.close()
                super().close()

        return Recording()


def test_part_ranges_cover_the_file_without_gaps_and_keep_small_files_whole():
    size = 100 * CHUNK_SIZE + 7
    ranges = part_ranges(size, 3)
    assert len(ranges) == 3
    assert ranges[0][0] == 0 and ranges[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    # Below two minimum parts, one connection: the extra login costs more than it saves.
    assert part_ranges(2 * sftp.MIN_PART_SIZE - 1, 4) == [(0, 2 * sftp.MIN_PART_SIZE - 1)]
    assert part_ranges(size, 1) == [(0, size)]
    assert part_ranges(0, 3) == [(0, 0)]


@pytest.mark.parametrize("connections", [2, 3])
def test_parts_written_at_offsets_reassemble_byte_exact(
    sshd, client_key, tmp_path, small_parts, connections
):
    data = os.urandom(3 * CHUNK_SIZE + 12_345)
    local = tmp_path / "extract.csv"
    local.write_bytes(data)
    remote = tmp_path / "remote.csv"
    remote.write_bytes(b"x" * (len(data) + 999))  # a longer partial file from an earlier try
    opener = _Opener(local)
    logins: list[int] = []

    def more() -> Any:
        logins.append(1)
        return _connect(sshd, client_key)

    with _connect(sshd, client_key) as first:
        upload_in_parts(
            first,
            open_connection=more,
            open_source=opener,
            remote_path=str(remote),
            size=len(data),
            connections=connections,
        )
    assert hashlib.sha256(remote.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert len(logins) == connections - 1  # every part but the first on its own connection
    assert sorted(opener.starts) == [start for start, _ in part_ranges(len(data), connections)]
    # Each part reads in chunks, never "everything": memory stays flat.
    assert max(opener.asked) <= CHUNK_SIZE and -1 not in opener.asked


class _BreaksAfter(io.RawIOBase):
    """A local part that fails to read after `after` bytes, as a broken disk would."""

    def __init__(self, after: int) -> None:
        self.left = after

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError("I/O error")
        size = min(size, self.left)
        self.left -= size
        return b"\2" * size


def test_a_failing_part_fails_the_upload_and_stops_the_others(
    sshd, client_key, tmp_path, small_parts
):
    size = 64 * CHUNK_SIZE
    first_reads: list[int] = []

    class Slow(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            first_reads.append(n)
            return b"\1" * n

    def open_source(start: int) -> IO[bytes]:
        return Slow() if start == 0 else _BreaksAfter(CHUNK_SIZE)  # type: ignore[return-value]

    with _connect(sshd, client_key) as first, pytest.raises(SftpError) as caught:
        upload_in_parts(
            first,
            open_connection=lambda: _connect(sshd, client_key),
            open_source=open_source,
            remote_path=str(tmp_path / "remote.csv"),
            size=size,
            connections=2,
        )
    # The local read error of the second part is what is reported, as transient: retried.
    assert caught.value.said is not None and caught.value.said.code == "sftp.local_read"
    assert not caught.value.permanent
    # The first part stopped instead of writing its 32 MiB to the end.
    assert len(first_reads) < 32


def test_a_refused_extra_login_fails_the_upload(sshd, client_key, tmp_path, small_parts):
    data = os.urandom(2 * CHUNK_SIZE)
    local = tmp_path / "extract.csv"
    local.write_bytes(data)

    def refused() -> Any:
        raise SftpError(text("sftp.connection_refused", where="127.0.0.1:1"), permanent=False)

    with _connect(sshd, client_key) as first, pytest.raises(SftpError) as caught:
        upload_in_parts(
            first,
            open_connection=refused,
            open_source=_Opener(local),
            remote_path=str(tmp_path / "remote.csv"),
            size=len(data),
            connections=2,
        )
    assert caught.value.said is not None
    assert caught.value.said.code == "sftp.connection_refused"
    assert not caught.value.permanent


def test_a_permanent_fault_of_any_part_wins_over_a_transient_one():
    transient = SftpError("kort afbrydelse", permanent=False)
    permanent = SftpError("adgang nægtet", permanent=True)
    with pytest.raises(SftpError) as caught:
        sftp._raise_part_failure([transient, sftp._Cancelled(), permanent])
    assert caught.value is permanent
    sftp._raise_part_failure([sftp._Cancelled()])  # only stopped parts: nothing to report
