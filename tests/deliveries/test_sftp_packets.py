"""The SFTP client's lean packet writer (deliveries/sftp.py `_LeanPacketizer`) against a real
OpenSSH sshd on a loopback port.

The rules held here: under AES-GCM every packet of an upload goes through the lean path (a
paramiko upgrade that renames its fields would silently fall back, and this test says so);
the bytes arrive unchanged across a key re-exchange in mid-file, which resets the cipher state
the lean path reads.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import paramiko
import pytest

from deliveries import sftp
from deliveries.sftp import CHUNK_SIZE, Timeouts, connect
from routes.keys import KeyPair, generate_key_pair
from tests.helpers.sshd import SshServer, start_sshd

FAST = Timeouts(connect=3, banner=2, auth=3, operation=5)


@pytest.fixture(scope="module")
def client_key() -> KeyPair:
    return generate_key_pair("ed25519", comment="flisportal-packets")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory, client_key: KeyPair) -> Iterator[SshServer]:
    keys = [client_key.public_openssh]
    server = start_sshd(tmp_path_factory.mktemp("sshd"), authorized_keys=keys)
    yield server
    server.stop()


def _connect(server: SshServer, key: KeyPair):
    return connect(
        host=server.host,
        port=server.port,
        username=server.username,
        private_key=key.private_openssh,
        pinned_host_key=server.host_key_line,
        large_writes=True,
        timeouts=FAST,
    )


def test_every_packet_of_an_upload_takes_the_lean_path(sshd, client_key, tmp_path, monkeypatch):
    data = os.urandom(3 * CHUNK_SIZE + 99)
    fallbacks: list[int] = []
    paramiko_send = paramiko.Packetizer.send_message

    def counted(self, message):
        fallbacks.append(1)
        return paramiko_send(self, message)

    with _connect(sshd, client_key) as connection:
        assert connection.cipher == "aes128-gcm@openssh.com"
        monkeypatch.setattr(paramiko.Packetizer, "send_message", counted)
        remote = str(tmp_path / "data.csv")
        local = tmp_path / "local.csv"
        local.write_bytes(data)
        assert connection.upload(local, remote) == len(data)
    assert fallbacks == []
    assert (tmp_path / "data.csv").read_bytes() == data


def test_the_bytes_survive_a_key_reexchange_in_mid_file(sshd, client_key, tmp_path, monkeypatch):
    data = os.urandom(6 * CHUNK_SIZE + 7)
    local = tmp_path / "local.csv"
    local.write_bytes(data)
    rekeys: list[int] = []
    trigger = sftp._LeanPacketizer._trigger_rekey

    def counted(self):
        rekeys.append(1)
        trigger(self)

    monkeypatch.setattr(sftp._LeanPacketizer, "_trigger_rekey", counted)
    with _connect(sshd, client_key) as connection:
        # paramiko re-keys after 512 MiB; here after each 2 MiB, so a 6 MiB file crosses it.
        connection._transport.packetizer.REKEY_BYTES = 2 * CHUNK_SIZE
        assert connection.upload(local, str(tmp_path / "data.csv")) == len(data)
        assert connection.remote_size(str(tmp_path / "data.csv")) == len(data)
    assert len(rekeys) >= 2
    assert (tmp_path / "data.csv").read_bytes() == data


def test_a_download_reads_each_answer_with_one_join(sshd, client_key, tmp_path, monkeypatch):
    data = os.urandom(3 * CHUNK_SIZE + 5)
    (tmp_path / "data.csv").write_bytes(data)
    joins: list[int] = []
    lean_read_all = sftp._LeanSFTPClient._read_all

    def counted(self, n):
        answer = lean_read_all(self, n)
        joins.append(len(answer))
        return answer

    monkeypatch.setattr(sftp._LeanSFTPClient, "_read_all", counted)
    target = io.BytesIO()
    with _connect(sshd, client_key) as connection:
        # 255 KiB read answers arrive in 32 KiB packets: several pieces joined per answer.
        received, _ = connection.download(str(tmp_path / "data.csv"), target)
    assert received == len(data) and target.getvalue() == data
    assert max(joins) > 128 * 1024  # the large answers went through the lean reader
