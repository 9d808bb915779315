"""The portal's only way to talk SFTP: connect to an endpoint and move files, over paramiko.

Every fault leaves this module as `SftpError` with a Danish message that says what went wrong and
what to do (a text of deliveries.messages, so pages can show it in the reader's language), and
`permanent` telling the caller whether a retry can help:

- permanent: the pinned host key is missing or does not match, authentication is refused, the
  server denies permission, a file is missing, the local file is not what was expected;
- transient: refused connection, timeouts, resets, the server going away mid-transfer.

Nothing here touches the database: callers decrypt the private key and read the endpoint first,
commit, and only then connect (no network I/O inside a transaction).

Throughput, as measured with benchmarks/push.py (docs/development/benchmarks.md): preferring
aes128-gcm@openssh.com, TCP_NODELAY, pipelined writes from 1 MiB chunks and, for servers known to
accept them, ~255 KiB SFTP write requests instead of paramiko's 32 KiB; under AES-GCM, upload
packets built in place and the server's packets read ahead (_LeanPacketizer), since on a small
machine the client's CPU per byte is what the server's share of the cores depends on
(docs/design/sftp-client.md).
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import random
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import paramiko
from django.conf import settings
from django.core.exceptions import ValidationError
from paramiko.common import MSG_CHANNEL_DATA, cMSG_CHANNEL_DATA
from paramiko.message import Message
from paramiko.packet import NeedRekeyException
from paramiko.sftp import CMD_DATA, CMD_READ, CMD_STATUS, CMD_WRITE
from paramiko.sftp_client import int64

from deliveries.messages import Text, seconds, text
from flisportal.lib.backoff import backoff_seconds
from routes.hostkeys import (
    PinnedKey,
    fingerprint_of_blob,
    host_key_matches,
    parse_pinned_host_keys,
)

if TYPE_CHECKING:
    from routes.models import SftpUser

PREFERRED_CIPHER = "aes128-gcm@openssh.com"
# Local reads and remote writes go in 1 MiB pieces: large enough to keep the SFTP pipeline full,
# small enough that memory stays flat whatever the file size.
CHUNK_SIZE = 1024 * 1024
# paramiko splits writes into 32 KiB requests, the size every SFTP server must accept. OpenSSH
# accepts packets up to 256 KiB; 255 KiB of data leaves room for the request header. Only used
# for endpoints marked `large_writes` (servers known to take them).
LARGE_WRITE_SIZE = 255 * 1024
DEFAULT_WRITE_SIZE = paramiko.SFTPFile.MAX_REQUEST_SIZE
# A push over several connections (an endpoint's `parallel_connections`) gives each part at
# least this much: below it, the extra logins cost more than the parts save.
MIN_PART_SIZE = 16 * CHUNK_SIZE
# Seconds between calls of upload_in_parts' `waiting` while it waits for the other parts.
WAIT_BEAT_SECONDS = 5.0
# Read requests in flight while downloading: enough to hide the round trip, and the bound on
# what a download holds in memory.
READ_AHEAD_REQUESTS = 32

# Host-key algorithms to ask for first when a pinned key has this type, so a server with several
# host keys shows the one that is pinned (as OpenSSH does with known_hosts).
_HOST_KEY_ALGORITHMS = {
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
    "rsa-sha2-256": ("rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"),
    "rsa-sha2-512": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
}


class SftpError(Exception):
    """A failed SFTP step. `permanent` is True when retrying the same step cannot succeed."""

    def __init__(self, said: Text | str, *, permanent: bool) -> None:
        # A catalogued text (deliveries.messages), so the delivery page can show it in the
        # reader's language; `message` is its Danish text, as logged and stored.
        self.said = said if isinstance(said, Text) else None
        self.message = said.danish if isinstance(said, Text) else said
        super().__init__(self.message)
        self.permanent = permanent

    def as_param(self) -> dict[str, Any] | str:
        """This error as a parameter of another text (its Danish text if it has no code)."""
        return self.said.as_param() if self.said is not None else self.message

    def __str__(self) -> str:
        return self.message


class SftpTooLarge(SftpError):
    """A download refused because the remote file is larger than the caller allows."""

    def __init__(self, path: str, *, size: int, limit: int) -> None:
        super().__init__(text("sftp.too_large", path=path, size=size, limit=limit), permanent=True)
        self.size = size
        self.limit = limit


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait for each phase; see the SFTP_*_TIMEOUT settings."""

    connect: float = 10
    banner: float = 15
    auth: float = 15
    operation: float = 60

    @classmethod
    def from_settings(cls) -> Timeouts:
        return cls(
            connect=settings.SFTP_CONNECT_TIMEOUT,
            banner=settings.SFTP_BANNER_TIMEOUT,
            auth=settings.SFTP_AUTH_TIMEOUT,
            operation=settings.SFTP_OPERATION_TIMEOUT,
        )


def retry_delay(
    attempt: int,
    *,
    base: float | None = None,
    cap: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, …) after a transient fault.

    Exponential backoff from SFTP_RETRY_BASE_DELAY up to SFTP_RETRY_MAX_DELAY, with jitter, so
    retries of many deliveries after one outage do not all hit the server in the same second.
    """
    return backoff_seconds(
        attempt,
        base=settings.SFTP_RETRY_BASE_DELAY if base is None else base,
        cap=settings.SFTP_RETRY_MAX_DELAY if cap is None else cap,
        jitter=True,
        rng=rng,
    )


def load_private_key(private_key: bytes) -> paramiko.PKey:
    """paramiko's key object for an unencrypted OpenSSH/PEM private key (RSA or Ed25519)."""
    pem = private_key.decode("ascii", errors="replace")
    for key_class in (paramiko.Ed25519Key, paramiko.RSAKey, paramiko.ECDSAKey):
        try:
            return key_class.from_private_key(io.StringIO(pem))
        except (paramiko.SSHException, ValueError, TypeError):
            continue
    raise SftpError(text("sftp.key_unreadable"), permanent=True)


