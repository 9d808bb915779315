"""Load: the portal's busiest pages under gunicorn with five years of data, next to the admin.

Seeds a realistic volume into a fresh SQLite file in a temporary FLISPORTAL_DATA_DIR (98
kommuner and 5 data areas from the migrations; 20 vendors with one fagsystem each; a production
and an exttest route per kommune and area; one delivery per route and month for five years, a
rejected first try and its correction for a share of them, each with its events, validation
issues for the rejected ones and a technical receipt for the distributed ones: ≈100,000
deliveries), starts the portal under gunicorn with DEBUG=false on a free loopback port, and
measures latency (p50/p95/p99) and throughput at 1, 10 and 50 concurrent users for

- the coverage dashboard (administrator: all 98 kommuner) and its overview with filters
  (only gaps, only overdue in a region, a kommune search),
- a kommune's own page (administrator: four kommuner in turn),
- the delivery list (administrator: all deliveries, first page; and a vendor's own list),
- a delivery page (a different delivery for each request, rejected ones with their report),
- the start page (administrator and vendor: the periods still owed and the deliveries that need
  a person) and the list of outstanding periods (administrator),
- Udvikling (administrator: 24 months of all kommuner's periods and failed rules),
- the Django admin change list of Delivery — the reference, in the same run.

The inbox (Hent side), the trends page, the compact coverage overview and a kommune's page are
measured when their URL names reverse (`deliveries:inbox`, `front:trends`, `front:kommune`);
the run names those it skipped.

    .venv/bin/python benchmarks/load.py [--deliveries 100000] [--months 60] [--requests 200]
    .venv/bin/python benchmarks/load.py --deliveries 100000,1000000   # side by side

`--deliveries N` keeps the grid (routes × months) and puts more rejected tries before each
period's accepted delivery (0.7 on average at 100,000, ≈16 at 1,000,000); rows are written
with executemany one month at a time, so memory stays flat. Several sizes are seeded and
measured one after the other, each in a process of its own, and printed side by side.

gunicorn runs as deployed: 4 workers importing `flisportal.wsgi` (which warms each worker up
before its first request) and the cache in a private redis-server on a free loopback port,
shared by the workers (`--cache-url locmem://` measures one cache per worker instead).

Each user is a thread with its own keep-alive HTTP connection (http.client) and the session
cookie of a user logged in through Django's own login (the session row is written in the
seeded database). No external load tool is needed. Targets (issues 9 and 18): p95 under 150 ms
at 10 users for every portal page at every size, and no page slower than the admin change list.

Runtime on the 2-core development machine: about 3-5 minutes at 100,000 (seeding ≈1-2 min);
seeding 1,000,000 takes ≈10 times as long.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-" + "k" * 20 + "3Xq!v9-Lm2#Pz8@Rt5&Wc1^Yb7*Hn4$Gd6%Fs0"
# Not the development default: DEBUG=false refuses that one (flisportal.E005).
FERNET = "KSXZkUjY0WrLZPLL5dwOtBkbuFoU_xUb_erFFUrHlqg="


def environment(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "flisportal.settings",
        "DEBUG": "false",
        "SECRET_KEY": SECRET,
        "FLISPORTAL_KEY_ENCRYPTION_KEYS": FERNET,
        # Not the development default either (flisportal.E005).
        "FLISPORTAL_AUDIT_HMAC_KEY": "audit-" + "a" * 10 + "7Rk!2pQ-x9Lm#4Vt8@Zc",
        "FLISPORTAL_DATA_DIR": str(data_dir),
        # This checkout's code, not whichever the virtualenv's editable install points at.
        "PYTHONPATH": str(ROOT),
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: no TLS redirect; the benchmark sends the session cookie itself.
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        # The benchmark sends no mail over the network.
        "FLISPORTAL_EMAIL_ALLOW_PLAINTEXT": "true",
    }


# --- seeding ----------------------------------------------------------------------------------


class RawTable:
    """An INSERT of whole rows for one model, for executemany: bulk_create spends most of its
    time per object and per field in Python, which at a million deliveries (and five million
    events) is most of the seeding. Columns not given take the field's default, prepared for
    the database once."""

    def __init__(self, model: Any, connection: Any) -> None:
        fields = model._meta.concrete_fields
        self.attnames = [f.attname for f in fields]
        self.defaults = {
            f.attname: None if f.primary_key else f.get_db_prep_save(f.get_default(), connection)
            for f in fields
        }
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        table = connection.ops.quote_name(model._meta.db_table)
        # Names from the models, no user input.
        self.sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608

    def row(self, **values: object) -> tuple[object, ...]:
        merged = self.defaults | values
        return tuple(merged[name] for name in self.attnames)


def db_time(at: datetime) -> str:
    """A time as Django stores it in SQLite (naive UTC, str())."""
    return str(at.astimezone(UTC).replace(tzinfo=None))


REJECTED_RULES = json.dumps({"enum": 2, "required": 1})
REJECTED_COLUMNS = json.dumps({"pladstype": 3})
STEPS_OK = [
    ("", "received"),
    ("received", "validating"),
    ("validating", "valid"),
    ("valid", "pushing"),
    ("pushing", "sent"),
    ("sent", "distributed"),
]


def seed_delivery(
    rows: dict[Any, list[tuple[object, ...]]],
    tables: dict[Any, RawTable],
    ids: dict[str, int],
    route: Any,
    period: str,
    status: str,
    at: datetime,
    rng: random.Random,
    contract_id: int | None,
    flis_id: int,
    flis_user_ids: dict[int, int],
) -> None:
    """Appends one delivery with its events, validation issues and Hent-side receipt."""
    delivery_model, event_model, issue_model, receipt_model = tables
    ids["delivery"] += 1
    pk = ids["delivery"]
    content_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    sha = hashlib.sha256(content_id.bytes).hexdigest()
    size = rng.randrange(10_000, 50_000_000)
    rejected = status == "rejected"
    values: dict[str, object] = {
        "id": pk,
        "uuid": content_id.hex,
        "route_id": route.pk,
        "it_system_id": route.sender_system_id,
        "data_area_id": route.data_area_id,
        "kommune_id": route.kommune_id,
        "endpoint_id": route.endpoint_id,
        "period": period,
        "status": status,
        "status_changed_at": db_time(at + timedelta(minutes=5)),
        "uploaded_at": db_time(at),
        "original_filename": f"udtraek_{period}_{route.kommune_id}.csv",
        "file": f"deliveries/x/{period}/{content_id}.csv",
        "size": size,
        "sha256": sha,
        "contract_id": contract_id,
        "encoding": "utf-8",
        "rows_total": 1000,
        "rows_checked": 1000,
        "progress_percent": 100,
        "error_count": 3 if rejected else 0,
        "validated_at": db_time(at + timedelta(minutes=1)),
    }
    steps = [("", "received"), ("received", "validating")]
    if rejected:
        values |= {"errors_by_rule": REJECTED_RULES, "errors_by_column": REJECTED_COLUMNS}
        steps.append(("validating", "rejected"))
        for i in range(3):
            ids["issue"] += 1
            rows[issue_model].append(
                tables[issue_model].row(
                    id=ids["issue"],
                    delivery_id=pk,
                    position=i,
                    row=10 + i,
                    column="pladstype",
                    value="halv",
                    rule="enum",
                    message="«halv» er ikke en tilladt værdi.",
                )
            )
    else:
        wire_name = f"X_{period}_{content_id.hex[:8]}.csv"
        transfer = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        values |= {
            "wire_name": wire_name,
            "transaction_id": uuid.UUID(int=rng.getrandbits(128), version=4).hex,
            "push_attempts": 1,
            "sent_at": db_time(at + timedelta(minutes=2)),
            "file_transfer_uuid": transfer,
            "receipt_at": db_time(at + timedelta(minutes=5)),
        }
        steps = list(STEPS_OK)
        if status == "fetched":
            steps.append(("distributed", "fetched"))
            ids["receipt"] += 1
            rows[receipt_model].append(
                tables[receipt_model].row(
                    id=ids["receipt"],
                    uuid=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
                    filetransfer_uuid=transfer,
                    recipient_sftp_user_id=flis_user_ids[route.endpoint_id],
                    recipient_system_id=flis_id,
                    file_name=wire_name,
                    declared_size=size,
                    size=size,
                    sha256=sha,
                    sender=f"sender-{route.sender_system_id}",
                    senders_file_id=str(content_id),
                    sender_system_id=route.sender_system_id,
                    data_area_id=route.data_area_id,
                    kommune_id=route.kommune_id,
                    period=period,
                    route_id=route.pk,
                    delivery_id=pk,
                    fetched_at=db_time(at + timedelta(minutes=20)),
                    verdict="ok",
                    file=f"received/flis/{period}/{wire_name}",
                )
            )
    rows[delivery_model].append(tables[delivery_model].row(**values))
    for i, (old, new) in enumerate(steps):
        ids["event"] += 1
        rows[event_model].append(
            tables[event_model].row(
                id=ids["event"],
                delivery_id=pk,
                old_status=old,
                new_status=new,
                actor_label="baggrundsjob",
                at=db_time(at + timedelta(seconds=i)),
            )
        )


def seed(months: int, deliveries_wanted: int, rng: random.Random) -> dict[str, object]:
    """Writes the data set with bulk_create; returns what the load phase needs."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from deliveries.lifecycle.states import DeliveryStatus
    from deliveries.models import (
        DataContract,
        Delivery,
        DeliveryEvent,
        ExpectedDelivery,
        ExpectedState,
        Receipt,
        ValidationIssue,
    )
    from deliveries.services.expected import expected_deadlines
    from deliveries.services.rule_failures import rebuild_rule_failures
    from flisportal.twofactor.models import UserSession, digest
    from flisportal.twofactor.policy import SOURCE_TOTP, mark_session_verified
    from flisportal.twofactor.sessions import SESSION_TRACK_KEY
    from routes.models import (
        AgreementStatus,
        DataArea,
        Endpoint,
        ITSystem,
        Kommune,
        ProcessingAgreement,
        Route,
        RouteStatus,
        SftpUser,
        User,
        Vendor,
    )

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        # A throw-away file: no need to wait for the disk after every month's transaction.
        cursor.execute("PRAGMA synchronous = OFF")
    call_command("collectstatic", interactive=False, verbosity=0)  # as a deployment has it
    kommuner = list(Kommune.objects.order_by("code"))
    areas = list(DataArea.objects.order_by("sort_order"))
    endpoints = [Endpoint.objects.get(slug="produktion"), Endpoint.objects.get(slug="exttest")]
    contracts = {c.data_area_id: c for c in DataContract.objects.active()}

    with transaction.atomic():
        vendors = Vendor.objects.bulk_create(
            Vendor(name=f"Leverandør {i:02d}", cvr=f"{40000000 + i * 7919:08d}") for i in range(20)
        )
        systems = ITSystem.objects.bulk_create(
            ITSystem(
                name=f"Fagsystem {i:02d}",
                uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
                vendor=v,
                is_sender=True,
            )
            for i, v in enumerate(vendors)
        )
        flis = ITSystem.objects.create(name="FLIS", uuid=uuid.uuid4(), is_recipient=True)
        flis_users = {
            e.pk: SftpUser.objects.create(it_system=flis, endpoint=e, username=f"flis-{e.slug}")
            for e in endpoints
        }
        # Each kommune buys each area from one of the vendors (a vendor serves ~25 kommuner).
        supplier = {(k.pk, a.pk): rng.randrange(len(systems)) for k in kommuner for a in areas}
        pairs = {(k.pk, systems[supplier[(k.pk, a.pk)]].vendor_id) for k in kommuner for a in areas}
        ProcessingAgreement.objects.bulk_create(
            ProcessingAgreement(
                vendor_id=vendor_id, kommune_id=kommune_id, status=AgreementStatus.SIGNED
            )
            for kommune_id, vendor_id in sorted(pairs)
        )
        routes = Route.objects.bulk_create(
            Route(
                endpoint=e,
                data_area=a,
                kommune=k,
                sender_system=systems[supplier[(k.pk, a.pk)]],
                sender_authority=k.cvr,
                recipient_authority=k.cvr,
                status=RouteStatus.ESTABLISHED,
            )
            for k in kommuner
            for a in areas
            for e in endpoints
        )
        Route.recipient_systems.through.objects.bulk_create(
            Route.recipient_systems.through(route_id=r.pk, itsystem_id=flis.pk) for r in routes
        )
    print(f"  {len(vendors)} vendors, {len(routes)} routes", flush=True)

    start = date.today().replace(day=1)
    periods = []
    for back in range(months, 0, -1):
        y, m = divmod(start.year * 12 + start.month - 1 - back, 12)
        periods.append(f"{y:04d}-{m + 1:02d}")

    S = DeliveryStatus
    flis_user_ids = {endpoint_id: u.pk for endpoint_id, u in flis_users.items()}
    contract_ids = {area_id: c.pk for area_id, c in contracts.items()}
    tables = {
        m: RawTable(m, connection) for m in (Delivery, DeliveryEvent, ValidationIssue, Receipt)
    }
    # Tries per route and month so that the total comes out at `deliveries`: every delivered
    # route-month has one accepted delivery and on average `extra` rejected tries before it
    # (0.7 at 100,000 — the shape of earlier builds — and ≈16 at 1,000,000).
    delivered = len(routes) * len(periods) - round(0.1 * len(routes) / 2)
    extra = max(0.0, deliveries_wanted / delivered - 1)
    ids = {"delivery": 0, "event": 0, "issue": 0, "receipt": 0}
    total = 0
    for period in periods:
        y, m = map(int, period.split("-"))
        uploaded = datetime(y, m, 1, tzinfo=UTC) + timedelta(days=32)
        latest = period == periods[-1]
        expected: list[ExpectedDelivery] = []
        rows: dict[type, list[tuple[object, ...]]] = {t: [] for t in tables}
        for route in routes:
            # The period being collected now: one kommune and area in ten has not delivered
            # yet (the dashboard shows it as overdue); every older period was delivered.
            missing = latest and rng.random() < 0.1
            if route.endpoint_id == endpoints[0].pk:  # expected on production only
                due_at, overdue_at = expected_deadlines(route=route, period=period)
                expected.append(
                    ExpectedDelivery(
                        route=route,
                        period=period,
                        due_at=due_at,
                        overdue_at=overdue_at,
                        state=ExpectedState.OVERDUE if missing else ExpectedState.MET,
                        met_at=None if missing else uploaded + timedelta(days=2),
                        created_at=uploaded - timedelta(days=30),
                    )
                )
            if missing:
                continue
            rejected = int(extra) + (rng.random() < extra - int(extra))
            tries = [S.REJECTED] * rejected + [S.FETCHED if not latest else S.DISTRIBUTED]
            # Two days apart as a correction usually is; many tries share the month.
            step = timedelta(days=2) if len(tries) <= 2 else timedelta(days=28) / len(tries)
            for n, status in enumerate(tries):
                at = uploaded + step * n + timedelta(minutes=rng.randrange(600))
                seed_delivery(
                    rows,
                    tables,
                    ids,
                    route,
                    period,
                    status,
                    at,
                    rng,
                    contract_ids.get(route.data_area_id),
                    flis.pk,
                    flis_user_ids,
                )
        with transaction.atomic(), connection.cursor() as cursor:
            for model, table in tables.items():
                cursor.executemany(table.sql, rows[model])
            ExpectedDelivery.objects.bulk_create(expected, batch_size=5000)
        total += len(rows[Delivery])
        del rows  # one month at a time: memory stays flat whatever the total
        if len(periods) > 12 and periods.index(period) % 12 == 11:
            print(f"  … {total:,} deliveries up to {period}", flush=True)
    print(f"  {total} deliveries over {len(periods)} months", flush=True)
    # The raw rows bypass validation, which keeps the failed-rules roll-up in step: fill it
    # from the issues as the migration that made it does, so Udvikling shows the same numbers.
    print(f"  {rebuild_rule_failures():,} failed-rule roll-up rows", flush=True)
    with connection.cursor() as cursor:
        # What `manage.py migrate` leaves a production database with is no statistics; the
        # query planner of SQLite and PostgreSQL both use them, so give it what it would have.
        cursor.execute("ANALYZE")

    admin = User.objects.create_user("bench-admin", is_staff=True, is_superuser=True)
    vendor_user = User.objects.create_user("bench-vendor", vendor=vendors[0])
    sessions = {}
    for name, user in (("admin", admin), ("vendor", vendor_user)):
        client = Client()
        client.force_login(user)
        # As after the login page with an authenticator app: administrators must have passed
        # a second factor (FLISPORTAL_TWO_FACTOR_ROLES), and a listed session writes no row.
        session = client.session
        mark_session_verified(session, SOURCE_TOTP)
        key_hash = digest(session.session_key or "")
        UserSession.objects.create(key_hash=key_hash, user=user, last_seen=timezone.now())
        session[SESSION_TRACK_KEY] = {"hash": key_hash, "at": timezone.now().timestamp()}
        session.save()
        sessions[name] = client.cookies["sessionid"].value
    # 200 deliveries at random by id (ORDER BY RANDOM() would sort a million rows).
    picked = rng.sample(range(1, total + 1), min(200, total))
    sample = list(Delivery.objects.filter(pk__in=picked).values_list("uuid", flat=True))
    return {"sessions": sessions, "deliveries": [str(u) for u in sample], "total": total}


