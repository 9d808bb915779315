"""Push throughput: the portal's SFTP client (deliveries/sftp.py) against OpenSSH's own `sftp`.

Starts a private OpenSSH sshd on a loopback port (installing openssh-server when it is missing),
with its own config and keys (tests/helpers/sshd.py), writes a test file, and in the same run
uploads it

- with the portal's code (`deliveries.sftp.connect(...).upload`), large writes on and off,
- with plain paramiko defaults (`SFTPClient.put`, default cipher, no TCP_NODELAY) for reference,
- with `sftp -c aes128-gcm@openssh.com -B 261120` in batch mode, the known host key pinned,

each in a fresh process, so the peak memory (RSS) printed is that upload's own. Then the portal's
upload runs again with a file of a quarter of the size, to show that its peak memory does not grow
with the file. Prints MB/s (10^6 bytes per second) per run, the medians and the ratio.

    .venv/bin/python benchmarks/push.py [--size-mib 512] [--repeat 5] [--dir /dev/shm]

The files live in /dev/shm (memory) when it has room, so the figures measure the SFTP transfer,
not the disk's write-back; `--dir` picks another place. One warm-up round is not counted. On a
shared machine the figures move from round to round: read the medians and the per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flisportal.settings")

CIPHER = "aes128-gcm@openssh.com"
# mkdtemp makes a private (0700) folder inside it.
SHM = "/dev/shm"  # noqa: S108
OPENSSH_BUFFER = 261120  # sftp -B: 255 KiB requests, the largest OpenSSH's server takes


def ensure_sshd() -> None:
    if Path("/usr/sbin/sshd").exists():
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("Installing openssh-server (apt-get) …", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", "openssh-server"],
        check=True,
        env=env,
    )


def write_test_file(path: Path, size: int) -> None:
    # Random bytes, so nothing on the way can make the transfer cheaper by compressing it.
    block = os.urandom(4 * 1024 * 1024)
    with open(path, "wb") as out:
        left = size
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)


def peak_rss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


# ---- child modes: one upload per process, reporting its time and peak memory --------------


def child_portal(args: argparse.Namespace) -> dict[str, object]:
    import django

    django.setup()
    from deliveries.sftp import Timeouts, connect

    started = time.perf_counter()
    with connect(
        host="127.0.0.1",
        port=args.port,
        username=args.user,
        private_key=Path(args.key).read_bytes(),
        pinned_host_key=args.host_key,
        large_writes=args.large_writes,
        timeouts=Timeouts(connect=10, banner=15, auth=15, operation=60),
    ) as sftp:
        connected = time.perf_counter()
        sent = sftp.upload(Path(args.local), args.remote)
        cipher = sftp.cipher
    done = time.perf_counter()
    return {
        "bytes": sent,
        "seconds": done - connected,
        "with_connect": done - started,
        "cipher": cipher,
        "peak_rss_kib": peak_rss_kib(),
    }


def child_paramiko_default(args: argparse.Namespace) -> dict[str, object]:
    import socket

    import paramiko

    started = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=10)
    transport = paramiko.Transport(sock)
    transport.connect(username=args.user, pkey=paramiko.PKey.from_path(args.key))
    sftp = paramiko.SFTPClient.from_transport(transport)
    assert sftp is not None
    connected = time.perf_counter()
    attrs = sftp.put(args.local, args.remote)
    done = time.perf_counter()
    cipher = transport.local_cipher
    sftp.close()
    transport.close()
    return {
        "bytes": attrs.st_size,
        "seconds": done - connected,
        "with_connect": done - started,
        "cipher": cipher,
        "peak_rss_kib": peak_rss_kib(),
    }


def run_child(mode: str, common: list[str], *extra: str) -> dict[str, object]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", mode, *common, *extra],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run_openssh(server, key: Path, known_hosts: Path, local: Path, remote: str) -> dict:
    batch = key.parent / "batch.txt"
    batch.write_text(f"put {local} {remote}\n")
    command = [
        "sftp",
        "-q",
        "-b",
        str(batch),
        "-c",
        CIPHER,
        "-B",
        str(OPENSSH_BUFFER),
        "-i",
        str(key),
        "-P",
        str(server.port),
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "IdentitiesOnly=yes",
        f"{server.username}@{server.host}",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # This time includes starting ssh, key exchange and login (tens of ms on loopback).
    return {"bytes": local.stat().st_size, "seconds": seconds, "peak_rss_kib": usage.ru_maxrss}


def mbps(result: dict) -> float:
    # Like for like: OpenSSH's time can only be taken with its connect and login, so the
    # portal's and paramiko's figures include theirs too (Python start-up excluded).
    seconds = result.get("with_connect", result["seconds"])
    return float(result["bytes"]) / float(seconds) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", help="where the test files go (default: /dev/shm if it fits)")
    parser.add_argument("--child")
    parser.add_argument("--port", type=int)
    parser.add_argument("--user")
    parser.add_argument("--key")
    parser.add_argument("--host-key")
    parser.add_argument("--local")
    parser.add_argument("--remote")
    parser.add_argument("--large-writes", action="store_true")
    args = parser.parse_args()

    if args.child:
        child = {"portal": child_portal, "paramiko-default": child_paramiko_default}[args.child]
        print(json.dumps(child(args)))
        return

    ensure_sshd()
    if shutil.which("sftp") is None:
        sys.exit("OpenSSH's sftp client is missing: apt-get install openssh-client")

    import django

    django.setup()
    from routes.keys import generate_key_pair
    from tests.helpers.sshd import start_sshd

    base = args.dir
    if base is None and os.path.isdir(SHM):
        # Room for the local file, its quarter-size twin and one remote copy, with margin.
        if shutil.disk_usage(SHM).free > 3 * args.size_mib * 1024 * 1024:
            base = SHM
    work = Path(tempfile.mkdtemp(prefix="flis-push-bench-", dir=base))
    try:
        pair = generate_key_pair("ed25519", comment="push-benchmark")
        key = work / "client_key"
        key.write_bytes(pair.private_openssh)
        key.chmod(0o600)
        server = start_sshd(work / "sshd", authorized_keys=[pair.public_openssh])
        try:
            known_hosts = work / "known_hosts"
            known_hosts.write_text(f"[{server.host}]:{server.port} {server.host_key_line}\n")
            size = args.size_mib * 1024 * 1024
            big, small = work / "big.bin", work / "small.bin"
            write_test_file(big, size)
            write_test_file(small, size // 4)
            remote_dir = work / "remote"
            remote_dir.mkdir()
            common = [
                "--port",
                str(server.port),
                "--user",
                server.username,
                "--key",
                str(key),
                "--host-key",
                server.host_key_line,
            ]

            def portal(local: Path, large: bool) -> dict:
                flags = ["--large-writes"] if large else []
                remote = ["--remote", str(remote_dir / "portal.bin")]
                return run_child("portal", common, "--local", str(local), *remote, *flags)

            results: dict[str, list[dict]] = {
                "portal, 255 KiB writes": [],
                "portal, 32 KiB writes": [],
                "paramiko defaults": [],
                "OpenSSH sftp": [],
            }
            print(
                f"{args.size_mib} MiB to OpenSSH sshd on 127.0.0.1:{server.port}, "
                f"{args.repeat} rounds after a warm-up; files in {work.parent}; "
                f"{os.cpu_count()} CPUs",
                flush=True,
            )
            ratios: list[float] = []
            for round_number in range(0, args.repeat + 1):
                # Alternate the order so neither client always runs on a warmer cache.
                order = ["portal, 255 KiB writes", "OpenSSH sftp"]
                if round_number % 2 == 0:
                    order.reverse()
                order += ["portal, 32 KiB writes", "paramiko defaults"]
                for name in order:
                    if name == "OpenSSH sftp":
                        result = run_openssh(
                            server, key, known_hosts, big, str(remote_dir / "openssh.bin")
                        )
                    elif name == "paramiko defaults":
                        result = run_child(
                            "paramiko-default",
                            common,
                            "--local",
                            str(big),
                            "--remote",
                            str(remote_dir / "paramiko.bin"),
                        )
                    else:
                        result = portal(big, large=name.endswith("255 KiB writes"))
                    for remote in remote_dir.iterdir():
                        remote.unlink()
                    extra = f", cipher {result['cipher']}" if "cipher" in result else ""
                    label = f"round {round_number}" if round_number else "warm-up"
                    print(f"  {label:8} {name:24} {mbps(result):7.1f} MB/s{extra}", flush=True)
                    if round_number:
                        results[name].append(result)
                if round_number:
                    # Both ran within seconds of each other, under the same load from others.
                    ours = results["portal, 255 KiB writes"][-1]
                    ratios.append(mbps(ours) / mbps(results["OpenSSH sftp"][-1]))

            print("\nMedian MB/s:")
            medians = {name: statistics.median(mbps(r) for r in rs) for name, rs in results.items()}
            for name, value in medians.items():
                spread = [round(mbps(r)) for r in results[name]]
                print(f"  {name:24} {value:7.1f}   (runs: {spread})")
            ratio = medians["portal, 255 KiB writes"] / medians["OpenSSH sftp"]
            print(f"\nportal (255 KiB writes) / OpenSSH sftp: {ratio:.2f}x (target >= 0.90x)")
            print(
                "  per-round ratios: "
                + ", ".join(f"{r:.2f}" for r in ratios)
                + f" (median {statistics.median(ratios):.2f}x)"
            )
            ratio_small = medians["portal, 32 KiB writes"] / medians["OpenSSH sftp"]
            print(f"portal (32 KiB writes)  / OpenSSH sftp: {ratio_small:.2f}x")

            print("\nPeak memory (RSS) of the portal's upload process:")
            for local in (small, big):
                result = portal(local, large=True)
                mib = local.stat().st_size // (1024 * 1024)
                print(
                    f"  {mib:4} MiB file: {int(result['peak_rss_kib']) / 1024:6.1f} MiB RSS "
                    f"({mbps(result):.0f} MB/s)"
                )
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
