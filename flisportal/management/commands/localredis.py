"""Runs a local Redis for `make run` unless one already answers at REDIS_URL."""

from __future__ import annotations

import os
import shutil
import signal
import time
from typing import Any
from urllib.parse import urlparse

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


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
        os.execv(  # noqa: S606 - replaces this process with redis-server, no shell
            binary,
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
        )
