"""Shared fixtures: a private Redis for the session, real worker processes, and personas.

Personas (what each may do):
- `admin_user`: administrator (is_staff) – sees and changes everything.
- `vendor_a_user` / `vendor_b_user`: staff of two different vendors – each sees only its own
  vendor's systems, keys, routes and deliveries.
- `consultant_user`: kommune consultant for København (101) – read-only view of that kommune.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from django.conf import settings

from routes.models import ITSystem, Kommune, User, Vendor

ROOT = Path(__file__).resolve().parent.parent


def redis_env() -> dict[str, str]:
    """The environment for a redis-server the tests start. Under tests/run_with_clock_moved.py
    every process runs with libfaketime preloaded, but redis-server cannot start with it (its
    allocator's first clock call recurses into libfaketime), so Redis runs on the real clock.
    Nothing the tests check reads Redis's clock: RQ stamps and compares times in Python."""
    return {name: value for name, value in os.environ.items() if name != "LD_PRELOAD"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hasher() -> Iterator[None]:
    """Test users hash their passwords with a fast hasher: PBKDF2's deliberate 0.4 s per user
    made fixtures the slowest part of the suite. Production keeps Django's default, which stays
    in the list for users who log in to a portal in another process (`portal_password`)."""
    from django.test import override_settings

    md5 = "django.contrib.auth.hashers.MD5PasswordHasher"
    fast = override_settings(PASSWORD_HASHERS=[md5, *settings.PASSWORD_HASHERS])
    fast.enable()
    yield
    fast.disable()


def portal_password(user: User, raw: str) -> User:
    """Gives `user` the password `raw` hashed as the portal hashes it: for a user who logs in
    through a browser to a portal running in its own process (`runserver`), whose settings do
    not have the tests' fast hasher."""
    from django.contrib.auth.hashers import make_password

    user.password = make_password(raw, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    return user


@pytest.fixture(autouse=True)
def _danish() -> None:
    """Each test starts in Danish, as each request does unless its user chose otherwise: the
    language a request activates stays active in its thread after the response."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Each test starts with an empty cache: database ids repeat between tests (each rolls
    back), so a cached page keyed on them could outlive its test."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port, stopped when the session ends.

    The queues in settings point at it for the whole session, and worker processes get it
    through REDIS_URL.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: `make test` installs it (apt-get).")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        env=redis_env(),
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("the private redis-server did not start")
    for queue in settings.RQ_QUEUES.values():
        queue["URL"] = url
    settings.REDIS_URL = url
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def clean_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts TCP connections and never sends a byte (a hung server, or a
    firewall black-holing after the handshake): clients must give up by their own timeout."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for sock in accepted:
        sock.close()
    listener.close()


@pytest.fixture
def redis_down() -> Iterator[None]:
    """Every queue points at a loopback port nobody listens on: Redis is unreachable."""
    with queues_at(f"redis://127.0.0.1:{free_port()}/0"):
        yield


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


@pytest.fixture
def run_worker(redis_url: str):
    """Runs a real `manage.py rqworker --burst` process until the queues are empty. With
    `scheduler`, scheduled jobs that are due (retries) are moved onto their queues first."""

    def run(
        *queues: str, timeout: float = 120, scheduler: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "rqworker",
                "--burst",
                *(["--with-scheduler"] if scheduler else []),
                *(queues or ("default", "validation", "sftp")),
            ],
            env=worker_env(redis_url),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def kommune_kbh(db: None) -> Kommune:
    return Kommune.objects.get(code="101")


@pytest.fixture
def kommune_aarhus(db: None) -> Kommune:
    return Kommune.objects.get(code="751")


@pytest.fixture
def vendor_a(db: None) -> Vendor:
    return Vendor.objects.create(name="Leverandør A", cvr="29130000")


@pytest.fixture
def vendor_b(db: None) -> Vendor:
    return Vendor.objects.create(name="Leverandør B", cvr="37450006")


@pytest.fixture
def system_a(vendor_a: Vendor) -> ITSystem:
    return ITSystem.objects.create(
        name="System A",
        uuid="3f2c1d2e-1111-4222-8333-444455556666",
        vendor=vendor_a,
        is_sender=True,
    )


@pytest.fixture
def system_b(vendor_b: Vendor) -> ITSystem:
    return ITSystem.objects.create(
        name="System B",
        uuid="7a9b0c1d-2222-4333-9444-555566667777",
        vendor=vendor_b,
        is_sender=True,
    )


@pytest.fixture
def flis_system(db: None) -> ITSystem:
    return ITSystem.objects.create(
        name="FLIS", uuid="0c5e3f6a-3333-4444-a555-666677778888", is_recipient=True
    )


@pytest.fixture
def admin_user(db: None) -> User:
    return User.objects.create_user(
        "admin", password="pw-admin-1234", is_staff=True, is_superuser=True
    )


@pytest.fixture
def vendor_a_user(vendor_a: Vendor) -> User:
    return User.objects.create_user("vendor-a", password="pw-vendor-a-1234", vendor=vendor_a)


@pytest.fixture
def vendor_b_user(vendor_b: Vendor) -> User:
    return User.objects.create_user("vendor-b", password="pw-vendor-b-1234", vendor=vendor_b)


@pytest.fixture
def consultant_user(kommune_kbh: Kommune) -> User:
    user = User.objects.create_user("konsulent", password="pw-konsulent-1234")
    user.kommuner.add(kommune_kbh)
    return user


def establish_everywhere(sender_system: ITSystem, **fields: object) -> list:
    """An established route from `sender_system` for every kommune and data area on the local
    stand-in endpoint (490 routes), in one insert: the shape of a large vendor's year."""
    from routes.models import DataArea, Endpoint, Route, RouteStatus

    lokal = Endpoint.objects.get(slug="lokal")
    return Route.objects.bulk_create(
        Route(
            endpoint=lokal,
            data_area=area,
            kommune=kommune,
            sender_system=sender_system,
            sender_authority=kommune.cvr,
            recipient_authority=kommune.cvr,
            status=RouteStatus.ESTABLISHED,
            **fields,
        )
        for kommune in Kommune.objects.all()
        for area in DataArea.objects.all()
    )


@pytest.fixture
def make_established_route(system_a: ITSystem, kommune_kbh: Kommune):
    """An established route on the endpoint with the given slug (for checks and scoping)."""
    from routes.models import DataArea, Endpoint, Route

    def make(slug: str) -> Route:
        return Route.objects.create(
            endpoint=Endpoint.objects.get(slug=slug),
            data_area=DataArea.objects.get(code="personale"),
            kommune=kommune_kbh,
            sender_system=system_a,
            sender_authority=kommune_kbh.cvr,
            recipient_authority=kommune_kbh.cvr,
            status="established",
        )

    return make


# --- deliveries fixtures ---
# A route vendor A may upload Dagtilbud extracts for København on the local stand-in endpoint,
# with a signed databehandleraftale; and synthetic extracts (made-up CPR numbers only).

DAGTILBUD_HEADER = (
    "kommunekode;periode;cpr_barn;daginstitutionsnummer;anvisningsenhedsnummer;pasningstilbud;"
    "ejerform;startdato;slutdato;timer_pr_uge;pladstype;friplads"
)


def dagtilbud_row(n: int = 0, **overrides: str) -> str:
    """One valid Dagtilbud row for København in 2026-10; `n` (0–3999) keeps the key unique.
    The CPR-like number is synthetic and cannot belong to anyone: 7th digit 5 with year 45
    means born 01-01-2045, in the future (CPR's century table)."""
    values = {
        "kommunekode": "101",
        "periode": "202610",
        "cpr_barn": f"010145{5000 + n:04d}",
        "daginstitutionsnummer": "G10001",
        "anvisningsenhedsnummer": "E10001",
        "pasningstilbud": "vuggestue",
        "ejerform": "kommunal",
        "startdato": "2025-08-01",
        "slutdato": "",
        "timer_pr_uge": "51,5",
        "pladstype": "fuldtid",
        "friplads": "ingen",
    }
    values.update(overrides)
    return ";".join(values[name] for name in DAGTILBUD_HEADER.split(";"))


def dagtilbud_csv(*rows: str, rows_ok: int = 0) -> str:
    body = [dagtilbud_row(i) for i in range(rows_ok)] + list(rows)
    return DAGTILBUD_HEADER + "\n" + "".join(line + "\n" for line in body)


@pytest.fixture
def signed_agreement(vendor_a, kommune_kbh):
    from routes.models import AgreementStatus, ProcessingAgreement

    return ProcessingAgreement.objects.create(
        vendor=vendor_a, kommune=kommune_kbh, status=AgreementStatus.SIGNED
    )


@pytest.fixture
def upload_route(system_a, flis_system, kommune_kbh, signed_agreement):
    from routes.models import DataArea, Endpoint, Route, RouteStatus

    route = Route.objects.create(
        endpoint=Endpoint.objects.get(slug="lokal"),
        data_area=DataArea.objects.get(code="dagtilbud"),
        kommune=kommune_kbh,
        sender_system=system_a,
        sender_authority=kommune_kbh.cvr,
        recipient_authority=kommune_kbh.cvr,
        status=RouteStatus.ESTABLISHED,
    )
    route.recipient_systems.add(flis_system)
    return route


@pytest.fixture
def private_media(tmp_path, settings, monkeypatch):
    """Stored extracts go to a folder of this test only, for this process and for worker
    processes started by the test (they read MEDIA_ROOT from the environment)."""
    folder = tmp_path / "private"
    settings.MEDIA_ROOT = str(folder)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder), "base_url": None},
        },
    }
    monkeypatch.setenv("MEDIA_ROOT", str(folder))
    return folder
