"""The SFTP client's lean packet writer (deliveries/sftp.py `_LeanPacketizer`) against a real
OpenSSH sshd on a loopback port.

The rules held here: under AES-GCM every packet of an upload goes through the lean path (a
paramiko upgrade that renames its fields would silently fall back, and this test says so),
and its data packets are built in place by `send_channel_data`, not by paramiko's
Channel.send; the bytes arrive unchanged across a key re-exchange in mid-file, which resets the
cipher state the lean path reads, and at every packet and request boundary (the header of a
write request shares a packet with its first data); a write the server refuses in mid-file is
reported, not lost among the answers still outstanding.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import paramiko
import pytest

from deliveries import sftp
from deliveries.sftp import (
    CHUNK_SIZE,
    DEFAULT_WRITE_SIZE,
    LARGE_WRITE_SIZE,
    SftpError,
    Timeouts,
    connect,
)
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


def _connect(server: SshServer, key: KeyPair, *, large_writes: bool = True):
    return connect(
        host=server.host,
        port=server.port,
        username=server.username,
        private_key=key.private_openssh,
        pinned_host_key=server.host_key_line,
        large_writes=large_writes,
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


def test_upload_data_packets_are_built_in_place(sshd, client_key, tmp_path, monkeypatch):
    # Rule: the write requests' data goes out through send_channel_data, one packet per call
    # within the server's packet size, never through paramiko's Channel.send (five copies more).
    data = os.urandom(2 * CHUNK_SIZE + 5)
    packets: list[int] = []
    lean_send = sftp._LeanPacketizer.send_channel_data

    def counted(self, channel_id, head, piece):
        packets.append(len(head) + len(piece))
        return lean_send(self, channel_id, head, piece)

    channel_send = paramiko.Channel.send

    def refused(self, piece):
        # Opening and closing the file are small requests that paramiko still sends itself.
        if len(piece) > 1024:
            raise AssertionError("Channel.send used for upload data")
        return channel_send(self, piece)

    monkeypatch.setattr(sftp._LeanPacketizer, "send_channel_data", counted)
    with _connect(sshd, client_key) as connection:
        monkeypatch.setattr(paramiko.Channel, "send", refused)
        local = tmp_path / "local.csv"
        local.write_bytes(data)
        assert connection.upload(local, str(tmp_path / "data.csv")) == len(data)
        most = connection._sftp.get_channel().out_max_packet_size - 64
    assert sum(packets) > len(data) and max(packets) <= most
    assert (tmp_path / "data.csv").read_bytes() == data


# Sizes at the edges: nothing, one byte, a packet's worth of data around the request header
# (32 KiB packets less paramiko's 64 bytes, less the 40-odd-byte header), a whole request
# of each size and a chunk, each give or take one byte.
_PACKET_DATA = 32768 - 64
_EDGES = sorted(
    {
        size + delta
        for size in (1, _PACKET_DATA - 40, _PACKET_DATA, DEFAULT_WRITE_SIZE, LARGE_WRITE_SIZE)
        for delta in (-1, 0, 1)
    }
    | {0, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1}
)


@pytest.mark.parametrize("large_writes", [True, False], ids=["255k", "32k"])
def test_bytes_arrive_intact_at_every_packet_boundary(sshd, client_key, tmp_path, large_writes):
    # Rule: whatever the size, the remote file holds exactly the bytes sent, in order.
    with _connect(sshd, client_key, large_writes=large_writes) as connection:
        for size in _EDGES:
            data = os.urandom(size)
            remote = tmp_path / f"data-{size}.csv"
            assert connection.upload(io.BytesIO(data), str(remote)) == size
            assert remote.read_bytes() == data, f"{size} bytes arrived changed"


def test_a_write_refused_in_mid_file_is_reported(sshd, client_key, tmp_path):
    # Rule: a write request the server refuses after others were accepted fails the upload
    # (transient: a full disk may be freed), even with answers still outstanding behind it.
    # /dev/full takes the open and refuses every write with ENOSPC, the way a disk that fills
    # up in mid-file does.
    data = os.urandom(3 * CHUNK_SIZE)
    with _connect(sshd, client_key) as connection:
        with pytest.raises(SftpError) as caught:
            connection.upload(io.BytesIO(data), "/dev/full")
    assert not caught.value.permanent
    assert "/dev/full" in caught.value.message


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


def test_answers_are_read_ahead_and_paramikos_reader_takes_the_rest(
    sshd, client_key, tmp_path, monkeypatch
):
    # Rule: what the lean reader reads beyond a packet waits in paramiko's own buffer, so
    # paramiko's reader, when it takes over (another cipher after a key exchange), loses
    # nothing. Here every other packet is read by paramiko's reader, in a download (large
    # packets) and an upload (bursts of small answers).
    data = os.urandom(3 * CHUNK_SIZE + 11)
    (tmp_path / "remote.csv").write_bytes(data)
    turns: list[str] = []
    lean_read = sftp._LeanPacketizer.read_message

    def alternating(self):
        if len(turns) % 2:
            turns.append("paramiko")
            return paramiko.Packetizer.read_message(self)
        turns.append("lean")
        return lean_read(self)

    target = io.BytesIO()
    with _connect(sshd, client_key) as connection:
        monkeypatch.setattr(sftp._LeanPacketizer, "read_message", alternating)
        received, _ = connection.download(str(tmp_path / "remote.csv"), target)
        sent = connection.upload(io.BytesIO(data), str(tmp_path / "pushed.csv"))
    assert received == sent == len(data) and target.getvalue() == data
    assert (tmp_path / "pushed.csv").read_bytes() == data
    assert turns.count("paramiko") > 50 and turns.count("lean") > 50


def test_small_answers_are_read_in_bursts(sshd, client_key, tmp_path, monkeypatch):
    # Rule: under AES-GCM the transport thread reads the server's packets through the lean
    # reader, which asks the socket for more than one small packet at a time: an upload's
    # window adjustments and write statuses cost fewer reads than there are packets.
    data = os.urandom(4 * CHUNK_SIZE)
    reads: list[int] = []
    packets: list[int] = []
    read_ahead = sftp._LeanPacketizer._read_ahead
    count_received = sftp._LeanPacketizer._count_received

    def counted_read(self, size, **kwargs):
        remainder = self.__dict__[sftp._PACKETIZER + "remainder"]
        if len(remainder) < size:
            reads.append(size)
        return read_ahead(self, size, **kwargs)

    def counted_packet(self, state, size):
        packets.append(size)
        return count_received(self, state, size)

    with _connect(sshd, client_key) as connection:
        monkeypatch.setattr(sftp._LeanPacketizer, "_read_ahead", counted_read)
        monkeypatch.setattr(sftp._LeanPacketizer, "_count_received", counted_packet)
        assert connection.upload(io.BytesIO(data), str(tmp_path / "data.csv")) == len(data)
    assert len(packets) > 20
    assert len(reads) < len(packets)
    assert (tmp_path / "data.csv").read_bytes() == data


def test_a_download_survives_a_key_reexchange_in_mid_file(sshd, client_key, tmp_path, monkeypatch):
    # Rule: the lean reader counts what it receives as paramiko does, so the re-keys asked
    # for by the received byte count happen, and the file arrives unchanged across them.
    data = os.urandom(6 * CHUNK_SIZE + 3)
    (tmp_path / "remote.csv").write_bytes(data)
    rekeys: list[int] = []
    trigger = sftp._LeanPacketizer._trigger_rekey

    def counted(self):
        rekeys.append(1)
        trigger(self)

    monkeypatch.setattr(sftp._LeanPacketizer, "_trigger_rekey", counted)
    target = io.BytesIO()
    with _connect(sshd, client_key) as connection:
        # The client sends little in a download: only the received bytes can reach this.
        connection._transport.packetizer.REKEY_BYTES = 2 * CHUNK_SIZE
        received, _ = connection.download(str(tmp_path / "remote.csv"), target)
    assert received == len(data) and target.getvalue() == data
    assert len(rekeys) >= 2
