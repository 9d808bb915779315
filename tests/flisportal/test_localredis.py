"""`manage.py localredis` (the Redis of `make run`): told to stop, it keeps Redis up while
other processes are still connected, for at most STOP_GRACE_SECONDS. On Ctrl-C honcho signals
every process at once, and a worker deregistering after Redis had gone printed a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

from flisportal.management.commands.localredis import STOP_GRACE_SECONDS
from tests.helpers.net import free_port
from tests.helpers.processes import ROOT

pytestmark = pytest.mark.redis


def _start(tmp_path) -> tuple[subprocess.Popen[bytes], redis.Redis]:
    url = f"redis://127.0.0.1:{free_port()}/0"
    env = dict(os.environ, REDIS_URL=url, FLISPORTAL_DATA_DIR=str(tmp_path))
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "localredis"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis.from_url(url, socket_timeout=2)
    for _ in range(100):
        try:
            client.ping()
            return process, client
        except redis.ConnectionError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("localredis did not start")


def test_redis_outlives_its_clients_when_told_to_stop(tmp_path):
    # Rule: Redis stops after the processes still connected to it, as a worker on its way out.
    process, client = _start(tmp_path)
    try:
        process.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert client.ping(), "Redis went away while a client was still connected"
        client.close()
        assert process.wait(timeout=5) == 0
        port = client.connection_pool.connection_kwargs["port"]
        with pytest.raises(redis.ConnectionError):
            redis.Redis(port=port, socket_connect_timeout=1).ping()
    finally:
        process.kill()


def test_a_client_that_stays_does_not_keep_redis_up(tmp_path):
    # Rule: the grace is bounded, below honcho's 5 s before it kills everything.
    process, client = _start(tmp_path)
    try:
        client.ping()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOP_GRACE_SECONDS + 5) == 0
        assert time.monotonic() - started < 5
    finally:
        process.kill()
        client.close()