# --- load -------------------------------------------------------------------------------------


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0  # seconds of CPU the gunicorn workers used
    client_cpu: float = 0.0  # seconds of CPU the load-generating threads used

    def cpu_ms_per_request(self) -> float:
        """Server CPU per request: steadier than latency on a shared machine."""
        return self.server_cpu / max(1, len(self.latencies)) * 1000

    def pct(self, p: float) -> float:
        data = sorted(self.latencies)
        if not data:
            return float("nan")
        index = min(len(data) - 1, max(0, round(p / 100 * len(data) + 0.5) - 1))
        return data[index] * 1000


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the given processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()]


def run_load(
    port: int, cookie: str, paths: list[str], users: int, requests: int, server: list[int]
) -> Result:
    """`requests` GETs spread over `users` threads, each with its own keep-alive connection;
    `server` are the processes whose CPU time is counted as the server's."""
    result = Result()
    lock = threading.Lock()
    counter = iter(range(requests))

    def user() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Cookie": f"sessionid={cookie}", "Host": "127.0.0.1"}
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            path = paths[n % len(paths)]
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    result.latencies.append(elapsed)
                else:
                    result.errors += 1
        conn.close()

    threads = [threading.Thread(target=user) for _ in range(users)]
    server_before, client_before = cpu_seconds(server), time.process_time()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - started
    result.server_cpu = cpu_seconds(server) - server_before
    result.client_cpu = time.process_time() - client_before
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start within 60 s")


