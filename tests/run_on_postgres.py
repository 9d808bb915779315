"""Runs a command against a throw-away PostgreSQL server: `python tests/run_on_postgres.py pytest`.

Starts Debian's PostgreSQL from a temporary data folder on a free loopback port (as the
`postgres` system user when run as root, since PostgreSQL refuses to run as root), sets
DATABASE_URL for the command, and stops and deletes the cluster afterwards, whatever happens.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def pg_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if not candidates:
        sys.exit("PostgreSQL is not installed: `make system` installs Debian's postgresql.")
    return Path(candidates[0]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def as_owner(command: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command


def main(argv: list[str]) -> int:
    if not argv:
        sys.exit("usage: run_on_postgres.py COMMAND [ARGS…]")
    bin_dir = pg_bin()
    owner = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="flisportal-pg-"))
    data = folder / "data"
    if owner:
        entry = pwd.getpwnam(owner)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    port = free_port()
    subprocess.run(
        as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "flis", "-A", "trust",
                  "-E", "UTF8", "--locale", "C.UTF-8"], owner),
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
    subprocess.run(
        as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                  "-l", str(folder / "server.log"), "-w", "start"], owner),
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "flis",
             "flisportal"],
            check=True,
        )  # fmt: skip
        env = dict(os.environ, DATABASE_URL=f"postgres://flis@127.0.0.1:{port}/flisportal")
        # How to stop and start this server again, for the fault test that takes the database
        # away mid-flow (tests/deliveries/test_faults.py); a JSON list each, run as they are.
        env["FLISPORTAL_TEST_PG_STOP"] = json.dumps(
            as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], owner)
        )
        env["FLISPORTAL_TEST_PG_START"] = json.dumps(
            as_owner(
                [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                 "-l", str(folder / "server.log"), "-w", "start"],
                owner,
            )
        )  # fmt: skip
        print(f"PostgreSQL on 127.0.0.1:{port} (temporary, {data})", flush=True)
        return subprocess.run(argv, env=env, check=False).returncode
    finally:
        subprocess.run(
            as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                     owner),
            check=False, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.2)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
