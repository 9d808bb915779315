"""A private OpenSSH sshd on a loopback port, for tests and benchmarks/push.py.

It runs in the foreground (`sshd -D -e`) as a child of the caller, with its own config, host key
and authorized_keys in a scratch folder, so nothing on the machine's own SSH setup is read or
changed. SFTP is OpenSSH's `internal-sftp`; `read_only=True` starts it with `-R`, so every write
is refused with a real SFTP "permission denied" (file modes do not stop root, which the test
machine runs as).
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.net import free_port
from tests.helpers.processes import descendants

SSHD = "/usr/sbin/sshd"


@dataclass
class SshServer:
    host: str
    port: int
    username: str
    folder: Path
    host_key_lines: dict[str, str]  # key type -> "ssh-ed25519 AAAA…", the text to pin
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def host_key_line(self) -> str:
        """The first host key's public line ("ssh-ed25519 AAAA…" unless told otherwise)."""
        return next(iter(self.host_key_lines.values()))

    @property
    def log(self) -> str:
        return (self.folder / "sshd.log").read_text(errors="replace")

    def kill(self) -> None:
        """Kill the listener and every per-connection child: the server is gone at once."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def freeze(self) -> None:
        """Stop (SIGSTOP) every connection's processes: the server keeps its sockets open but
        answers nothing, like a hung server or a dead network path."""
        self._signal_children(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal_children(signal.SIGCONT)

    def _signal_children(self, signum: int) -> None:
        # Each connection is served by a child that sshd moves into a session of its own
        # (setsid), so a process-group signal would miss it: find the children by parent pid.
        # A child may end between the listing and the signal (its client has gone).
        for pid in descendants(self.process.pid):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def _signal(self, signum: int) -> None:
        if self.process.poll() is not None:
            return
        self._signal_children(signum)
        # Give the listener a moment to reap them, so no zombies are left to pid 1.
        deadline = time.monotonic() + 1
        while descendants(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)


def start_sshd(
    folder: Path,
    *,
    authorized_keys: list[str],
    read_only: bool = False,
    host_key_types: tuple[str, ...] = ("ed25519",),
    port: int | None = None,
    timeout: float = 10,
) -> SshServer:
    """Start sshd on 127.0.0.1 and return once it answers with its SSH banner."""
    if not Path(SSHD).exists():
        raise RuntimeError(f"{SSHD} is missing: `make test` installs openssh-server (apt-get).")
    folder.mkdir(parents=True, exist_ok=True)
    host_keys: list[Path] = []
    host_key_lines: dict[str, str] = {}
    for key_type in host_key_types:
        host_key = folder / f"ssh_host_{key_type}_key"
        if not host_key.exists():
            bits = ["-b", "2048"] if key_type == "rsa" else []
            command = ["ssh-keygen", "-q", "-t", key_type, *bits, "-N", "", "-C", ""]
            subprocess.run([*command, "-f", str(host_key)], check=True)
        host_keys.append(host_key)
        host_key_lines[key_type] = " ".join(Path(f"{host_key}.pub").read_text().split()[:2])
    (folder / "authorized_keys").write_text("".join(f"{line}\n" for line in authorized_keys))
    if os.geteuid() == 0:
        # Running as root, sshd insists on its privilege-separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    port = port or free_port()
    username = getpass.getuser()
    config = folder / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                *(f"HostKey {path}" for path in host_keys),
                f"PidFile {folder / 'sshd.pid'}",
                f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                f"AllowUsers {username}",
                "PermitRootLogin prohibit-password",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "StrictModes no",
                "UsePAM no",
                "UseDNS no",
                "PrintMotd no",
                "LogLevel ERROR",
                # Tests open many connections quickly; the default 10:30:100 may drop some.
                "MaxStartups 100",
                "Subsystem sftp internal-sftp" + (" -R" if read_only else ""),
                "",
            ]
        )
    )
    # The child inherits the log file; this process closes its own copy right away.
    log = open(folder / "sshd.log", "ab")
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    server = SshServer("127.0.0.1", port, username, folder, host_key_lines, process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited at start:\n{server.log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-2.0-"):
                    return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"sshd did not answer on port {port}:\n{server.log}")
