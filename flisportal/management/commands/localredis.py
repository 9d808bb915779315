"""Runs a local Redis for `make run` unless one already answers at REDIS_URL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from typing import Any
from urllib.parse import urlparse

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# How long Redis waits, when told to stop, for the other processes to close their connections.
# Below honcho's 5 s between its SIGTERM and its SIGKILL.
STOP_GRACE_SECONDS = 3


class Command(BaseCommand):
    help = "Starts redis-server on REDIS_URL's loopback port, or waits if Redis already runs."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--wait", action="store_true", help="Only wait (up to 30 s) until Redis answers."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = urlparse(settings.REDIS_URL)
        if options["wait"]:
            for _ in range(60):
                try:
                    redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
                    return
                except redis.RedisError:
                    time.sleep(0.5)
            raise CommandError(f"Redis at {settings.REDIS_URL} did not answer within 30 s.")
        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
        except redis.RedisError:
            pass
        else:
            self.stdout.write(f"Redis already answers at {settings.REDIS_URL}; using it.")
            # Stay in the foreground so the process manager treats us as running.
            signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
            while True:
                time.sleep(3600)
        if url.hostname not in {"127.0.0.1", "localhost"}:
            raise CommandError(
                f"Redis at {settings.REDIS_URL} does not answer, and it is not local."
            )
        binary = shutil.which("redis-server")
        if binary is None:
            raise CommandError(
                "redis-server is not installed: run `make system` (apt-get install redis-server)."
            )
        folder = settings.DATA_DIR / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        self.stdout.write(
            f"Starting redis-server on 127.0.0.1:{url.port or 6379}, data in {folder}"
        )
        server = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(url.port or 6379),
                "--dir",
                str(folder),
                "--appendonly",
                "yes",
                "--protected-mode",
                "yes",
            ],
            # A session of its own: honcho stops a Procfile line by signalling its process
            # group, and Redis must not get that signal at the same moment as the workers.
            start_new_session=True,
        )
        self._serve_until_stopped(server)

    def _serve_until_stopped(self, server: subprocess.Popen[bytes]) -> None:
        """Runs until redis-server ends or this process is told to stop; then gives the other
        processes time to leave before Redis stops.

        On Ctrl-C honcho sends SIGTERM to every process of `make run` at once. A worker and its
        scheduler still talk to Redis on their way out (they deregister and release their
        locks), and with Redis gone first they printed a connection traceback."""
        stopping = threading.Event()

        def stop(*_: object) -> None:
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while server.poll() is None and not stopping.wait(0.2):
            pass
        if server.poll() is not None:
            raise CommandError(f"redis-server stopped (exit code {server.returncode}).")
        self._wait_for_clients_to_leave()
        server.terminate()  # redis-server's own shutdown: the append-only file is flushed
        server.wait(timeout=30)

    def _wait_for_clients_to_leave(self) -> None:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        try:
            # This connection is one of the clients.
            while len(client.client_list()) > 1 and time.monotonic() < deadline:
                time.sleep(0.1)
        except redis.RedisError:
            pass  # Redis is going anyway; terminate() below
        finally:
            client.close()