def _where(host: str, port: int) -> str:
    return f"{host}:{port}"


def _seconds(value: float) -> dict[str, Any]:
    return seconds(value).as_param()


class SftpConnection:
    """An authenticated SFTP session. Make it with `connect()`; every method raises SftpError."""

    def __init__(
        self,
        *,
        transport: paramiko.Transport,
        sftp: paramiko.SFTPClient,
        where: str,
        large_writes: bool,
    ) -> None:
        self._transport = transport
        self._sftp = sftp
        self.where = where
        self.large_writes = large_writes

    @property
    def request_size(self) -> int:
        """Bytes per SFTP read or write request on this endpoint."""
        return LARGE_WRITE_SIZE if self.large_writes else DEFAULT_WRITE_SIZE

    @property
    def cipher(self) -> str:
        """The negotiated cipher (client to server), for logs and the benchmark."""
        return str(self._transport.local_cipher)

    def close(self) -> None:
        try:
            self._sftp.close()
        finally:
            self._transport.close()

    def upload(
        self, source: str | Path | IO[bytes], remote_path: str, *, size: int | None = None
    ) -> int:
        """Stream a local path or an open binary file (e.g. Django's `storage.open(name, "rb")`)
        to `remote_path`, replacing what is there (a partial upload left by an earlier try), and
        return the number of bytes sent. With `size`, a local file of another length is refused.
        """
        # A path is opened (and closed) here; an open file belongs to the caller.
        local: IO[bytes] = open(source, "rb") if isinstance(source, str | Path) else source
        sent = 0
        try:
            with self._errors(text("word.sftp.transfer", path=remote_path), remote_path):
                # "wb" opens with CREATE|TRUNCATE, so a leftover partial file is overwritten.
                # Not a `with` block: after a fault, a polite close would wait out another
                # operation timeout on a hung server; ending the connection frees the handle.
                remote = self._sftp.open(remote_path, "wb")
                writer = _PipelinedWriter(self._sftp, remote.handle, self.request_size)
                while chunk := _read_local(local, remote_path):
                    writer.write(chunk)
                    sent += len(chunk)
                writer.finish()
                remote.close()
        finally:
            if local is not source:
                local.close()
        if size is not None and sent != size:
            raise SftpError(
                text("sftp.local_size_changed", path=remote_path, sent=sent, size=size),
                permanent=True,
            )
        return sent

    def create_empty(self, remote_path: str) -> None:
        """Create `remote_path` empty, or cut what is there to nothing (a partial upload left
        by an earlier try), before its parts are written with `upload_range`."""
        with self._errors(text("word.sftp.transfer", path=remote_path), remote_path):
            self._sftp.open(remote_path, "wb").close()

    def upload_range(
        self,
        source: IO[bytes],
        remote_path: str,
        *,
        start: int,
        end: int,
        stop: threading.Event | None = None,
    ) -> int:
        """Write bytes `start`..`end` (exclusive) into the existing `remote_path` at the same
        offsets, reading them from `source`, which is positioned at `start`. Ends early when
        `stop` is set (another part has failed). Returns the number of bytes written."""
        sent = 0
        wanted = end - start
        with self._errors(text("word.sftp.transfer", path=remote_path), remote_path):
            # Without CREATE or TRUNCATE: the other parts write into the same file meanwhile.
            remote = self._sftp.open(remote_path, "r+b")
            writer = _PipelinedWriter(self._sftp, remote.handle, self.request_size, start)
            while sent < wanted:
                if stop is not None and stop.is_set():
                    raise _Cancelled
                chunk = _read_local(source, remote_path, min(CHUNK_SIZE, wanted - sent))
                if not chunk:
                    break
                writer.write(chunk)
                sent += len(chunk)
            writer.finish()
            remote.close()
        if sent != wanted:
            raise SftpError(
                text("sftp.local_size_changed", path=remote_path, sent=start + sent, size=end),
                permanent=True,
            )
        return sent

    def remote_size(self, remote_path: str) -> int:
        with self._errors(text("word.sftp.stat", path=remote_path), remote_path):
            size = self._sftp.stat(remote_path).st_size
        return int(size or 0)

    def remote_mtime(self, remote_path: str) -> float:
        """The file's modification time on the server (seconds since the epoch)."""
        with self._errors(text("word.sftp.stat", path=remote_path), remote_path):
            mtime = self._sftp.stat(remote_path).st_mtime
        return float(mtime or 0)

    def listdir(self, remote_path: str) -> list[str]:
        with self._errors(text("word.sftp.listdir", path=remote_path), remote_path):
            return sorted(self._sftp.listdir(remote_path))

    def download(
        self, remote_path: str, target: IO[bytes], *, limit: int | None = None
    ) -> tuple[int, str]:
        """Stream `remote_path` into the open binary file `target`; return (bytes, sha256 hex).

        With `limit`, a file of more bytes is refused (SftpTooLarge) before or while reading:
        a file named by someone else must not fill the portal's disk."""
        digest = hashlib.sha256()
        received = 0
        request_size = self.request_size
        with self._errors(text("word.sftp.download", path=remote_path), remote_path):
            # Closed only on success, for the reason given in upload().
            remote = self._sftp.open(remote_path, "rb")
            size = int(remote.stat().st_size or 0)
            if limit is not None and size > limit:
                raise SftpTooLarge(remote_path, size=size, limit=limit)
            for data in _read_pipelined(self._sftp, remote, size, request_size):
                received += len(data)
                if limit is not None and received > limit:
                    # The file grew after stat(): reading goes on to EOF, so it is cut here.
                    raise SftpTooLarge(remote_path, size=received, limit=limit)
                digest.update(data)
                _write_local(target, data, remote_path)
            remote.close()
        return received, digest.hexdigest()

    def remove(self, remote_path: str) -> None:
        with self._errors(text("word.sftp.remove", path=remote_path), remote_path):
            self._sftp.remove(remote_path)

    def rename(self, old_path: str, new_path: str) -> None:
        """Rename on the server; SFTP v3 refuses when `new_path` already exists."""
        with self._errors(text("word.sftp.rename", path=old_path, new=new_path), old_path):
            self._sftp.rename(old_path, new_path)

    @contextmanager
    def _errors(self, action: Text, path: str) -> Iterator[None]:
        try:
            yield
        except (SftpError, _Cancelled):
            raise
        except Exception as exc:
            # paramiko reports a dead connection in many shapes ("Socket is closed", EOF,
            # "Server connection dropped"); the transport's state says it plainly.
            lost = not self._transport.is_active() or self._sftp.get_channel().closed
            raise _operation_error(
                exc, action=action, path=path, where=self.where, connection_lost=lost
            ) from exc


