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

The inbox (Hent side) is measured when its URL exists (`deliveries:inbox`).

    .venv/bin/python benchmarks/load.py [--months 60] [--requests 200] [--workers 4]

Each user is a thread with its own keep-alive HTTP connection (http.client) and the session
cookie of a user logged in through Django's own login (the session row is written in the
seeded database). No external load tool is needed. Targets (issue 9): p95 under 150 ms at 10
users for every portal page, and no page slower than the admin change list.

Runtime on the 2-core development machine: about 3-5 minutes (seeding ≈1-2 min).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

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
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: no TLS redirect; the benchmark sends the session cookie itself.
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        # The benchmark sends no mail over the network.
        "FLISPORTAL_EMAIL_ALLOW_PLAINTEXT": "true",
    }


# --- seeding ----------------------------------------------------------------------------------


def seed(months: int, rng: random.Random) -> dict[str, object]:
    """Writes the data set with bulk_create; returns what the load phase needs."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client

    from deliveries.lifecycle.states import REACHED_RECIPIENT, DeliveryStatus
    from deliveries.models import (
        DataContract,
        Delivery,
        DeliveryEvent,
        ExpectedDelivery,
        ExpectedState,
        Receipt,
        ReceiptVerdict,
        ValidationIssue,
    )
    from deliveries.services.expected import expected_deadlines
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
    total = 0
    for period in periods:
        y, m = map(int, period.split("-"))
        uploaded = datetime(y, m, 1, tzinfo=UTC) + timedelta(days=32)
        latest = period == periods[-1]
        deliveries: list[Delivery] = []
        expected: list[ExpectedDelivery] = []
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
            tries = [S.REJECTED, S.DISTRIBUTED] if rng.random() < 0.7 else [S.DISTRIBUTED]
            if not latest:  # older periods have long been fetched by FLIS
                tries[-1] = S.FETCHED
            for n, status in enumerate(tries):
                at = uploaded + timedelta(days=2 * n, minutes=rng.randrange(600))
                content_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                d = Delivery(
                    uuid=content_id,
                    route=route,
                    it_system_id=route.sender_system_id,
                    data_area_id=route.data_area_id,
                    kommune_id=route.kommune_id,
                    endpoint_id=route.endpoint_id,
                    period=period,
                    status=status,
                    status_changed_at=at + timedelta(minutes=5),
                    uploaded_at=at,
                    original_filename=f"udtraek_{period}_{route.kommune_id}.csv",
                    file=f"deliveries/x/{period}/{content_id}.csv",
                    size=rng.randrange(10_000, 50_000_000),
                    sha256=hashlib.sha256(content_id.bytes).hexdigest(),
                    contract=contracts.get(route.data_area_id),
                    encoding="utf-8",
                    rows_total=1000,
                    rows_checked=1000,
                    progress_percent=100,
                    error_count=3 if status == S.REJECTED else 0,
                    errors_by_rule={"enum": 2, "required": 1} if status == S.REJECTED else {},
                    errors_by_column={"pladstype": 3} if status == S.REJECTED else {},
                    validated_at=at + timedelta(minutes=1),
                )
                if status in REACHED_RECIPIENT:
                    d.wire_name = f"X_{period}_{content_id.hex[:8]}.csv"
                    d.transaction_id = uuid.uuid4()
                    d.push_attempts = 1
                    d.sent_at = at + timedelta(minutes=2)
                    d.file_transfer_uuid = str(uuid.uuid4())
                    d.receipt_at = at + timedelta(minutes=5)
                deliveries.append(d)
        with transaction.atomic():
            Delivery.objects.bulk_create(deliveries, batch_size=2000)
            events: list[DeliveryEvent] = []
            issues: list[ValidationIssue] = []
            receipts: list[Receipt] = []
            for d in deliveries:
                steps = [("", S.RECEIVED), (S.RECEIVED, S.VALIDATING)]
                if d.status == S.REJECTED:
                    steps.append((S.VALIDATING, S.REJECTED))
                    issues += [
                        ValidationIssue(
                            delivery=d,
                            position=i,
                            row=10 + i,
                            column="pladstype",
                            value="halv",
                            rule="enum",
                            message="«halv» er ikke en tilladt værdi.",
                        )
                        for i in range(3)
                    ]
                else:
                    steps += [
                        (S.VALIDATING, S.VALID),
                        (S.VALID, S.PUSHING),
                        (S.PUSHING, S.SENT),
                        (S.SENT, S.DISTRIBUTED),
                    ]
                    if d.status == S.FETCHED:
                        steps.append((S.DISTRIBUTED, S.FETCHED))
                        receipts.append(
                            Receipt(
                                filetransfer_uuid=d.file_transfer_uuid,
                                recipient_sftp_user=flis_users[d.endpoint_id],
                                recipient_system=flis,
                                file_name=d.wire_name,
                                declared_size=d.size,
                                size=d.size,
                                sha256=d.sha256,
                                sender=f"sender-{d.it_system_id}",
                                senders_file_id=str(d.uuid),
                                sender_system_id=d.it_system_id,
                                data_area_id=d.data_area_id,
                                kommune_id=d.kommune_id,
                                period=d.period,
                                route_id=d.route_id,
                                delivery=d,
                                fetched_at=d.uploaded_at + timedelta(minutes=20),
                                verdict=ReceiptVerdict.OK,
                                file=f"received/flis/{d.period}/{d.wire_name}",
                            )
                        )
                events += [
                    DeliveryEvent(
                        delivery=d,
                        old_status=old,
                        new_status=new,
                        actor_label="baggrundsjob",
                        at=d.uploaded_at + timedelta(seconds=i),
                    )
                    for i, (old, new) in enumerate(steps)
                ]
            DeliveryEvent.objects.bulk_create(events, batch_size=5000)
            ValidationIssue.objects.bulk_create(issues, batch_size=5000)
            Receipt.objects.bulk_create(receipts, batch_size=5000)
            ExpectedDelivery.objects.bulk_create(expected, batch_size=5000)
        total += len(deliveries)
    print(f"  {total} deliveries over {len(periods)} months", flush=True)
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
        sessions[name] = client.cookies["sessionid"].value
    sample = list(Delivery.objects.order_by("?").values_list("uuid", flat=True)[:200])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--months", type=int, default=60)
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
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="flis-load-"))
    os.environ.update(environment(data_dir))
    rng = random.Random(1630)  # noqa: S311 – not crypto: the same data set on every run
    print(f"Seeding {data_dir} …", flush=True)
    t0 = time.perf_counter()
    seeded = seed(args.months, rng)
    print(f"  seeded in {time.perf_counter() - t0:.0f} s", flush=True)

    from django.urls import NoReverseMatch, reverse

    pages: dict[str, tuple[str, list[str]]] = {
        "coverage dashboard": ("admin", [reverse("front:coverage")]),
        # The overview's filters: each combination is a table of its own in the cache.
        "coverage overview filtered": (
            "admin",
            [
                reverse("front:coverage") + "?only=huller",
                reverse("front:coverage") + "?only=forsinkede&region=Region+Midtjylland",
                reverse("front:coverage") + "?search=s",
            ],
        ),
        # Four kommuner's pages in turn: the strip reads a year of deliveries, never five.
        "kommune page": (
            "admin",
            [reverse("front:kommune", args=[code]) for code in ("101", "751", "851", "461")],
        ),
        "delivery list (admin)": ("admin", [reverse("deliveries:list")]),
        "delivery list (vendor)": ("vendor", [reverse("deliveries:list")]),
        "start page (admin)": ("admin", [reverse("front:start")]),
        "start page (vendor)": ("vendor", [reverse("front:start")]),
        "outstanding list (admin)": ("admin", [reverse("deliveries:outstanding")]),
        # Udvikling over 24 months of every route: the expected periods and the failed rules
        # of the rejected first tries, aggregated in the database.
        "trends (admin, 24 months)": ("admin", [reverse("front:trends") + "?months=24"]),
        "delivery page": (
            "admin",
            [reverse("deliveries:detail", args=[u]) for u in seeded["deliveries"]],  # type: ignore[union-attr]
        ),
    }
    try:
        pages["inbox"] = ("admin", [reverse("deliveries:inbox")])
    except NoReverseMatch:  # the Hent side is not in this build
        print("  (no inbox page in this build: not measured)")
    reference = "admin change list (reference)"
    pages = {name: page for name, page in pages.items() if args.only in name}
    pages[reference] = ("admin", [reverse("admin:deliveries_delivery_changelist")])

    port = free_port()
    gunicorn = shutil.which("gunicorn", path=str(ROOT / ".venv" / "bin")) or "gunicorn"
    server = subprocess.Popen(
        [
            gunicorn,
            "flisportal.wsgi",
            *("--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)),
            *("--log-level", "warning"),
        ],
        cwd=ROOT,
        env={**environment(data_dir), "COVERAGE_CACHE_SECONDS": args.coverage_cache_seconds},
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
                rows.append((name, users, r))
                print(
                    f"  {name:32} {users:3} users  p50 {r.pct(50):7.1f}  p95 {r.pct(95):7.1f}  "
                    f"p99 {r.pct(99):7.1f} ms  {len(r.latencies) / r.seconds:6.1f} req/s  "
                    f"server CPU {r.cpu_ms_per_request():5.1f} ms/req (indicative), "
                    f"client {r.client_cpu / max(1, len(r.latencies)) * 1000:5.1f}"
                    + (f"  {r.errors} errors" if r.errors else ""),
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)

    print()
    print(f"{seeded['total']} deliveries, gunicorn {args.workers} workers, DEBUG=false, SQLite")
    print()
    print("| page | users | p50 ms | p95 ms | p99 ms | req/s | p95 ÷ admin p95 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    ref = {users: r for name, users, r in rows if name == reference}
    for name, users, r in rows:
        ratio = r.pct(95) / ref[users].pct(95)
        print(
            f"| {name} | {users} | {r.pct(50):.0f} | {r.pct(95):.0f} | {r.pct(99):.0f} | "
            f"{len(r.latencies) / r.seconds:.1f} | {ratio:.2f} |"
        )
    if 10 not in ref:
        print("\nTarget p95 < 150 ms at 10 users: not measured (run with 10 users)")
    misses = [
        f"{name} at {users} users: p95 {r.pct(95):.0f} ms"
        for name, users, r in rows
        if users == 10 and name != reference and r.pct(95) >= 150
    ]
    slower = [
        f"{name} at {users} users"
        for name, users, r in rows
        if name != reference and r.pct(95) > ref[users].pct(95)
    ]
    errors = sum(r.errors for _, _, r in rows)
    print()
    if 10 in ref:
        print(
            "Target p95 < 150 ms at 10 users:", "MISSED: " + "; ".join(misses) if misses else "met"
        )
    print("No page slower than the admin:", "MISSED: " + "; ".join(slower) if slower else "met")
    if errors:
        print(f"{errors} requests failed")


if __name__ == "__main__":
    main()
