"""End to end: upload → `fetched` through real workers, Redis and the Serviceplatform stand-in.

Issue #18 asks for a median under 10 s from upload to fetched on the local stand-in. This
benchmark starts what a deployment runs (tests/helpers: a private redis-server, one RQ worker
with the scheduler as in the Procfile, the RQ cron process) against a throw-away SQLite
database, with the stand-in in this process, and uploads N Dagtilbud extracts through
`delivery_upload` (the one way a delivery is created). For each it takes the time from the
upload call to the delivery's `fetched` event.

It runs twice in the same run, with the cron intervals at their defaults
(RECEIPT_POLL_SECONDS=60, FETCH_POLL_SECONDS=300):

- adaptive polling on (the receipt and fetch rounds soon after a push and a distribution),
  uploads `--gap` seconds apart;
- adaptive polling off, the old fixed intervals, as the reference: uploads spread over one
  fetch interval so they meet the cron rounds at different moments (about 6 minutes).

After the adaptive uploads are all fetched it watches `--idle` seconds (20) and prints how many
extra rounds ran meanwhile: with nothing expected, none should.

    .venv/bin/python benchmarks/flow.py              # 10 uploads each way (~7 min)
    .venv/bin/python benchmarks/flow.py --quick      # 3 uploads, adaptive only (~1 min); the
                                                     # reference from the interval arithmetic

Prints each upload's time, the median and the worst, the ratio to the 10 s target, and the
reference's. On a shared machine the figures move with the load: read them with the load
average printed beside them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flisportal.settings")

TARGET_SECONDS = 10.0
RECEIPT_POLL_SECONDS = 60  # the defaults of flisportal/settings.py, set explicitly below
FETCH_POLL_SECONDS = 300


def prepare_environment(work: Path, redis_url: str) -> None:
    """Database, storage and Redis of this run, for this process and the ones it starts
    (settings are read from the environment at django.setup())."""
    os.environ.update(
        DATABASE_URL=f"sqlite:///{work / 'flow.sqlite3'}",
        MEDIA_ROOT=str(work / "private"),
        REDIS_URL=redis_url,
        RECEIPT_POLL_SECONDS=str(RECEIPT_POLL_SECONDS),
        FETCH_POLL_SECONDS=str(FETCH_POLL_SECONDS),
        PYTHONUNBUFFERED="1",
    )


def make_registry():
    """The stand-in's world (tests/helpers/standin.py) plus a Dagtilbud route from vendor A to
    FLIS and København's LIS, the portal holding every party's private key, and an uploader."""
    from django.core.management import call_command

    from tests import factories
    from tests.helpers.fetching import hold_private_keys
    from tests.helpers.standin import make_world

    call_command("migrate", verbosity=0)
    world = make_world()
    route = factories.route(
        endpoint=world.endpoint,
        data_area="dagtilbud",
        kommune=world.kommune,
        sender_system=world.sender.system,
        recipients=[world.flis.system, world.lis.system],
    )
    hold_private_keys(world)
    vendor = world.sender.system.vendor
    uploader = factories.vendor_staff(vendor, "benchmark-uploader")
    return route, uploader


def start_processes(logs: Path, *, adaptive: bool) -> list[subprocess.Popen]:
    """One worker for all queues with RQ's scheduler, and the cron process (the Procfile)."""
    from tests.helpers.browser import start_manage
    from tests.helpers.workers import rqworker_args

    env = dict(os.environ, FLISPORTAL_ADAPTIVE_POLL="true" if adaptive else "false")
    label = "adaptive" if adaptive else "fixed"
    return [
        start_manage(
            rqworker_args("default", "validation", "sftp", "--with-scheduler"),
            env,
            logs / f"worker-{label}.log",
        ),
        start_manage(["rqcron", "flisportal.cron"], env, logs / f"cron-{label}.log"),
    ]