class _LeanSFTPClient(paramiko.SFTPClient):
    """paramiko's SFTP client, reading each answer from the channel with one copy.

    paramiko's `_read_all` grows the answer with `out += piece` for every piece the channel
    hands over; a 255 KiB read answer arrives in 32 KiB SSH packets, so its bytes were copied
    about four times over before the download saw them. Joining the pieces once is the same
    result. The channel is the only transport used here (paramiko's version also handles a bare
    socket, which the module never gives it).
    """

    def _read_all(self, n: int) -> bytes:
        pieces: list[bytes] = []
        left = n
        while left > 0:
            piece = self.sock.recv(left)
            if not piece:
                raise EOFError()
            pieces.append(piece)
            left -= len(piece)
        # One piece (an answer within one packet, the usual case) needs no join at all.
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)


_PACKETIZER = "_Packetizer__"  # paramiko's Packetizer keeps its state in name-mangled fields


class _LeanPacketizer(paramiko.Packetizer):
    """paramiko's packet writer with fewer copies for AES-GCM, the cipher the module prefers.

    paramiko's send_message builds each SSH packet by concatenation (header + payload, + padding),
    slices the part to encrypt out of it, and joins the length to the ciphertext: four copies of
    every packet besides the encryption. Here the plaintext is joined once and the length is
    sent with the ciphertext (measured: about a tenth less CPU per byte pushed, profile in
    docs/design/sftp-client.md). The sequence number, IV, byte counts and the rekey trigger are
    kept exactly as paramiko keeps them; any other cipher, compression or packet dumping goes
    through paramiko's own code, and so does everything when a field is missing (another
    paramiko version), so the worst case is paramiko's speed.
    """

    def send_message(self, data: paramiko.Message) -> None:
        if not self.lean_ready():
            super().send_message(data)
            return
        state = self.__dict__
        engine = state[_PACKETIZER + "block_engine_out"]
        payload = data.asbytes()
        with state[_PACKETIZER + "write_lock"]:
            block = state[_PACKETIZER + "block_size_out"]
            # As paramiko pads under AES-GCM: at least 4 bytes, to a whole block, the length
            # (the associated data) not counted.
            padding = 3 + block - ((len(payload) + 4) % block)
            length = _UINT32.pack(len(payload) + padding + 1)
            plain = b"".join((bytes((padding,)), payload, os.urandom(padding)))
            iv = state[_PACKETIZER + "iv_out"]
            out = length + engine.encrypt(iv, plain, length)
            state[_PACKETIZER + "iv_out"] = self._inc_iv_counter(iv)
            number = state[_PACKETIZER + "sequence_number_out"]
            state[_PACKETIZER + "sequence_number_out"] = (number + 1) & 0xFFFFFFFF
            self.write_all(out)
            self._count_sent(state, len(out))

    def read_message(self) -> tuple[int, paramiko.Message]:
        """The next packet from the server, read with fewer system calls under AES-GCM.

        paramiko reads each packet with two or more `recv` calls of exactly what it needs (the
        length, then the rest), each preceded by a poll: for an upload, whose answers are small
        packets (window adjustments, write statuses) that come in bursts, that is most of the
        transport thread's work. Here each `recv` asks for up to 4 KiB more than the packet
        needs, and what comes beyond it waits in paramiko's own `remainder` buffer, which
        paramiko's reader also takes from first, so falling back to it (another cipher after a
        key exchange, another paramiko version) loses nothing. Decryption, sequence numbers,
        the IV and the rekey counts are kept as paramiko keeps them.
        """
        state = self.__dict__
        engine = state.get(_PACKETIZER + "block_engine_in")
        if (
            engine is None
            or not state.get(_PACKETIZER + "aead_in")
            or state.get(_PACKETIZER + "compress_engine_in") is not None
            or state.get(_PACKETIZER + "dump_packets", True)
            or not _LEAN_IN_FIELDS.issubset(state)
        ):
            return super().read_message()  # type: ignore[no-any-return]
        length = self._read_ahead(4, check_rekey=True)
        packet_size = _UINT32.unpack(length)[0]
        sealed = self._read_ahead(packet_size + state[_PACKETIZER + "mac_size_in"])
        iv = state[_PACKETIZER + "iv_in"]
        packet = engine.decrypt(iv, sealed, length)
        state[_PACKETIZER + "iv_in"] = self._inc_iv_counter(iv)
        padding = packet[0]
        message = paramiko.Message(packet[2 : packet_size - padding])
        number = state[_PACKETIZER + "sequence_number_in"]
        message.seqno = number
        following = (number + 1) & 0xFFFFFFFF
        if following == 0 and not self._initial_kex_done:
            raise paramiko.SSHException("Sequence number rolled over during initial kex!")
        state[_PACKETIZER + "sequence_number_in"] = following
        self._count_received(state, packet_size + state[_PACKETIZER + "mac_size_in"] + 4)
        return packet[1], message

    def _read_ahead(self, size: int, *, check_rekey: bool = False) -> bytes | memoryview:
        """`size` bytes from the socket, taking first what an earlier read left over and
        leaving over what comes beyond; the waits as in paramiko's read_all."""
        state = self.__dict__
        remainder: bytes = state[_PACKETIZER + "remainder"]
        if len(remainder) >= size:
            state[_PACKETIZER + "remainder"] = remainder[size:]
            return remainder[:size]
        pieces = [remainder]
        have = len(remainder)
        sock = state[_PACKETIZER + "socket"]
        while have < size:
            if self.handshake_timed_out():
                raise EOFError()
            try:
                piece = sock.recv(size - have + _READ_AHEAD)
            except (TimeoutError, BlockingIOError):
                # paramiko's socket wakes every 0.1 s: check for a closed transport, a rekey
                # to start, a keepalive to send, as paramiko's read_all does.
                if state[_PACKETIZER + "closed"]:
                    raise EOFError() from None
                if check_rekey and have == 0 and state[_PACKETIZER + "need_rekey"]:
                    raise NeedRekeyException() from None
                self._check_keepalive()
                continue
            except OSError:
                if state[_PACKETIZER + "closed"]:
                    raise EOFError() from None
                raise
            if not piece:
                raise EOFError()
            pieces.append(piece)
            have += len(piece)
        data = b"".join(pieces) if len(pieces) > 2 or remainder else pieces[-1]
        state[_PACKETIZER + "remainder"] = data[size:]
        return memoryview(data)[:size] if len(data) > size else data

    def _count_received(self, state: dict[str, Any], size: int) -> None:
        """Byte and packet counts and the rekey checks after a packet read, as paramiko's."""
        state[_PACKETIZER + "received_bytes"] += size
        state[_PACKETIZER + "received_packets"] += 1
        if state[_PACKETIZER + "need_rekey"]:
            # Asked to rekey: the server gets some packets to comply before the connection
            # is dropped.
            state[_PACKETIZER + "received_bytes_overflow"] += size
            state[_PACKETIZER + "received_packets_overflow"] += 1
            if (
                state[_PACKETIZER + "received_packets_overflow"] >= self.REKEY_PACKETS_OVERFLOW_MAX
                or state[_PACKETIZER + "received_bytes_overflow"] >= self.REKEY_BYTES_OVERFLOW_MAX
            ):
                raise paramiko.SSHException("Remote transport is ignoring rekey requests")
        elif (
            state[_PACKETIZER + "received_packets"] >= self.REKEY_PACKETS
            or state[_PACKETIZER + "received_bytes"] >= self.REKEY_BYTES
        ):
            state[_PACKETIZER + "received_bytes_overflow"] = 0
            state[_PACKETIZER + "received_packets_overflow"] = 0
            self._trigger_rekey()

    def lean_ready(self) -> bool:
        """Whether packets can go out through the lean code below (AES-GCM, no compression,
        every paramiko field where it is expected)."""
        state = self.__dict__
        return (
            state.get(_PACKETIZER + "block_engine_out") is not None
            and bool(state.get(_PACKETIZER + "aead_out"))
            and state.get(_PACKETIZER + "compress_engine_out") is None
            and not state.get(_PACKETIZER + "dump_packets", True)
            and _LEAN_FIELDS.issubset(state)
        )

    def send_channel_data(
        self, channel_id: int, head: bytes | memoryview, data: memoryview
    ) -> None:
        """Send `head` + `data` as one SSH_MSG_CHANNEL_DATA packet, built in place.

        The caller has taken the channel's send window for it, holds the transport's
        clear_to_send_lock with no key exchange under way (as paramiko's _send_user_message
        does), and has checked `lean_ready()`. The packet (padding length, message type,
        channel, length, data, padding) is written once into a reused buffer and encrypted into
        another with its length in front: one copy of the data besides the cipher's, where
        paramiko's Channel.send, Message and send_message made five more.
        """
        state = self.__dict__
        engine = state[_PACKETIZER + "block_engine_out"]
        block = state[_PACKETIZER + "block_size_out"]
        size = len(head) + len(data)
        # uint8 type, uint32 channel, uint32 length, then the bytes; padded as paramiko pads
        # under AES-GCM (at least 4 bytes, to a whole block, the 4-byte length not counted).
        payload = 9 + size
        padding = 3 + block - ((payload + 4) % block)
        plain_size = 1 + payload + padding
        with state[_PACKETIZER + "write_lock"]:
            plain, sealed = self._lean_buffers(plain_size)
            _CHANNEL_DATA_HEADER.pack_into(plain, 0, padding, MSG_CHANNEL_DATA, channel_id, size)
            end = 10 + len(head)
            plain[10:end] = head
            plain[end : end + len(data)] = data
            plain[end + len(data) : plain_size] = self._padding(padding)
            length = _UINT32.pack(plain_size)
            out = sealed[: 4 + plain_size + 16]
            out[:4] = length
            iv = state[_PACKETIZER + "iv_out"]
            engine.encrypt_into(iv, plain[:plain_size], length, out[4:])
            state[_PACKETIZER + "iv_out"] = self._inc_iv_counter(iv)
            number = state[_PACKETIZER + "sequence_number_out"]
            state[_PACKETIZER + "sequence_number_out"] = (number + 1) & 0xFFFFFFFF
            # One packet per write: batching a request's packets into one write was measured
            # and cost more CPU on both sides (partial sends of the large buffer).
            self.write_all(out)
            self._count_sent(state, len(out))

    def _lean_buffers(self, plain_size: int) -> tuple[memoryview, memoryview]:
        """Reused buffers for a packet's plaintext and for it sealed, grown when too small (a
        channel's packets are at most its maximum packet size, so they grow once)."""
        buffers: tuple[memoryview, memoryview] | None = self.__dict__.get("_lean_buffers_")
        if buffers is None or len(buffers[0]) < plain_size:
            capacity = max(plain_size, 64 * 1024)
            buffers = (memoryview(bytearray(capacity)), memoryview(bytearray(capacity + 20)))
            self.__dict__["_lean_buffers_"] = buffers
        return buffers

    def _padding(self, size: int) -> bytes:
        # Fresh random padding as paramiko's (os.urandom), drawn from a pool so that a packet
        # costs no system call of its own; every byte is used once.
        pool: bytes = self.__dict__.get("_padding_pool_", b"")
        at: int = self.__dict__.get("_padding_at_", 0)
        if at + size > len(pool):
            pool, at = os.urandom(16 * 1024), 0
            self.__dict__["_padding_pool_"] = pool
        self.__dict__["_padding_at_"] = at + size
        return pool[at : at + size]

    def _count_sent(self, state: dict[str, Any], size: int) -> None:
        """Byte and packet counts and the rekey trigger after a packet, as paramiko keeps them."""
        state[_PACKETIZER + "sent_bytes"] += size
        state[_PACKETIZER + "sent_packets"] += 1
        too_much = (
            state[_PACKETIZER + "sent_packets"] >= self.REKEY_PACKETS
            or state[_PACKETIZER + "sent_bytes"] >= self.REKEY_BYTES
        )
        if too_much and not state[_PACKETIZER + "need_rekey"]:
            state[_PACKETIZER + "received_bytes_overflow"] = 0
            state[_PACKETIZER + "received_packets_overflow"] = 0
            self._trigger_rekey()


