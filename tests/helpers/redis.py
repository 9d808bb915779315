"""A private redis-server on a loopback port: the session's (tests/fixtures/services.py) and
those a fault test stops and starts itself."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis


def start_redis(port: int, folder: Path, *, append_only: bool = False) -> subprocess.Popen:
    """Starts redis-server on 127.0.0.1:`port` with its files in `folder`, and returns once it
    answers. Nothing is saved unless `append_only`: then every write goes to an append-only
    file, flushed before it is acknowledged (`appendfsync always`), and read back on the next
    start in the same folder."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: `make test` installs it (apt-get).")
    persistence = ["--appendonly", "yes", "--appendfsync", "always"] if append_only else []
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            *persistence,
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    for _ in range(100):
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not answer on port {port}")
