"""The portal on several machines that share only PostgreSQL, Redis and an S3-compatible object
store (docs/operations/deployment.md, "Several hosts"): the web server, a validation worker, an
SFTP worker and the cron scheduler run as processes of their own, each with a private data
folder and temp folder of its own, as if on four hosts. An extract goes the whole way: uploaded
over HTTP to the web host, validated on the validation host, pushed to the Serviceplatform
stand-in and its receipt collected on the SFTP host, fetched by the Hent side, and downloaded
again through the web host, delivery and fetched copy alike. Every file lives in the object
store (moto's server, tests/fixtures/objectstore.py), none in a host's folder.

On PostgreSQL only (`make test` runs it under tests/run_on_postgres.py): SQLite is one file on
one machine's disk, the very thing several hosts cannot share.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.db import connection
from django.urls import reverse

from deliveries.lifecycle.states import PROBLEM, DeliveryStatus
from deliveries.models import Delivery, Receipt, ReceiptVerdict
from deliveries.serviceplatform.server import standin_running
from tests.factories import dagtilbud_csv
from tests.helpers.browser import start_manage, wait_for_http
from tests.helpers.e2e import PASSWORD, E2EWorld, make_e2e_world
from tests.helpers.net import free_port
from tests.helpers.processes import stop
from tests.helpers.s3 import S3Server
from tests.helpers.workers import rqworker_args, worker_env

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="several hosts share PostgreSQL, never a SQLite file: runs under "
        "tests/run_on_postgres.py",
    ),
]

# Upload, validation, push, the stand-in's distribution, the receipt round and the fetch round
# each wait for a worker or a cron tick; generous, since the suite shares two cores.
FLOW_TIMEOUT = 90

# A delivery's events from upload to sent, each step once; then `distributed` when the
# receipt round comes before the fetch round (they are independent cron jobs), and `fetched`.
TO_SENT = [
    ("", "received"),
    ("received", "validating"),
    ("validating", "valid"),
    ("valid", "pushing"),
    ("pushing", "sent"),
]
THEN = (
    [("sent", "distributed"), ("distributed", "fetched")],
    [("sent", "fetched")],
)


@dataclass
class Host:
    name: str
    folder: Path  # FLISPORTAL_DATA_DIR, with the host's temp folder inside it
    log: Path

    def files(self) -> list[Path]:
        return sorted(path for path in self.folder.rglob("*") if path.is_file())


@dataclass
class Site:
    url: str
    hosts: dict[str, Host]
    bucket: str


# What each host runs (the Procfile's processes, the worker split as in "More workers").
ROLES = {
    "web": None,  # runserver on a free port, filled in below
    "validation": rqworker_args("validation"),
    "sftp": rqworker_args("sftp", "default", "--with-scheduler"),
    "cron": ["rqcron", "flisportal.cron"],
}


@pytest.fixture
def site(
    s3_server: S3Server, s3_storage: str, redis_url: str, clean_redis, tmp_path: Path
) -> Iterator[Site]:
    """The four hosts, each a process with its own data folder; shared: the test database
    (PostgreSQL), the session's Redis and this test's bucket."""
    port = free_port()
    hosts: dict[str, Host] = {}
    processes = []
    try:
        for name, args in ROLES.items():
            host = Host(name, tmp_path / "hosts" / name, tmp_path / "logs" / f"{name}.log")
            (host.folder / "tmp").mkdir(parents=True)
            host.log.parent.mkdir(exist_ok=True)
            env = worker_env(redis_url)
            for shared_on_one_machine in ("MEDIA_ROOT", "FLISPORTAL_AUDIT_HEADS_FILE"):
                env.pop(shared_on_one_machine, None)
            env.update(
                s3_server.storage_env(s3_storage),
                FLISPORTAL_DATA_DIR=str(host.folder),
                TMPDIR=str(host.folder / "tmp"),  # upload spooling, validation copies
                DEBUG="true",
                FETCH_POLL_SECONDS="2",
                RECEIPT_POLL_SECONDS="5",
                RECONCILE_INTERVAL_SECONDS="60",
                PYTHONUNBUFFERED="1",
            )
            command = args or ["runserver", f"127.0.0.1:{port}", "--noreload"]
            processes.append(start_manage(command, env, host.log))
            hosts[name] = host
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/konto/login/", processes[0], hosts["web"].log)
        yield Site(url=url, hosts=hosts, bucket=s3_storage)
    finally:
        for process in processes:
            stop(process)


def logged_in(site: Site, username: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment for a loopback address
    login = f"{site.url}/konto/login/"
    response = session.post(
        login,
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": csrf(session, login)},
        headers={"Referer": login},
        timeout=30,
    )
    assert response.status_code == 200 and "Log ud" in response.text, response.text[:500]
    return session


def csrf(session: requests.Session, url: str) -> str:
    page = session.get(url, timeout=30)
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert found, f"no CSRF token on {url}"
    return found.group(1)


def wait_for_status(delivery: Delivery, status: str, site: Site) -> None:
    deadline = time.monotonic() + FLOW_TIMEOUT
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status == status:
            return
        if delivery.status in PROBLEM:
            break  # rejected, refused or failed: waiting longer changes nothing
        time.sleep(0.5)
    logs = "\n".join(
        f"--- {host.name}\n{host.log.read_text(errors='replace')[-3000:]}"
        for host in site.hosts.values()
    )
    pytest.fail(f"delivery is {delivery.status}, not {status}: {delivery.last_error}\n{logs}")


def test_the_whole_flow_on_hosts_that_share_no_disk(
    e2e_on_s3: E2EWorld, site: Site, s3_server: S3Server
) -> None:
    world = e2e_on_s3
    content = dagtilbud_csv(rows_ok=2000).encode()
    vendor = logged_in(site, world.vendor_user.username)
    upload = f"{site.url}{reverse('deliveries:upload')}"
    response = vendor.post(
        upload,
        {"route": world.route.pk, "period": "2026-10", "csrfmiddlewaretoken": csrf(vendor, upload)},
        files={"file": ("dagtilbud-0101-2026-10.csv", content, "text/csv")},
        headers={"Referer": upload},
        timeout=60,
    )
    assert response.status_code == 200, response.text[:2000]
    delivery = Delivery.objects.exclude(pk=world.other_delivery.pk).get()
    assert response.url.endswith(reverse("deliveries:detail", args=[delivery.uuid]))

    wait_for_status(delivery, DeliveryStatus.FETCHED, site)
    events = [(e.old_status, e.new_status) for e in delivery.events.order_by("at", "pk")]
    assert events[:5] == TO_SENT and events[5:] in THEN, events
    receipt = Receipt.objects.get(delivery=delivery)
    assert receipt.verdict == ReceiptVerdict.OK

    # Every copy is in the bucket: the upload, and the Hent side's fetched copy.
    assert {delivery.file.name, receipt.file.name} <= set(s3_server.keys(site.bucket))
    # Each step ran on its own host (the worker logs name the jobs they ran).
    assert "validate_delivery" in site.hosts["validation"].log.read_text()
    assert "validate_delivery" not in site.hosts["sftp"].log.read_text()
    for job in ("push_delivery", "collect_receipts", "fetch"):
        assert job in site.hosts["sftp"].log.read_text(), job

    # Downloaded again through the web host, from the store: the extract, and the fetched copy.
    download = vendor.get(f"{site.url}{reverse('deliveries:download', args=[delivery.uuid])}")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).digest() == hashlib.sha256(content).digest()
    consultant = logged_in(site, world.consultant.username)
    fetched = consultant.get(
        f"{site.url}{reverse('deliveries:receipt_download', args=[receipt.uuid])}"
    )
    assert (fetched.status_code, fetched.content) == (200, content)

    # No host kept the extract on its own disk, not even a temporary copy.
    for host in site.hosts.values():
        assert list((host.folder / "tmp").iterdir()) == [], host.name
        for path in host.files():
            assert content[:2000] not in path.read_bytes(), f"{host.name} has it in {path}"


@pytest.fixture
def e2e_on_s3(
    s3_storage: str, transactional_db: None, django_db_serialized_rollback: None, tmp_path: Path
) -> Iterator[E2EWorld]:
    """The end-to-end test's registry and users, and the Serviceplatform stand-in (the
    platform: its folder is not a host's) pinned on the local endpoint."""
    world = make_e2e_world()
    with standin_running(root=tmp_path / "serviceplatform"):
        yield world