def page_list(deliveries: list[str]) -> tuple[dict[str, tuple[str, list[str]]], list[str]]:
    """The pages to measure (name → who, paths), and the names of those this build lacks.
    Pages being added in parallel are measured once their URL name reverses, so a run on a
    build without them says which were skipped instead of failing."""
    from django.urls import NoReverseMatch, reverse

    def url(name: str, *args: str, query: str = "") -> str:
        return reverse(name, args=args) + (f"?{query}" if query else "")

    wanted: dict[str, tuple[str, Callable[[], list[str]]]] = {
        "coverage dashboard": ("admin", lambda: [url("front:coverage")]),
        # The overview's filters: each combination is a table of its own in the cache.
        "coverage overview filtered": (
            "admin",
            lambda: [
                url("front:coverage", query="only=huller"),
                url("front:coverage", query="only=forsinkede&region=Region+Midtjylland"),
                url("front:coverage", query="search=s"),
            ],
        ),
        # Four kommuner's pages in turn: the strip reads a year of deliveries, never five.
        "kommune page": (
            "admin",
            lambda: [url("front:kommune", code) for code in ("101", "751", "851", "461")],
        ),
        # Udvikling over 24 months of every route: the expected periods and the failed rules
        # of the rejected first tries, aggregated in the database.
        "trends (admin, 24 months)": ("admin", lambda: [url("front:trends", query="months=24")]),
        "delivery list (admin)": ("admin", lambda: [url("deliveries:list")]),
        "delivery list (vendor)": ("vendor", lambda: [url("deliveries:list")]),
        "start page (admin)": ("admin", lambda: [url("front:start")]),
        "start page (vendor)": ("vendor", lambda: [url("front:start")]),
        "outstanding list (admin)": ("admin", lambda: [url("deliveries:outstanding")]),
        "delivery page": ("admin", lambda: [url("deliveries:detail", u) for u in deliveries]),
        "inbox": ("admin", lambda: [url("deliveries:inbox")]),
    }
    pages, skipped = {}, []
    for name, (who, paths) in wanted.items():
        try:
            pages[name] = (who, paths())
        except NoReverseMatch:
            skipped.append(name)
    # The compact overview is a query parameter of the dashboard: without the kommune page
    # (added with it) the parameters would be ignored and measure the dashboard twice.
    if "kommune page" in skipped:
        pages.pop("coverage overview filtered", None)
        skipped.append("coverage overview filtered")
    return pages, skipped


