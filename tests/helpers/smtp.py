"""A small real SMTP server on a loopback port, for tests where a worker process sends mail
over the network as in production. It speaks just enough of RFC 5321 for Django's SMTP backend
(EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS, no AUTH) and keeps each message it
accepts, parsed, with the addresses it was sent to."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        # A long encoded subject may be folded onto the next line, leaving a leading space.
        return str(self.message["Subject"]).strip()

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


@dataclass
class Mailbox:
    port: int
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.recipients]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10) -> list[Received]:
        """The messages to `address` once there are `count` of them (the worker has exited by
        then, but a slow loopback must not make a flaky test)."""
        deadline = time.monotonic() + timeout
        while len(self.to(address)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.to(address)


class _Session(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode("ascii"))

    def handle(self) -> None:
        self.reply("220 127.0.0.1 test SMTP")
        recipients: list[str] = []
        while line := self.rfile.readline():
            verb = line.decode("ascii", "replace").strip()
            command = verb[:4].upper()
            if command == "EHLO":
                self.wfile.write(b"250-127.0.0.1\r\n250 8BITMIME\r\n")
            elif command in ("HELO", "NOOP"):
                self.reply("250 OK")
            elif command == "MAIL":
                recipients = []
                self.reply("250 OK")
            elif command == "RCPT":
                recipients.append(verb.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif command == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                self.server.keep(recipients, self.read_data())
                self.reply("250 OK: queued")
            elif command == "RSET":
                recipients = []
                self.reply("250 OK")
            elif command == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")

    def read_data(self) -> bytes:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
            # Dot-stuffing (RFC 5321 4.5.2): a leading dot was doubled by the sender.
            lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    mailbox: Mailbox

    def keep(self, recipients: list[str], data: bytes) -> None:
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.mailbox.lock:
            self.mailbox.messages.append(Received(list(recipients), message))


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """Runs the server on a free 127.0.0.1 port for the block."""
    server = _Server(("127.0.0.1", 0), _Session)
    server.mailbox = Mailbox(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield server.mailbox
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
