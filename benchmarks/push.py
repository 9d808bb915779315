"""Push and fetch throughput: the portal's SFTP client (deliveries/sftp.py) against OpenSSH's sftp.

Starts a private OpenSSH sshd on a loopback port (installing openssh-server when it is missing),
with its own config and keys (tests/helpers/sshd.py), writes a test file, and in the same run,
round after round, moves it

- up (push) with the portal's code (`deliveries.sftp.connect(...).upload`, 255 KiB writes),
- up over N connections at once (`deliveries.sftp.upload_in_parts`, `--connections`, default 2;
  what an endpoint with `parallel_connections` = N does),
- up with the previous build's write path (paramiko's pipelined `SFTPFile.write`, same cipher,
  same request size) for an old/new comparison under the same load,
- up with `sftp -c aes128-gcm@openssh.com -B 261120` in batch mode, the known host key pinned,
- down (fetch) with the portal's code (`SftpConnection.download`, as deliveries/hent does),
- down with paramiko's own `SFTPClient.get` (its prefetch), for reference,
- down with OpenSSH's `sftp get`, same options,

each in a fresh process, so the peak memory (RSS) printed is that transfer's own. Then the portal's
upload runs again with a file of a quarter of the size, to show that its peak memory does not grow
with the file. Prints MB/s (10^6 bytes per second) per round with the load average, the medians,
the ratios against OpenSSH measured in the same run (of the medians and per round), the target
(>= 1.0x OpenSSH) and whether it was met, and each client's CPU seconds (user + system) per GiB
moved: the portal's transfer process from connecting on, OpenSSH's sftp with the ssh it starts.

    .venv/bin/python benchmarks/push.py [--size-mib 512] [--repeat 5] [--connections 2]
                                        [--dir /dev/shm]

The files live in /dev/shm (memory) when it has room, so the figures measure the SFTP transfer,
not the disk's write-back; `--dir` picks another place. One warm-up round is not counted. On a
shared machine the figures move from round to round: read the medians and the per-round ratios,
and the load average printed with each figure.
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


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    # User + system CPU: on a shared machine far steadier per byte than MB/s, and on two cores
    # what the client saves is what sshd can use.
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# ---- child modes: one transfer per process, reporting its time and peak memory ------------


def _portal_connect(args: argparse.Namespace):  # a context manager of SftpConnection
    from deliveries.sftp import Timeouts, connect

    return connect(
        host="127.0.0.1",
        port=args.port,
        username=args.user,
        private_key=Path(args.key).read_bytes(),
        pinned_host_key=args.host_key,
        large_writes=True,
        timeouts=Timeouts(connect=10, banner=15, auth=15, operation=60),
    )


def _result(moved: int, started: float, connected: float, **extra: object) -> dict[str, object]:
    done = time.perf_counter()
    return {
        "bytes": moved,
        "seconds": done - connected,
        "with_connect": done - started,
        "cpu": cpu_seconds() - CPU_AT_START,
        "peak_rss_kib": peak_rss_kib(),
        **extra,
    }


CPU_AT_START = 0.0  # the child's CPU when its transfer began (after Python's and Django's start)


def child_portal(args: argparse.Namespace) -> dict[str, object]:
    started = time.perf_counter()
    with _portal_connect(args) as sftp:
        connected = time.perf_counter()
        sent = sftp.upload(Path(args.local), args.remote)
        cipher = sftp.cipher
    return _result(sent, started, connected, cipher=cipher)


def child_portal_parts(args: argparse.Namespace) -> dict[str, object]:
    from deliveries.sftp import upload_in_parts

    size = Path(args.local).stat().st_size

    def open_source(start: int):
        handle = open(args.local, "rb")  # closed by upload_in_parts
        handle.seek(start)
        return handle

    started = time.perf_counter()
    with _portal_connect(args) as sftp:
        connected = time.perf_counter()
        upload_in_parts(
            sftp,
            open_connection=lambda: _portal_connect(args),
            open_source=open_source,
            remote_path=args.remote,
            size=size,
            connections=args.connections,
        )
        cipher = sftp.cipher
    return _result(size, started, connected, cipher=cipher)


def child_previous_writes(args: argparse.Namespace) -> dict[str, object]:
    """The previous build's upload loop: paramiko's own pipelined SFTPFile.write with 255 KiB
    requests over the portal's connection (same cipher, TCP_NODELAY), its answers read at the
    end as that build did."""
    from paramiko.sftp import CMD_STATUS

    from deliveries.sftp import CHUNK_SIZE, LARGE_WRITE_SIZE

    started = time.perf_counter()
    sent = 0
    with _portal_connect(args) as sftp:
        connected = time.perf_counter()
        client = sftp._sftp
        remote = client.open(args.remote, "wb")
        remote.set_pipelined(True)
        remote.MAX_REQUEST_SIZE = LARGE_WRITE_SIZE
        with open(args.local, "rb") as local:
            while chunk := local.read(CHUNK_SIZE):
                remote.write(chunk)
                sent += len(chunk)
        while remote._reqs:
            kind, _ = client._read_response(remote._reqs.popleft())
            assert kind == CMD_STATUS
        remote.close()
        cipher = sftp.cipher
    return _result(sent, started, connected, cipher=cipher)


def child_portal_download(args: argparse.Namespace) -> dict[str, object]:
    started = time.perf_counter()
    with _portal_connect(args) as sftp, open(args.local, "wb") as target:
        connected = time.perf_counter()
        received, _ = sftp.download(args.remote, target)
        cipher = sftp.cipher
    return _result(received, started, connected, cipher=cipher)


def child_paramiko_get(args: argparse.Namespace) -> dict[str, object]:
    started = time.perf_counter()
    with _portal_connect(args) as sftp:
        connected = time.perf_counter()
        sftp._sftp.get(args.remote, args.local)  # paramiko's prefetching download
        cipher = sftp.cipher
    return _result(Path(args.local).stat().st_size, started, connected, cipher=cipher)


CHILDREN = {
    "portal": child_portal,
    "portal-parts": child_portal_parts,
    "previous-writes": child_previous_writes,
    "portal-download": child_portal_download,
    "paramiko-get": child_paramiko_get,
}


def run_child(mode: str, common: list[str], *extra: str) -> dict[str, object]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", mode, *common, *extra],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run_openssh(server, key: Path, known_hosts: Path, command_line: str, size: int) -> dict:
    batch = key.parent / "batch.txt"
    batch.write_text(command_line + "\n")
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
    cpu_before = cpu_seconds(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # This time includes starting ssh, key exchange and login (tens of ms on loopback); the CPU
    # is sftp's and the ssh it starts (both waited for).
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before
    return {"bytes": size, "seconds": seconds, "cpu": cpu, "peak_rss_kib": usage.ru_maxrss}


def mbps(result: dict) -> float:
    # Like for like: OpenSSH's time can only be taken with its connect and login, so the
    # portal's and paramiko's figures include theirs too (Python start-up excluded).
    seconds = result.get("with_connect", result["seconds"])
    return float(result["bytes"]) / float(seconds) / 1e6


TARGET = 1.0  # issue 18: the portal at least level with OpenSSH's sftp on the same machine


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--dir", help="where the test files go (default: /dev/shm if it fits)")
    parser.add_argument("--child")
    parser.add_argument("--port", type=int)
    parser.add_argument("--user")
    parser.add_argument("--key")
    parser.add_argument("--host-key")
    parser.add_argument("--local")
    parser.add_argument("--remote")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.child:
        import django

        django.setup()
        global CPU_AT_START
        CPU_AT_START = cpu_seconds()
        print(json.dumps(CHILDREN[args.child](args)))
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
        # Room for the local file, its quarter-size twin, the file to fetch, one remote copy
        # and one fetched copy, with margin.
        if shutil.disk_usage(SHM).free > 5 * args.size_mib * 1024 * 1024:
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
            run_rounds(args, server, key, known_hosts, work)
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_rounds(args: argparse.Namespace, server, key: Path, known_hosts: Path, work: Path) -> None:
    size = args.size_mib * 1024 * 1024
    big, small = work / "big.bin", work / "small.bin"
    write_test_file(big, size)
    write_test_file(small, size // 4)
    remote_dir = work / "remote"
    remote_dir.mkdir()
    to_fetch = remote_dir / "fetch.bin"
    shutil.copyfile(big, to_fetch)
    fetched = work / "fetched.bin"
    common = ["--port", str(server.port), "--user", server.username, "--key", str(key),
              "--host-key", server.host_key_line]  # fmt: skip
    parts = f"portal, {args.connections} connections"
    up = ["portal", parts, "previous build", "OpenSSH sftp put"]
    down = ["portal download", "paramiko get", "OpenSSH sftp get"]

    def transfer(name: str, local: Path = big) -> dict:
        target = str(remote_dir / "pushed.bin")
        if name == "OpenSSH sftp put":
            return run_openssh(server, key, known_hosts, f"put {local} {target}", size)
        if name == "OpenSSH sftp get":
            return run_openssh(server, key, known_hosts, f"get {to_fetch} {fetched}", size)
        mode, where, there = {
            "portal": ("portal", local, target),
            parts: ("portal-parts", local, target),
            "previous build": ("previous-writes", local, target),
            "portal download": ("portal-download", fetched, str(to_fetch)),
            "paramiko get": ("paramiko-get", fetched, str(to_fetch)),
        }[name]
        extra = ["--connections", str(args.connections)]
        return run_child(mode, common, "--local", str(where), "--remote", there, *extra)

    results: dict[str, list[dict]] = {name: [] for name in up + down}
    print(
        f"{args.size_mib} MiB to and from OpenSSH sshd on 127.0.0.1:{server.port}, "
        f"{args.repeat} rounds after a warm-up; files in {work.parent}; {os.cpu_count()} CPUs",
        flush=True,
    )
    for round_number in range(args.repeat + 1):
        # Alternate the order so no client always runs on a warmer cache.
        order = up + down if round_number % 2 else list(reversed(up)) + list(reversed(down))
        for name in order:
            result = transfer(name)
            result["load"] = os.getloadavg()[0]
            for leftover in (remote_dir / "pushed.bin", fetched):
                leftover.unlink(missing_ok=True)
            extra = f", cipher {result['cipher']}" if "cipher" in result else ""
            label = f"round {round_number}" if round_number else "warm-up"
            print(
                f"  {label:8} {name:24} {mbps(result):7.1f} MB/s  load {result['load']:.2f}{extra}",
                flush=True,
            )
            if round_number:
                results[name].append(result)
    report(results, up, down, parts)

    print("\nPeak memory (RSS) of the portal's upload process:")
    for local in (small, big):
        result = transfer("portal", local)
        mib = local.stat().st_size // (1024 * 1024)
        print(
            f"  {mib:4} MiB file: {int(result['peak_rss_kib']) / 1024:6.1f} MiB RSS "
            f"({mbps(result):.0f} MB/s)"
        )
        (remote_dir / "pushed.bin").unlink(missing_ok=True)


def cpu_per_gib(result: dict) -> float:
    return float(result["cpu"]) / (float(result["bytes"]) / 2**30)


def report(results: dict[str, list[dict]], up: list[str], down: list[str], parts: str) -> None:
    print("\nMedian MB/s (load average: median of the rounds), client CPU s per GiB moved:")
    medians = {name: statistics.median(mbps(r) for r in rs) for name, rs in results.items()}
    for name, value in medians.items():
        spread = [round(mbps(r)) for r in results[name]]
        load = statistics.median(r["load"] for r in results[name])
        cpu = statistics.median(cpu_per_gib(r) for r in results[name])
        print(
            f"  {name:24} {value:7.1f}   load {load:.2f}   cpu {cpu:5.2f} s/GiB"
            f"   (rounds: {spread})"
        )
    print(f"\nTarget: >= {TARGET:.1f}x OpenSSH's sftp, measured in this run.")
    for name, reference in [
        ("portal", "OpenSSH sftp put"),
        (parts, "OpenSSH sftp put"),
        ("previous build", "OpenSSH sftp put"),
        ("portal download", "OpenSSH sftp get"),
        ("paramiko get", "OpenSSH sftp get"),
    ]:
        ratio = medians[name] / medians[reference]
        per_round = [
            mbps(ours) / mbps(theirs)
            for ours, theirs in zip(results[name], results[reference], strict=True)
        ]
        verdict = "met" if ratio >= TARGET else "NOT met"
        print(
            f"  {name:24} / {reference:17} {ratio:.2f}x ({verdict}); per round "
            + ", ".join(f"{r:.2f}" for r in per_round)
            + f" (median {statistics.median(per_round):.2f}x)"
        )
    new_old = medians["portal"] / medians["previous build"]
    print(f"  portal / previous build (old/new, same rounds): {new_old:.2f}x")


if __name__ == "__main__":
    main()
