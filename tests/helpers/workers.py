"""Real RQ worker processes (`manage.py rqworker`) that share the test's Redis and database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from rq import Worker

from tests.helpers.processes import ROOT

QUEUES = ("default", "validation", "sftp")


class PromptExitWorker(Worker):
    """RQ's worker, except that it leaves at once when it is done.

    RQ 3.0 listens for commands in a pubsub thread that waits up to 60 s per read, and on the
    way out unsubscribes first and stops the thread second. When Redis's reply to the
    unsubscribe wakes the thread before it is told to stop, it goes back to a 60 s read, and
    redis-py 8's `stop()` waits for that read to end: about every other burst worker took a
    minute to exit after its last job. Telling the thread to stop first lets the reply end it.
    Nothing else differs from the worker the Procfile runs.
    """

    def unsubscribe(self) -> None:
        if self.pubsub_thread:
            try:
                self.pubsub_thread.stop(timeout=0)  # redis-py 8: clear the flag, do not wait
            except TypeError:  # redis-py before 8: stop() only clears the flag
                self.pubsub_thread.stop()
        super().unsubscribe()


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