def measure(args: argparse.Namespace, deliveries: int) -> dict[str, Any]:
    """Seeds `deliveries` into a fresh data folder and measures every page under gunicorn."""
    data_dir = Path(tempfile.mkdtemp(prefix="flis-load-"))
    os.environ.update(environment(data_dir))
    rng = random.Random(1630)  # noqa: S311 – not crypto: the same data set on every run
    print(f"Seeding {deliveries:,} deliveries into {data_dir} …", flush=True)
    t0 = time.perf_counter()
    seeded = seed(args.months, deliveries, rng)
    seconds = time.perf_counter() - t0
    print(f"  seeded in {seconds:.0f} s (load average {os.getloadavg()[0]:.1f})", flush=True)

    from django.urls import reverse

    pages, skipped = page_list(seeded["deliveries"])  # type: ignore[arg-type]
    for name in skipped:
        print(f"  skipped (not in this build): {name}", flush=True)
    reference = REFERENCE
    pages = {name: page for name, page in pages.items() if args.only in name}
    pages[reference] = ("admin", [reverse("admin:deliveries_delivery_changelist")])

    from tests.helpers.redis import start_redis

    redis_port = free_port()
    redis_server = start_redis(redis_port, data_dir)
    cache_url = args.cache_url or f"redis://127.0.0.1:{redis_port}/1"
    port = free_port()
    # The virtualenv's gunicorn: the project's, or the one this Python runs in (a worktree).
    venvs = os.pathsep.join([str(ROOT / ".venv" / "bin"), str(Path(sys.executable).parent)])
    gunicorn = shutil.which("gunicorn", path=venvs) or "gunicorn"
    server = subprocess.Popen(
        [
            gunicorn,
            "flisportal.wsgi",
            *("--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)),
            *("--log-level", "warning"),
        ],
        cwd=ROOT,
        env={
            **environment(data_dir),
            "COVERAGE_CACHE_SECONDS": args.coverage_cache_seconds,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "CACHE_URL": cache_url,
        },
    )
    rows = []
    try:
        wait_for(port, server)
        workers = worker_pids(server.pid)
        sessions = seeded["sessions"]
        for who, paths in pages.values():  # warm-up: one round of each page
            run_load(port, sessions[who], paths, 2, 4, workers)  # type: ignore[index]
        for users in [int(u) for u in args.users.split(",")]:
            for name, (who, paths) in pages.items():
                requests = max(args.requests, users * 4) if users > 1 else args.requests // 4
                r = run_load(port, sessions[who], paths, users, requests, workers)  # type: ignore[index]
                load = os.getloadavg()[0]
                rows.append(
                    {
                        "page": name,
                        "users": users,
                        "p50": r.pct(50),
                        "p95": r.pct(95),
                        "p99": r.pct(99),
                        "rps": len(r.latencies) / r.seconds,
                        "errors": r.errors,
                        "load": load,
                    }
                )
                print(
                    f"  {name:32} {users:3} users  p50 {r.pct(50):7.1f}  p95 {r.pct(95):7.1f}  "
                    f"p99 {r.pct(99):7.1f} ms  {len(r.latencies) / r.seconds:6.1f} req/s  "
                    f"server CPU {r.cpu_ms_per_request():5.1f} ms/req (indicative), "
                    f"load {load:4.1f}" + (f"  {r.errors} errors" if r.errors else ""),
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=30)
        redis_server.terminate()
        redis_server.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "deliveries": seeded["total"],
        "seed_seconds": seconds,
        "rows": rows,
        "skipped": skipped,
    }