def upload(route, uploader, work: Path, n: int) -> tuple[int, datetime]:
    """One extract (different bytes each time) through `delivery_upload`; its id and when the
    upload began."""
    from django.utils import timezone

    from deliveries.services.intake import IncomingFile, delivery_upload
    from flisportal.lib.periods import period_compact
    from tests.factories import DAGTILBUD_HEADER, dagtilbud_row

    period = route.deliverable_periods(now=timezone.now())[1]
    rows = [dagtilbud_row(n * 10 + i, periode=period_compact(period)) for i in range(10)]
    path = work / f"upload-{n}.csv"
    path.write_text(DAGTILBUD_HEADER + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    data = path.read_bytes()
    began = datetime.now(UTC)
    delivery = delivery_upload(
        file=IncomingFile(
            path=path,
            original_name=path.name,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        ),
        route=route,
        period=period,
        user=uploader,
        redelivery_confirmed=True,
    )
    return delivery.pk, began


def fetched_at(delivery_ids: list[int]) -> dict[int, datetime]:
    from deliveries.lifecycle.states import DeliveryStatus
    from deliveries.models import DeliveryEvent

    return dict(
        DeliveryEvent.objects.filter(
            delivery_id__in=delivery_ids, new_status=DeliveryStatus.FETCHED
        ).values_list("delivery_id", "at")
    )


def run_mode(
    route, uploader, work: Path, *, adaptive: bool, count: int, gap: float, idle: float = 0
) -> list:
    """Uploads `count` extracts `gap` seconds apart with the processes of one mode running, and
    waits until all are fetched. Returns the seconds from upload to fetched of each."""
    import redis

    from tests.helpers.processes import stop

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    processes = start_processes(work / "logs", adaptive=adaptive)
    # Give the worker and cron a moment to start, so the first upload does not pay for that.
    time.sleep(3)
    started: dict[int, datetime] = {}
    deadline = time.monotonic() + count * gap + RECEIPT_POLL_SECONDS + FETCH_POLL_SECONDS + 120
    try:
        next_upload = time.monotonic()
        done: dict[int, datetime] = {}
        while len(done) < count and time.monotonic() < deadline:
            if len(started) < count and time.monotonic() >= next_upload:
                # Row numbers of their own per mode: every upload's bytes differ.
                number = len(started) + (0 if adaptive else 100)
                delivery_id, began = upload(route, uploader, work, number)
                started[delivery_id] = began
                next_upload += gap
            done = fetched_at(list(started))
            time.sleep(0.1)
        idle_ran = idle_rounds(idle) if adaptive and idle else None
    finally:
        for process in processes:
            stop(process)
    seconds = []
    for delivery_id, began in started.items():
        end = done.get(delivery_id)
        seconds.append((end - began).total_seconds() if end else float("inf"))
        shown = f"{seconds[-1]:6.1f} s" if end else "not fetched before the deadline"
        print(f"  upload {len(seconds):2}: {shown}", flush=True)
    if idle_ran is not None:
        print(f"  idle {idle:g} s after the last fetch: {idle_ran} extra rounds", flush=True)
    return seconds


def extra_round_counts() -> tuple[int, int]:
    """How many extra receipt and fetch rounds the workers ran (RQ's finished registry)."""
    import django_rq

    from deliveries.services import FETCH_ROUND_JOB, RECEIPT_ROUND_JOB

    queue = django_rq.get_queue("sftp")
    jobs = queue.finished_job_registry.get_job_ids()
    names = [job.func_name for job in queue.job_class.fetch_many(jobs, queue.connection) if job]
    return names.count(RECEIPT_ROUND_JOB), names.count(FETCH_ROUND_JOB)


def extra_rounds() -> str:
    receipts, fetches = extra_round_counts()
    return f"{receipts} receipt rounds, {fetches} fetch rounds"


def idle_rounds(seconds: float) -> int:
    """Once everything is fetched nothing is expected: no extra round should run. Rounds due
    in the next seconds (a recipient's round already asked for) get 3 s to finish first."""
    time.sleep(3)
    before = sum(extra_round_counts())
    time.sleep(seconds)
    return sum(extra_round_counts()) - before


def summary(name: str, seconds: list[float]) -> float:
    median = statistics.median(seconds)
    print(
        f"{name}: median {median:.1f} s, worst {max(seconds):.1f} s "
        f"({median / TARGET_SECONDS:.2f}x the {TARGET_SECONDS:.0f} s target)",
        flush=True,
    )
    return median


def arithmetic_reference() -> None:
    """The old fixed intervals, on paper: the receipt is seen at the next receipt round (0 to
    60 s, 30 s on average) and the file at the next fetch round after that (0 to 300 s, 150 s
    on average), plus the seconds of actual work."""
    average = RECEIPT_POLL_SECONDS / 2 + FETCH_POLL_SECONDS / 2
    worst = RECEIPT_POLL_SECONDS + FETCH_POLL_SECONDS
    print(
        f"fixed intervals (arithmetic): about {average:.0f} s on average, up to {worst} s, "
        "plus the work"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--gap", type=float, default=3.0, help="seconds between uploads")
    parser.add_argument("--quick", action="store_true", help="3 uploads, no measured reference")
    parser.add_argument(
        "--idle",
        type=float,
        default=20,
        help="seconds to watch for extra rounds once all are fetched",
    )
    args = parser.parse_args()
    count = 3 if args.quick else args.uploads

    from tests.helpers.net import free_port
    from tests.helpers.redis import start_redis

    work = Path(tempfile.mkdtemp(prefix="flis-flow-bench-"))
    (work / "logs").mkdir()
    port = free_port()
    redis_process = start_redis(port, work)
    try:
        prepare_environment(work, f"redis://127.0.0.1:{port}/0")
        import django

        django.setup()
        from deliveries.serviceplatform.server import standin_running

        route, uploader = make_registry()
        print(
            f"{count} uploads, {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.1f} at the start",
            flush=True,
        )
        with standin_running(root=work / "serviceplatform"):
            print(f"adaptive polling, uploads {args.gap:g} s apart:", flush=True)
            adaptive = run_mode(
                route, uploader, work, adaptive=True, count=count, gap=args.gap, idle=args.idle
            )
            print(f"  ({extra_rounds()})")
            ours = summary("adaptive", adaptive)
            if args.quick:
                arithmetic_reference()
            else:
                spread = FETCH_POLL_SECONDS / count
                print(f"fixed intervals (reference), uploads {spread:g} s apart:", flush=True)
                fixed = run_mode(route, uploader, work, adaptive=False, count=count, gap=spread)
                reference = summary("fixed intervals", fixed)
                print(f"adaptive / fixed (median): {ours / reference:.3f}x")
                arithmetic_reference()
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
    finally:
        redis_process.terminate()
        redis_process.wait(timeout=10)
        if not os.environ.get("FLOW_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
