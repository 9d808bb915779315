"""The stand-in as other programs meet it: OpenSSH's own `sftp` client, and
`manage.py serviceplatform` started as its own process (host key generated once, registered on
the local endpoint, a delivery end to end, a clean stop)."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deliveries import protocol
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from deliveries.serviceplatform.server import StandinThread
from routes.hostkeys import parse_pinned_host_keys
from routes.models import Endpoint
from tests.helpers.net import free_port
from tests.helpers.processes import ROOT
from tests.helpers.standin import Party, World, connect, home, route_trigger, wait_for
from tests.helpers.workers import worker_env

DATA = b"kommune;periode\n0101;202610\n" * 50
SFTP = shutil.which("sftp")


def _openssh_sftp(
    runner: StandinThread, party: Party, tmp_path: Path, commands: list[str]
) -> subprocess.CompletedProcess[str]:
    key = tmp_path / f"{party.username}.key"
    key.write_bytes(party.private_key)
    key.chmod(0o600)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(Endpoint.objects.get(slug="lokal").host_key + "\n")
    batch = tmp_path / "batch"
    batch.write_text("\n".join(commands) + "\n")
    assert SFTP is not None
    return subprocess.run(
        [
            SFTP,
            "-F",
            "/dev/null",
            "-i",
            str(key),
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-P",
            str(runner.port),
            "-b",
            str(batch),
            f"{party.username}@127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(SFTP is None, reason="OpenSSH's sftp client is not installed")
def test_openssh_sftp_client_delivers_and_fetches(
    standin: StandinThread, world: World, tmp_path: Path
) -> None:
    trigger = route_trigger(world, file_name="openssh.csv", size=len(DATA))
    (tmp_path / "openssh.csv").write_bytes(DATA)
    (tmp_path / "openssh.csv.trigger").write_bytes(protocol.build_trigger(trigger))

    sent = _openssh_sftp(
        standin,
        world.sender,
        tmp_path,
        [
            "cd OUT",
            f"put {tmp_path / 'openssh.csv'}",
            f"put {tmp_path / 'openssh.csv.trigger'}",
            "ls -l",
        ],
    )
    assert sent.returncode == 0, sent.stderr
    standin.wait_idle()

    fetched = tmp_path / "fetched"
    fetched.mkdir()
    got = _openssh_sftp(
        standin,
        world.flis,
        tmp_path,
        [f"lcd {fetched}", "cd IN", "ls", "get openssh.csv", "get openssh.csv.metadata"],
    )
    assert got.returncode == 0, got.stderr
    assert (fetched / "openssh.csv").read_bytes() == DATA
    metadata_xml = (fetched / "openssh.csv.metadata").read_bytes()
    assert protocol.schema_errors(metadata_xml) == []
    receipt_path = home(standin, world.sender) / "IN" / "openssh.csv.sftpreceipt"
    receipt = protocol.parse_technical_receipt(receipt_path.read_bytes())
    assert receipt.succeeded
    assert protocol.parse_file_metadata(metadata_xml).file_transfer_uuid == (
        receipt.file_transfer_uuid
    )


@pytest.mark.skipif(SFTP is None, reason="OpenSSH's sftp client is not installed")
def test_openssh_sftp_client_refuses_a_wrong_host_key(
    standin: StandinThread, world: World, tmp_path: Path
) -> None:
    Endpoint.objects.filter(slug="lokal").update(
        host_key=f"[127.0.0.1]:{standin.port} ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIHx1Zm9vYmFyYmF6cXV4cXV1eHh5enp5eHd2dXRzcnE="
    )
    result = _openssh_sftp(standin, world.sender, tmp_path, ["ls"])
    assert result.returncode != 0
    assert "host key" in result.stderr.lower()


def _read_line(process: subprocess.Popen[str], timeout: float = 30) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise AssertionError("the stand-in printed nothing")
    return process.stdout.readline()


def _start_command(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    # The test database, SQLite or PostgreSQL (the suite runs on both).
    env = dict(
        os.environ,
        DATABASE_URL=worker_env("")["DATABASE_URL"],
        FLISPORTAL_DATA_DIR=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
    )
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "serviceplatform",
            "--port",
            str(port),
            "--root",
            str(tmp_path / "homes"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    return out


def test_management_command_serves_registers_and_keeps_its_host_key(
    world: World, tmp_path: Path
) -> None:
    port = free_port()
    process = _start_command(tmp_path, port)
    try:
        line = _read_line(process)
        match = re.search(r"lytter på 127\.0\.0\.1:(\d+).*værtsnøgle (SHA256:\S+),", line)
        assert match, line + (process.stderr.read() if process.poll() is not None else "")
        assert int(match.group(1)) == port
        fingerprint = match.group(2)
        key_file = tmp_path / "data" / "serviceplatform" / "ssh_host_ed25519_key"
        assert key_file.exists() and (key_file.stat().st_mode & 0o777) == 0o600

        endpoint = Endpoint.objects.get(slug="lokal")
        assert endpoint.port == port and endpoint.host == "127.0.0.1"
        assert [k.fingerprint for k in parse_pinned_host_keys(endpoint.host_key)] == [fingerprint]

        trigger = route_trigger(world, file_name="process.csv", size=len(DATA))
        with connect(port, world.sender) as sftp:
            with sftp.open("OUT/process.csv", "wb") as handle:
                handle.write(DATA)
            with sftp.open("OUT/process.csv.trigger", "wb") as handle:
                handle.write(protocol.build_trigger(trigger))
            wait_for(lambda: "process.csv.sftpreceipt" in sftp.listdir("IN"))
        assert (tmp_path / "homes" / world.lis.username / "IN" / "process.csv").exists()
        # The stand-in writes the receipt a moment before its decision row becomes final.
        wait_for(PlatformDecision.objects.filter(outcome=PlatformOutcome.DISTRIBUTED).exists)
        assert PlatformDecision.objects.get().outcome == PlatformOutcome.DISTRIBUTED
    finally:
        out = _stop(process)
    assert process.returncode == 0
    assert "stoppet" in out

    # Started again: the same host key, so pinned clients keep working.
    process = _start_command(tmp_path, port)
    try:
        assert fingerprint in _read_line(process)
    finally:
        _stop(process)


def test_management_command_refuses_a_taken_port(world: World, tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process = _start_command(tmp_path, taken.getsockname()[1])
        _, err = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "kan ikke lytte" in err
