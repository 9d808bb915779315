"""The whole portal as its users meet it: a live web server, a real RQ worker and the RQ cron
scheduler as processes, the session's private Redis, the Serviceplatform stand-in, and Debian's
Chromium driven by Playwright (the `browser` and `page` fixtures of tests/fixtures/browser.py).

Everything runs on 127.0.0.1 free ports and against the test database (SQLite file or the
throw-away PostgreSQL of `make test`), and every process is stopped by the fixture that started
it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from deliveries.serviceplatform.server import standin_running
from tests.helpers.browser import ARTIFACTS, Portal, start_manage, wait_for_http
from tests.helpers.e2e import E2EWorld, make_e2e_world
from tests.helpers.net import free_port
from tests.helpers.processes import stop
from tests.helpers.workers import rqworker_args, worker_env


@pytest.fixture
def e2e_world(
    transactional_db: None, django_db_serialized_rollback: None, private_media: Path
) -> E2EWorld:
    return make_e2e_world()


@pytest.fixture
def e2e_standin(e2e_world: E2EWorld, tmp_path: Path) -> Iterator[Path]:
    """The Serviceplatform stand-in on a free loopback port, pinned on the local endpoint."""
    root = tmp_path / "serviceplatform"
    with standin_running(root=root):
        yield root


@pytest.fixture
def portal(
    e2e_world: E2EWorld, e2e_standin: Path, redis_url: str, clean_redis, tmp_path: Path
) -> Iterator[Portal]:
    """Web server, worker (with RQ's scheduler for delayed retries) and the cron scheduler, as
    in the Procfile, with short polling intervals so the flow takes seconds."""
    env = worker_env(redis_url)
    env.update(
        DEBUG="true",  # runserver serves the static files
        FETCH_POLL_SECONDS="2",
        RECEIPT_POLL_SECONDS="5",
        RECONCILE_INTERVAL_SECONDS="60",
        SFTP_RETRY_BASE_DELAY="1",
        SFTP_RETRY_MAX_DELAY="2",
        PYTHONUNBUFFERED="1",
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    processes = [
        start_manage(["runserver", f"127.0.0.1:{port}", "--noreload"], env, logs / "web.log"),
        # The Procfile's worker; its class only leaves promptly when stopped (workers.py).
        start_manage(
            rqworker_args("default", "validation", "sftp", "--with-scheduler"),
            env,
            logs / "worker.log",
        ),
        start_manage(["rqcron", "flisportal.cron"], env, logs / "cron.log"),
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/konto/login/", processes[0], logs / "web.log")
        yield Portal(url=url, logs=logs)
    finally:
        for process in processes:
            stop(process)
        # Keep the process logs with the screenshots: they explain a failed run.
        target = ARTIFACTS / "logs"
        target.mkdir(parents=True, exist_ok=True)
        for log in logs.iterdir():
            shutil.copyfile(log, target / log.name)