_CHANNEL_DATA_HEADER = struct.Struct(">BBII")
# Bytes read beyond the packet at hand: enough for a burst of small answers in one recv.
_READ_AHEAD = 4096
_LEAN_IN_FIELDS = {
    _PACKETIZER + name
    for name in (
        "socket",
        "remainder",
        "closed",
        "mac_size_in",
        "iv_in",
        "sequence_number_in",
        "received_bytes",
        "received_packets",
        "need_rekey",
        "received_bytes_overflow",
        "received_packets_overflow",
    )
}
_UINT32 = struct.Struct(">I")

_LEAN_FIELDS = {
    _PACKETIZER + name
    for name in (
        "write_lock",
        "block_size_out",
        "iv_out",
        "sequence_number_out",
        "sent_bytes",
        "sent_packets",
        "need_rekey",
        "received_bytes_overflow",
        "received_packets_overflow",
    )
}


class _Cancelled(Exception):
    """A part of a parallel upload stopped because another part failed (that one is reported)."""


def part_ranges(size: int, connections: int) -> list[tuple[int, int]]:
    """The (start, end) byte ranges a file of `size` bytes is written in over `connections`
    connections: equal parts, each at least MIN_PART_SIZE, so a small file goes in one."""
    parts = max(1, min(connections, size // MIN_PART_SIZE))
    return [(size * number // parts, size * (number + 1) // parts) for number in range(parts)]


def upload_in_parts(
    first: SftpConnection,
    *,
    open_connection: Callable[[], AbstractContextManager[SftpConnection]],
    open_source: Callable[[int], IO[bytes]],
    remote_path: str,
    size: int,
    connections: int,
    waiting: Callable[[], None] | None = None,
) -> None:
    """Write a file of `size` bytes to `remote_path` over `connections` connections at once,
    each writing its own part at its own offsets: the first part over `first` from this thread,
    the others each over a connection of its own (`open_connection`) from a thread of its own.
    `open_source(start)` opens the local file positioned at `start`; each part reads its own
    range CHUNK_SIZE at a time, so memory stays flat. `waiting` is called every few seconds
    while this thread waits for the others (the push's heartbeat).

    Returns only when every part has been written and every write answered by the server. If
    any part fails, the others stop at their next chunk, and the failure is raised as an
    SftpError (a permanent one if any part's was): the caller treats it like the failure of a
    single-connection upload, so nothing partly written is ever followed by its trigger.
    """
    ranges = part_ranges(size, connections)
    first.create_empty(remote_path)
    stop = threading.Event()
    failures: list[BaseException] = []

    def write_part(start: int, end: int, connection: SftpConnection) -> None:
        source = open_source(start)
        try:
            connection.upload_range(source, remote_path, start=start, end=end, stop=stop)
        finally:
            source.close()

    def other_part(start: int, end: int) -> None:
        try:
            with open_connection() as connection:
                write_part(start, end, connection)
        except BaseException as exc:  # reported by the calling thread
            failures.append(exc)
            stop.set()

    threads = [
        threading.Thread(target=other_part, args=part, name=f"sftp-part-{number}", daemon=True)
        for number, part in enumerate(ranges[1:], start=2)
    ]
    for thread in threads:
        thread.start()
    try:
        write_part(*ranges[0], first)
    except BaseException as exc:
        failures.insert(0, exc)
        stop.set()
    for thread in threads:
        # Each part's every wait is bounded by the operation timeout, so this ends.
        while thread.is_alive():
            thread.join(timeout=WAIT_BEAT_SECONDS)
            if waiting is not None:
                waiting()
    _raise_part_failure(failures)


def _raise_part_failure(failures: list[BaseException]) -> None:
    real = [failure for failure in failures if not isinstance(failure, _Cancelled)]
    if not real:
        return
    sftp_errors = [failure for failure in real if isinstance(failure, SftpError)]
    if len(sftp_errors) < len(real):
        # A bug, not an SFTP fault: let it surface as one.
        raise next(f for f in real if not isinstance(f, SftpError))
    raise next((e for e in sftp_errors if e.permanent), sftp_errors[0])


def _read_local(local: IO[bytes], remote_path: str, size: int = CHUNK_SIZE) -> bytes:
    # Local I/O errors are the portal's own, not the server's: say so, and keep them out of the
    # errno-based translation of SFTP errors (a local ENOENT is not a missing remote file).
    try:
        return local.read(size)
    except OSError as exc:
        raise SftpError(
            text("sftp.local_read", path=remote_path, error=str(exc)), permanent=False
        ) from exc


def _write_local(target: IO[bytes], data: bytes, remote_path: str) -> None:
    try:
        target.write(data)
    except OSError as exc:
        raise SftpError(
            text("sftp.local_write", path=remote_path, error=str(exc)), permanent=False
        ) from exc


class _PipelinedWriter:
    """SFTP write requests for one open remote file, sent back to back from the caller's thread.

    It does what paramiko's pipelined `SFTPFile.write` does, with fewer copies of the data: on
    the sending machine the copies, not the cipher, are most of the client's work (profile in
    docs/design/sftp-client.md). paramiko copies each 1 MiB chunk again for every request cut
    from it, builds each request in a buffer, joins it to its header, and copies the remainder
    again for every SSH packet it cuts from the request. Here each request is a view of the
    chunk; its header travels with the first packet's worth of data, and the rest goes to the
    channel as views, so the data is copied once before paramiko's packet layer takes over.

    The server's answer to every request is read before `finish()` returns (paramiko's own
    close skips those still outstanding, so a write refused near the end would go unnoticed),
    and at most MAX_OUTSTANDING answers wait at any time, so memory stays flat.
    """

    MAX_OUTSTANDING = 64

    def __init__(
        self, sftp: paramiko.SFTPClient, handle: bytes, request_size: int, offset: int = 0
    ) -> None:
        self._sftp = sftp
        self._channel = sftp.get_channel()
        self._transport = self._channel.get_transport()
        self._handle = handle
        self._request_size = request_size
        self.offset = offset
        self._pending: deque[int] = deque()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(view), self._request_size):
            self._send_request(view[start : start + self._request_size])
            while len(self._pending) > self.MAX_OUTSTANDING:
                self._read_answer()

    def finish(self) -> None:
        while self._pending:
            self._read_answer()

    def _send_request(self, piece: memoryview) -> None:
        sftp = self._sftp
        # The request number and its slot for the answer, as paramiko's _async_request takes
        # them (under its lock: a file's other requests may come from another thread).
        with sftp._lock:
            number = sftp.request_number
            sftp.request_number += 1
            sftp._expecting[number] = type(None)
        handle = self._handle
        # uint32 length, byte type, uint32 id, string handle, uint64 offset, string data.
        header = struct.pack(
            f">IBII{len(handle)}sQI",
            1 + 4 + 4 + len(handle) + 8 + 4 + len(piece),
            CMD_WRITE,
            number,
            len(handle),
            handle,
            self.offset,
            len(piece),
        )
        # The header goes with the first packet's worth of data, so a request costs no extra
        # small packet.
        self._send_all(header, piece)
        self._pending.append(number)
        self.offset += len(piece)

    def _send_all(self, head: bytes | memoryview, data: memoryview) -> None:
        """Send `head` then `data` on the channel, one SSH packet per turn of the loop."""
        channel = self._channel
        while head or data:
            with channel.lock:
                if channel.closed:
                    raise EOFError("SFTP-kanalen er lukket")
                # Blocks while the server's window is shut, up to the channel's operation
                # timeout; grants at most the channel's packet size (less 64, as paramiko).
                granted = channel._wait_for_send_window(len(head) + len(data))
            if granted <= 0:
                raise EOFError("SFTP-kanalen er lukket")
            first = head[:granted]
            rest = data[: granted - len(first)]
            self._send_packet(channel, first, rest)
            head = head[len(first) :]
            data = data[len(rest) :]

    def _send_packet(
        self, channel: paramiko.Channel, head: bytes | memoryview, data: memoryview
    ) -> None:
        """One SSH_MSG_CHANNEL_DATA packet, the window already taken for it."""
        transport = self._transport
        packetizer = transport.packetizer
        # As paramiko's _send_user_message: no data while keys are being exchanged.
        with transport.clear_to_send_lock:
            if (
                transport.active
                and transport.clear_to_send.is_set()
                and isinstance(packetizer, _LeanPacketizer)
                and packetizer.lean_ready()
            ):
                packetizer.send_channel_data(channel.remote_chanid, head, data)
                return
        # A key exchange under way (or another cipher): paramiko's own way, which waits for
        # the exchange to end.
        message = Message()
        message.add_byte(cMSG_CHANNEL_DATA)
        message.add_int(channel.remote_chanid)
        message.add_string(bytes(head) + bytes(data))
        transport._send_user_message(message)

    def _read_answer(self) -> None:
        kind, _ = self._sftp._read_response(self._pending.popleft())
        if kind != CMD_STATUS:
            raise OSError("uventet svar på en SFTP-skrivning")


def _read_pipelined(
    sftp: paramiko.SFTPClient, remote: paramiko.SFTPFile, size: int, request_size: int
) -> Iterator[bytes]:
    """Yield a remote file's bytes in order, keeping up to READ_AHEAD_REQUESTS reads in flight.

    paramiko's own prefetch() issues its reads from a background thread that dies with an
    unhandled exception when the connection drops, and buffers without limit when the consumer
    is slower than the network. Here everything happens in the caller's thread, under the
    channel's operation timeout. Reads continue one request past the size seen by stat() until
    the server says EOF, so a file that grew is still read to its end.
    """
    pending: deque[tuple[int, int, int]] = deque()  # (request number, offset, length)
    next_offset = 0
    while True:
        while len(pending) < READ_AHEAD_REQUESTS and (next_offset <= size or not pending):
            number = sftp._async_request(
                type(None), CMD_READ, remote.handle, int64(next_offset), int(request_size)
            )
            pending.append((number, next_offset, request_size))
            next_offset += request_size
        number, offset, length = pending.popleft()
        try:
            kind, message = sftp._read_response(number)
        except EOFError:  # the SFTP EOF status, not a dropped connection
            _discard_responses(sftp, pending)
            return
        if kind != CMD_DATA:
            raise OSError("uventet svar på en SFTP-læsning")
        data = message.get_string()
        yield data
        if len(data) < length:
            # A short read (a server may cap its replies): drop the reads already sent after it
            # and go on from where this one ended.
            _discard_responses(sftp, pending)
            next_offset = offset + len(data)
            size = max(size, next_offset)


def _discard_responses(sftp: paramiko.SFTPClient, pending: deque[tuple[int, int, int]]) -> None:
    while pending:
        try:
            sftp._read_response(pending.popleft()[0])
        except EOFError:
            pass


def _operation_error(
    exc: BaseException, *, action: Text, path: str, where: str, connection_lost: bool = False
) -> SftpError:
    doing = action.as_param()
    if isinstance(exc, TimeoutError | socket.timeout):
        return SftpError(text("sftp.timeout", where=where, action=doing), permanent=False)
    code = getattr(exc, "errno", None)
    if code == errno.EACCES:
        return SftpError(
            text("sftp.access_denied", where=where, action=doing, path=path), permanent=True
        )
    if code == errno.ENOENT:
        return SftpError(
            text("sftp.not_found", where=where, action=doing, path=path), permanent=True
        )
    if connection_lost or isinstance(exc, EOFError | ConnectionError | paramiko.SSHException):
        return SftpError(text("sftp.connection_lost", where=where, action=doing), permanent=False)
    if isinstance(exc, OSError):
        # A bare SFTP failure status ("Failure", disk full, …) or a closed channel: nothing
        # says that trying again is useless, so it counts as transient.
        detail = str(exc) or exc.__class__.__name__
        return SftpError(
            text("sftp.refused", where=where, action=doing, error=detail), permanent=False
        )
    return SftpError(
        text("sftp.unexpected", action=doing, where=where, error=repr(exc)), permanent=False
    )


def _open_socket(host: str, port: int, timeouts: Timeouts) -> socket.socket:
    where = _where(host, port)
    try:
        sock = socket.create_connection((host, port), timeout=timeouts.connect)
    except ConnectionRefusedError:
        raise SftpError(text("sftp.connection_refused", where=where), permanent=False) from None
    except TimeoutError:
        raise SftpError(
            text("sftp.connect_timeout", where=where, seconds=_seconds(timeouts.connect)),
            permanent=False,
        ) from None
    except socket.gaierror as exc:
        # Usually a typo in the endpoint, but a DNS outage looks the same: retry, and say both.
        raise SftpError(
            text("sftp.dns", host=host, error=str(exc.strerror)), permanent=False
        ) from None
    except OSError as exc:
        raise SftpError(
            text("sftp.no_connection", where=where, error=str(exc.strerror or exc)),
            permanent=False,
        ) from None
    # Without TCP_NODELAY, Nagle's algorithm holds back the small SFTP packets that follow a
    # large one, and a plain write loop crawls at about 1 MB/s (measured).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _configure_security(transport: paramiko.Transport, pinned_types: list[str]) -> None:
    options = transport.get_security_options()
    ciphers = tuple(options.ciphers)
    if PREFERRED_CIPHER in ciphers:
        # AES-GCM encrypts and authenticates in one pass (AES-NI); aes128-ctr + HMAC is about
        # half as fast in paramiko.
        options.ciphers = (PREFERRED_CIPHER, *[c for c in ciphers if c != PREFERRED_CIPHER])
    wanted: list[str] = []
    for key_type in pinned_types:
        wanted.extend(_HOST_KEY_ALGORITHMS.get(key_type, (key_type,)))
    available = tuple(options.key_types)
    first = [t for t in dict.fromkeys(wanted) if t in available]
    if first:
        options.key_types = (*first, *[t for t in available if t not in first])


@contextmanager
def connect(
    *,
    host: str,
    port: int,
    username: str,
    private_key: bytes,
    pinned_host_key: str,
    large_writes: bool = False,
    timeouts: Timeouts | None = None,
) -> Iterator[SftpConnection]:
    """Open an SFTP session, checking the server's host key against the pinned one(s) before
    authenticating; close it when the block ends.

    `private_key` is the decrypted OpenSSH PEM (keep it in memory only); `pinned_host_key` is
    the endpoint's host_key text (routes/hostkeys.py formats).
    """
    timeouts = timeouts or Timeouts.from_settings()
    where = _where(host, port)
    pinned = _parse_pinned(pinned_host_key, where)
    pkey = load_private_key(private_key)

    sock = _open_socket(host, port, timeouts)
    transport = paramiko.Transport(sock)
    # The same object with the leaner send path (nothing else differs, see _LeanPacketizer).
    transport.packetizer.__class__ = _LeanPacketizer
    try:
        _set_timeouts(transport, timeouts)
        _configure_security(transport, [key.key_type for key in pinned if key.key_type])
        _handshake(transport, where, timeouts)
        # The host key is checked before the private key is offered: an impostor learns nothing.
        _check_host_key(transport, pinned, pinned_host_key, where)
        _authenticate(transport, username, pkey, where, timeouts)
        sftp = _open_sftp(transport, username, where, timeouts)
    except BaseException:
        transport.close()
        raise

    connection = SftpConnection(
        transport=transport, sftp=sftp, where=where, large_writes=large_writes
    )
    try:
        yield connection
    except BaseException:
        # After a fault, no polite goodbye (closing the SFTP channel) to a server that may be
        # hung: that could block on a full send buffer. Dropping the transport is enough.
        transport.close()
        raise
    connection.close()


def _parse_pinned(pinned_host_key: str, where: str) -> list[PinnedKey]:
    try:
        return parse_pinned_host_keys(pinned_host_key)
    except ValidationError as exc:
        raise SftpError(
            text("sftp.pinned_key_unreadable", where=where, error="; ".join(exc.messages)),
            permanent=True,
        ) from None


def _set_timeouts(transport: paramiko.Transport, timeouts: Timeouts) -> None:
    transport.banner_timeout = timeouts.banner
    transport.handshake_timeout = timeouts.banner
    transport.auth_timeout = timeouts.auth
    transport.channel_timeout = timeouts.operation


def _handshake(transport: paramiko.Transport, where: str, timeouts: Timeouts) -> None:
    """Exchange banners and keys; a server that stays silent or stalls is a transient fault."""
    try:
        # The banner timeout ends a silent server's wait inside paramiko's thread; this
        # outer limit (banner plus key exchange) only guards against a stuck exchange.
        transport.start_client(timeout=2 * timeouts.banner)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        # Typically "Error reading SSH protocol banner" after the banner timeout.
        raise SftpError(
            text(
                "sftp.handshake_failed",
                where=where,
                seconds=_seconds(timeouts.banner),
                error=str(exc or exc.__class__.__name__),
            ),
            permanent=False,
        ) from None
    if not (transport.is_active() and transport.initial_kex_done):
        # start_client() returns quietly when its own timeout runs out.
        raise SftpError(
            text(
                "sftp.handshake_unfinished",
                where=where,
                seconds=_seconds(2 * timeouts.banner),
            ),
            permanent=False,
        )


def _check_host_key(
    transport: paramiko.Transport, pinned: list[PinnedKey], pinned_host_key: str, where: str
) -> None:
    """Refuse (permanently) a server whose host key is not pinned, naming the key it showed."""
    server_key = transport.get_remote_server_key()
    presented = fingerprint_of_blob(server_key.asbytes())
    if not pinned:
        raise SftpError(
            text("sftp.no_pinned_key", where=where, key=f"{server_key.get_name()} {presented}"),
            permanent=True,
        )
    if not host_key_matches(pinned_host_key, server_key.asbytes()):
        raise SftpError(
            text(
                "sftp.host_key_mismatch",
                where=where,
                key=f"{server_key.get_name()} {presented}",
            ),
            permanent=True,
        )


def _authenticate(
    transport: paramiko.Transport,
    username: str,
    pkey: paramiko.PKey,
    where: str,
    timeouts: Timeouts,
) -> None:
    try:
        transport.auth_publickey(username, pkey)
    except paramiko.AuthenticationException as exc:
        if "timeout" in str(exc).lower():
            raise SftpError(
                text("sftp.login_timeout", where=where, seconds=_seconds(timeouts.auth)),
                permanent=False,
            ) from None
        raise SftpError(
            text(
                "sftp.login_refused",
                where=where,
                username=username,
                fingerprint=_key_fingerprint(pkey),
            ),
            permanent=True,
        ) from None
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise SftpError(
            text("sftp.login_interrupted", where=where, error=str(exc)), permanent=False
        ) from None


def _open_sftp(
    transport: paramiko.Transport, username: str, where: str, timeouts: Timeouts
) -> paramiko.SFTPClient:
    """Open a session channel and start the sftp subsystem on it, every wait bounded."""
    try:
        channel = transport.open_session(timeout=timeouts.operation)
        # Each later read or write waits at most this long for the server to move.
        channel.settimeout(timeouts.operation)
        # invoke_subsystem() waits for the server's answer without any limit; a watchdog
        # drops the transport if it does not come, which wakes the wait with an error.
        watchdog = threading.Timer(timeouts.operation, transport.close)
        watchdog.daemon = True
        watchdog.start()
        try:
            channel.invoke_subsystem("sftp")
        finally:
            watchdog.cancel()
        return _LeanSFTPClient(channel)
    except paramiko.SSHException as exc:
        raise SftpError(
            text("sftp.no_subsystem", where=where, username=username, error=str(exc)),
            permanent=False,
        ) from None
    except Exception as exc:
        raise _operation_error(exc, action=text("word.sftp.open"), path="", where=where) from None


def _key_fingerprint(pkey: paramiko.PKey) -> str:
    return fingerprint_of_blob(pkey.asbytes())


def open_for_endpoint(
    *, sftp_user: SftpUser, private_key: bytes, timeouts: Timeouts | None = None
) -> AbstractContextManager[SftpConnection]:
    """`connect()` with the host, port, pinned key and write size of an SftpUser's endpoint."""
    endpoint = sftp_user.endpoint
    return connect(
        host=endpoint.host,
        port=endpoint.port,
        username=sftp_user.username,
        private_key=private_key,
        pinned_host_key=endpoint.host_key,
        large_writes=endpoint.large_writes,
        timeouts=timeouts,
    )
