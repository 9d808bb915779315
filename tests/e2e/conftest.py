"""The whole portal as its users meet it: a live web server, a real RQ worker and the RQ cron
scheduler as processes, the session's private Redis, the Serviceplatform stand-in, and Debian's
Chromium driven by Playwright.

Everything runs on 127.0.0.1 free ports and against the test database (SQLite file or the
throw-away PostgreSQL of `make test`), and every process is stopped by the fixture that started
it. The browser is the system's `/usr/bin/chromium`: Playwright never downloads one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connections

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from deliveries.serviceplatform.server import standin_running
from routes.models import (
    AgreementStatus,
    DataArea,
    Endpoint,
    Kommune,
    ProcessingAgreement,
    Route,
    User,
)
from tests.conftest import ROOT, free_port, portal_password, worker_env
from tests.deliveries.standin import add_party, established_route, flis_system, sender_systems

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "pw-e2e-flis-1234"


@dataclass
class E2EWorld:
    vendor_user: User
    consultant: User
    route: Route
    other_delivery: Delivery  # vendor B's, for Aarhus: outside both users' scope
    kommune: Kommune


@pytest.fixture
def e2e_world(
    transactional_db: None, django_db_serialized_rollback: None, private_media: Path
) -> E2EWorld:
    """Vendor A delivers Dagtilbud for København to FLIS on the local stand-in endpoint; vendor B
    has delivered for Aarhus. A consultant works for København. The portal holds the private
    keys of vendor A's and FLIS's SFTP users: it pushes as the one and fetches as the other."""
    endpoint = Endpoint.objects.get(slug="lokal")
    kbh = Kommune.objects.get(code="101")
    aarhus = Kommune.objects.get(code="751")
    area = DataArea.objects.get(code="dagtilbud")
    system_a, system_b = sender_systems()
    flis = flis_system()
    vendor_a = system_a.vendor
    ProcessingAgreement.objects.create(vendor=vendor_a, kommune=kbh, status=AgreementStatus.SIGNED)
    route = established_route(
        endpoint=endpoint, area=area, kommune=kbh, sender_system=system_a, recipients=[flis]
    )
    route_b = established_route(
        endpoint=endpoint, area=area, kommune=aarhus, sender_system=system_b, recipients=[]
    )
    add_party(endpoint, system_a, "LEV-A_FLIS_SFTP", portal_holds_key=True)
    add_party(endpoint, flis, "FLIS_HENT", portal_holds_key=True)
    content = b"vendor B's extract for Aarhus\n"
    other = Delivery.objects.create(
        route=route_b,
        it_system=system_b,
        data_area=area,
        kommune=aarhus,
        endpoint=endpoint,
        period="2026-10",
        status=DeliveryStatus.REJECTED,
        original_filename="aarhus.csv",
        file="deliveries/aarhus.csv",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    vendor_user = User.objects.create_user(
        "leverandoer-a", password=PASSWORD, vendor=vendor_a, first_name="Lene", last_name="Lev"
    )
    consultant = User.objects.create_user(
        "konsulent-kbh", password=PASSWORD, first_name="Karin", last_name="Konsulent"
    )
    consultant.kommuner.add(kbh)
    for user in (vendor_user, consultant):
        portal_password(user, PASSWORD)
    return E2EWorld(vendor_user, consultant, route, other, kbh)


@pytest.fixture
def e2e_standin(e2e_world: E2EWorld, tmp_path: Path) -> Iterator[Path]:
    """The Serviceplatform stand-in on a free loopback port, pinned on the local endpoint."""
    root = tmp_path / "serviceplatform"
    with standin_running(root=root):
        yield root


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class Portal:
    url: str
    logs: Path

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


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
        _start(["runserver", f"127.0.0.1:{port}", "--noreload"], env, logs / "web.log"),
        _start(
            ["rqworker", "default", "validation", "sftp", "--with-scheduler"],
            env,
            logs / "worker.log",
        ),
        _start(["rqcron", "flisportal.cron"], env, logs / "cron.log"),
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_http(f"{url}/konto/login/", processes[0], logs / "web.log")
        yield Portal(url=url, logs=logs)
    finally:
        for process in processes:
            _stop(process)
        # Keep the process logs with the screenshots: they explain a failed run.
        target = ARTIFACTS / "logs"
        target.mkdir(parents=True, exist_ok=True)
        for log in logs.iterdir():
            shutil.copyfile(log, target / log.name)


def _wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the web server stopped:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"the web server did not answer on {url}")


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    # Playwright's sync API keeps an asyncio loop on this thread, and Django refuses ORM calls
    # from a thread with a loop. The test's own ORM calls never run inside that loop's tasks.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
            headless=True,
        )
        try:
            yield chromium
        finally:
            chromium.close()
            # ORM calls made while Playwright's loop ran opened a connection of their own
            # (Django keeps connections per async context); close it here, in that context,
            # or PostgreSQL refuses to drop the test database at the end of the session.
            connections.close_all()