REFERENCE = "admin change list (reference)"
TARGET_MS = 150


def verdicts(run: dict[str, Any]) -> dict[str, list[str]]:
    """Per page, the targets it misses in one run (empty: met)."""
    ref = {row["users"]: row["p95"] for row in run["rows"] if row["page"] == REFERENCE}
    misses: dict[str, list[str]] = {}
    for row in run["rows"]:
        if row["page"] == REFERENCE:
            continue
        page_misses = misses.setdefault(row["page"], [])
        if row["errors"] or row["p95"] != row["p95"]:  # NaN: no request answered 200
            page_misses.append(f"{row['errors']} failed requests at {row['users']} users")
        if row["users"] == 10 and row["p95"] >= TARGET_MS:
            page_misses.append(f"p95 {row['p95']:.0f} ms at 10 users")
        if row["p95"] > ref[row["users"]]:
            page_misses.append(f"slower than the admin at {row['users']} users")
    return misses


def print_single(run: dict[str, Any], args: argparse.Namespace) -> None:
    print()
    cache = "one cache per worker" if args.cache_url.startswith("locmem") else "cache in Redis"
    print(
        f"{run['deliveries']} deliveries, gunicorn {args.workers} workers, DEBUG=false, SQLite, "
        + cache
    )
    print()
    print("| page | users | p50 ms | p95 ms | p99 ms | req/s | p95 ÷ admin p95 | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    ref = {row["users"]: row["p95"] for row in run["rows"] if row["page"] == REFERENCE}
    for row in run["rows"]:
        print(
            f"| {row['page']} | {row['users']} | {row['p50']:.0f} | {row['p95']:.0f} | "
            f"{row['p99']:.0f} | {row['rps']:.1f} | {row['p95'] / ref[row['users']]:.2f} | "
            f"{row['load']:.1f} |"
        )
    print_verdicts([run])


def print_verdicts(runs: list[dict[str, Any]]) -> None:
    print()
    if not any(row["users"] == 10 for run in runs for row in run["rows"]):
        print(f"Target p95 < {TARGET_MS} ms at 10 users: not measured (run with 10 users)")
    failed = False
    for run in runs:
        for page, misses in verdicts(run).items():
            failed = failed or bool(misses)
            result = "MISSED: " + "; ".join(misses) if misses else "met"
            print(f"  {run['deliveries']:>9,}  {page:32} {result}")
    print(
        f"Targets (p95 < {TARGET_MS} ms at 10 users, never slower than the admin change list):",
        "MISSED" if failed else "met",
    )
    if skipped := sorted({name for run in runs for name in run["skipped"]}):
        print("Not measured (not in this build):", ", ".join(skipped))
    if errors := sum(row["errors"] for run in runs for row in run["rows"]):
        print(f"{errors} requests failed")


def print_side_by_side(runs: list[dict[str, Any]]) -> None:
    """p95 of each page and level at every size, the growth from the smallest size to the
    largest and each size's ratio to the admin change list of the same size."""
    sizes = [run["deliveries"] for run in runs]
    by = [{(r["page"], r["users"]): r for r in run["rows"]} for run in runs]
    print()
    print(
        ", ".join(
            f"{run['deliveries']:,} deliveries seeded in {run['seed_seconds']:.0f} s"
            for run in runs
        )
    )
    print()
    head = " | ".join(f"p95 ms {n:,}" for n in sizes)
    ratios = " | ".join(f"÷ admin {n:,}" for n in sizes)
    print(f"| page | users | {head} | {sizes[-1]:,} ÷ {sizes[0]:,} | {ratios} | load |")
    print("|---|---:|" + "---:|" * (2 * len(sizes) + 2))
    for key, first in by[0].items():
        found = [b.get(key) for b in by]
        if any(f is None for f in found):
            continue
        refs = [b[(REFERENCE, key[1])]["p95"] for b in by]
        p95s = " | ".join(f"{f['p95']:.0f}" for f in found)  # type: ignore[index]
        vs_admin = " | ".join(f"{f['p95'] / ref:.2f}" for f, ref in zip(found, refs, strict=True))  # type: ignore[index]
        loads = "/".join(f"{f['load']:.1f}" for f in found)  # type: ignore[index]
        growth = found[-1]["p95"] / first["p95"]  # type: ignore[index]
        print(f"| {key[0]} | {key[1]} | {p95s} | {growth:.2f} | {vs_admin} | {loads} |")
    print_verdicts(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument(
        "--deliveries",
        default="100000",
        help="deliveries to seed; several (100000,1000000) are measured one after the other "
        "and printed side by side",
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per page and level")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--users", default="1,10,50")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--only", default="", help="measure only pages whose name contains this")
    parser.add_argument(
        "--coverage-cache-seconds",
        default="60",
        help="COVERAGE_CACHE_SECONDS for the server; 0 measures the dashboard built every time",
    )
    parser.add_argument(
        "--cache-url",
        default="",
        help="CACHE_URL for the server (default: the run's own Redis; locmem:// for one cache "
        "per worker)",
    )
    parser.add_argument("--json", default="", help=argparse.SUPPRESS)  # a size's results
    args = parser.parse_args()
    sizes = [int(n.replace("_", "")) for n in args.deliveries.split(",")]
    if len(sizes) == 1:
        run = measure(args, sizes[0])
        if args.json:
            Path(args.json).write_text(json.dumps(run))
        print_single(run, args)
        return
    # Each size in a process of its own: Django's settings (the database file) are read once
    # per process.
    runs = []
    for size in sizes:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            forwarded = list(sys.argv[1:])
            if "--deliveries" in forwarded:  # the "--deliveries N" spelling
                at = forwarded.index("--deliveries")
                del forwarded[at : at + 2]
            forwarded = [a for a in forwarded if not a.startswith("--deliveries=")]
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    *forwarded,
                    f"--deliveries={size}",
                    f"--json={out.name}",
                ],
                check=True,
            )
            runs.append(json.loads(Path(out.name).read_text()))
    print_side_by_side(runs)


if __name__ == "__main__":
    main()
