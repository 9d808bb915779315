"""Real RQ worker processes (`manage.py rqworker`) that share the test's Redis and database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from flisportal.lib.workers import PromptExitWorker
from tests.helpers.processes import ROOT

QUEUES = ("default", "validation", "sftp")


def worker_env(redis_url: str) -> dict[str, str]:
    """Environment for a worker process that shares this test's Redis and database."""
    env = dict(os.environ, REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="flisportal.settings")
    database = settings.DATABASES["default"]  # NAME is the test database's by now
    if database["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{database['NAME']}"
    else:
        password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
        credentials = database["USER"] + password
        env["DATABASE_URL"] = (
            f"postgres://{credentials}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        )
    return env


def rqworker_args(*args: str) -> list[str]:
    """The arguments of `manage.py rqworker *args`, with the worker class that exits as soon
    as it is done (`PromptExitWorker`)."""
    worker_class = f"{PromptExitWorker.__module__}.{PromptExitWorker.__qualname__}"
    return ["rqworker", "--worker-class", worker_class, *args]


def rqworker_command(*args: str) -> list[str]:
    """The command line of `manage.py rqworker *args`, for subprocess."""
    return [sys.executable, str(ROOT / "manage.py"), *rqworker_args(*args)]


def run_burst_worker(
    env: dict[str, str], *queues: str, timeout: float = 120, scheduler: bool = False
) -> subprocess.CompletedProcess[str]:
    """Runs `manage.py rqworker --burst` until `queues` (all three unless named) are empty.
    With `scheduler`, scheduled jobs that are due (retries) are moved onto their queues
    first."""
    return subprocess.run(
        rqworker_command(
            "--burst", *(["--with-scheduler"] if scheduler else []), *(queues or QUEUES)
        ),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def queues_at(url: str) -> Iterator[None]:
    """Points every RQ queue at `url` for the block, and back afterwards."""
    saved = {name: dict(queue) for name, queue in settings.RQ_QUEUES.items()}
    for queue in settings.RQ_QUEUES.values():
        queue["URL"] = url
    try:
        yield
    finally:
        for name, queue in saved.items():
            settings.RQ_QUEUES[name].update(queue)
