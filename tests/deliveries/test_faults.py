"""Faults that the push, receipt and reconciler tests do not already cover (those have: the
stand-in stopped during a push and started again, a connection cut mid-upload, a worker killed
during a push, Redis flushed, a wrong host key). Each ends with the delivery in the right state,
nothing lost and nothing done twice:

- a server that accepts TCP and never answers, during a push in a real worker;
- Redis down while a vendor uploads, and started again;
- SQLite busy (another writer holds the lock) while a worker changes a delivery's status;
- 20 uploads at once, worked by 4 worker processes at the same time;
- PostgreSQL stopped while a worker validates, and started again (in the PostgreSQL run only);
- a worker killed (SIGKILL) during validation;
- a worker killed (SIGKILL) during the Hent-side fetch, after storing the file and before
  recording it;
- a worker killed (SIGKILL) during the Hent-side fetch while a large data file is still being
  downloaded into its temporary spool file;
- Redis killed (SIGKILL) and started again (empty) while deliveries are under way.

Events are read in the order they were written (`order_by("pk")`), not by their time: they come
from several processes, and under `make test-dates` each process's moved clock may differ from
the others' by a second or so, which reorders events written a moment apart.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import django_rq
import pytest
import redis
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import InterfaceError, OperationalError, connection, connections, transaction
from django.urls import reverse
from django.utils import timezone
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from deliveries import jobs
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.models import (
    Delivery,
    DeliveryEvent,
    FileCheck,
    FileCheckStatus,
    Receipt,
    ReceiptVerdict,
)
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from deliveries.services.check import delivery_check
from deliveries.services.push import delivery_push
from deliveries.services.reconcile import ReconcileRound, deliveries_reconcile
from deliveries.services.technical_receipts import receipts_collect
from flisportal.audit.models import AuditEntry
from flisportal.audit.services import audit_verify
from flisportal.lib.env import redis_url_with_timeouts
from routes.models import Endpoint
from tests.factories import dagtilbud_csv, dagtilbud_row
from tests.helpers.fetching import hold_private_keys
from tests.helpers.net import free_port
from tests.helpers.processes import ROOT, children_of
from tests.helpers.redis import start_redis
from tests.helpers.standin import home
from tests.helpers.workers import queues_at, rqworker_command, run_burst_worker, worker_env

pytestmark = pytest.mark.redis

S = DeliveryStatus

# A delivery's events from upload to fetched, each step once.
EVERY_STEP_ONCE = [
    ("", "received"),
    ("received", "validating"),
    ("validating", "valid"),
    ("valid", "pushing"),
    ("pushing", "sent"),
    ("sent", "distributed"),
    ("distributed", "fetched"),
]


def test_push_to_a_server_that_never_answers_times_out_and_is_retried_later(
    world, pushable, silent_server, run_worker, monkeypatch
):
    delivery = pushable(b"kommunekode;periode\n101;202610\n")
    Endpoint.objects.filter(pk=world.endpoint.pk).update(port=silent_server)
    # Short timeouts for the worker process, so the test is quick; the defaults are 10-60 s.
    for name in ("SFTP_CONNECT_TIMEOUT", "SFTP_BANNER_TIMEOUT", "SFTP_AUTH_TIMEOUT"):
        monkeypatch.setenv(name, "2")
    django_rq.get_queue("sftp").enqueue(jobs.push_delivery, delivery.pk)

    started = time.monotonic()
    result = run_worker("sftp", timeout=60)  # a hanging worker would fail the test here
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 45

    delivery.refresh_from_db()
    assert delivery.status == S.VALID  # waiting for its retry, not stuck in `pushing`
    assert delivery.push_attempts == 1
    assert "svarede ikke" in delivery.last_error
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at > timezone.now()
    queue = django_rq.get_queue("sftp")
    assert len(ScheduledJobRegistry(queue=queue).get_job_ids()) == 1
    assert [(e.old_status, e.new_status) for e in delivery.events.order_by("pk")] == [
        ("valid", "pushing"),
        ("pushing", "valid"),
    ]


@pytest.fixture
def own_redis(tmp_path, settings) -> Iterator[dict]:
    """A Redis of this test only (so stopping it does not disturb the session's), on a fixed
    port so that it can be started again at the same address."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    state: dict = {"process": None, "url": url}

    def start(*, append_only: bool = False) -> None:
        state["process"] = start_redis(port, tmp_path, append_only=append_only)

    def stop() -> None:
        state["process"].kill()
        state["process"].wait(timeout=10)

    state["start"], state["stop"] = start, stop
    with queues_at(url):
        start()
        yield state
        if state["process"].poll() is None:
            stop()


def test_redis_down_during_upload_then_back_loses_nothing(
    world, push_route, sender_key, uploader, private_media, standin, own_redis, client, settings
):
    own_redis["stop"]()
    client.force_login(uploader)
    content = dagtilbud_csv(rows_ok=5).encode()
    response = client.post(
        reverse("deliveries:upload"),
        {
            "route": push_route.pk,
            "period": "2026-10",
            "file": SimpleUploadedFile("udtraek.csv", content, content_type="text/csv"),
        },
    )
    # The upload is kept and the vendor sees it: a queue that is down is the portal's problem
    # to catch up on, not a reason to make the vendor upload again (and deliver twice).
    delivery = Delivery.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("deliveries:detail", args=[delivery.uuid])
    assert delivery.status == S.RECEIVED

    own_redis["start"]()  # an empty Redis: the job was never written
    stuck = settings.RECONCILE_STUCK_MINUTES + 1
    later = timezone.now() + timezone.timedelta(minutes=stuck)
    assert deliveries_reconcile(now=later).requeued == [delivery.pk]
    env = worker_env(own_redis["url"])
    for queues in (("validation", "sftp"),):
        done = run_burst_worker(env, *queues)
        assert done.returncode == 0, done.stderr
    standin.wait_idle()
    receipts_collect()
    delivery.refresh_from_db()
    assert delivery.status == S.DISTRIBUTED, delivery.events.order_by("pk").last().message
    assert PlatformDecision.objects.get().outcome == PlatformOutcome.DISTRIBUTED


@pytest.mark.skipif(
    django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="SQLite's single-writer lock; PostgreSQL locks rows, not the database",
)
def test_sqlite_busy_during_a_status_change_waits_and_then_succeeds(world, pushable, run_worker):
    delivery = pushable(dagtilbud_csv(rows_ok=3).encode(), status=S.RECEIVED)
    django_rq.get_queue("validation").enqueue(jobs.validate_delivery, delivery.pk)
    # Another writer (a migration, a long admin action) holds the write lock for 3 s.
    path = connection.settings_dict["NAME"]
    holder = sqlite3.connect(path, timeout=1, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release_later() -> None:
        time.sleep(3)
        holder.execute("COMMIT")
        released.set()

    thread = threading.Thread(target=release_later)
    thread.start()
    started = time.monotonic()
    try:
        result = run_worker("validation", timeout=60)
    finally:
        thread.join()
        holder.close()
    assert released.is_set()
    assert result.returncode == 0, result.stderr
    # The worker really met the lock (it could not have finished before it was released).
    assert time.monotonic() - started >= 3
    delivery.refresh_from_db()
    assert delivery.status == S.VALID, result.stderr[-2000:]
    # Each step once: the wait was inside SQLite's busy timeout, not a retry that did it twice.
    assert [(e.old_status, e.new_status) for e in delivery.events.order_by("pk")] == [
        ("received", "validating"),
        ("validating", "valid"),
    ]


def test_twenty_uploads_at_once_with_four_workers_are_fetched_exactly_once(
    world, push_route, sender_key, uploader, private_media, standin, clean_redis, redis_url,
    make_delivery,
):  # fmt: skip
    errors: list[BaseException] = []

    def upload(n: int) -> None:
        try:
            make_delivery(push_route, uploader, dagtilbud_csv(rows_ok=20 + n))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert Delivery.objects.count() == 20

    env = worker_env(redis_url)

    def four_workers(*queues: str) -> None:
        command = rqworker_command("--burst", *queues)
        workers = [
            subprocess.Popen(
                command,
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        try:
            for worker in workers:
                _, stderr = worker.communicate(timeout=180)
                assert worker.returncode == 0, stderr[-2000:]
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()

    four_workers("validation", "sftp")
    # Burst workers stop when the queues look empty; a push enqueued by another worker's last
    # validation may still be waiting. One more worker drains what is left.
    drained = run_burst_worker(env, "validation", "sftp", timeout=180)
    assert drained.returncode == 0, drained.stderr[-2000:]
    standin.wait_idle()
    receipts_collect()

    deliveries = list(Delivery.objects.all())
    assert {d.status for d in deliveries} == {S.DISTRIBUTED}, [
        (d.status, d.last_error) for d in deliveries
    ]
    # Exactly one transfer per delivery at the platform, and one file each in FLIS's IN/.
    decisions = PlatformDecision.objects.all()
    assert sorted(x.senders_file_id for x in decisions) == sorted(str(d.uuid) for d in deliveries)
    inbox = home(standin, world.flis) / "IN"
    assert len([p for p in inbox.iterdir() if p.suffix == ".csv"]) == 20

    # The Hent side, on four workers at once: the cron's round (one job per recipient) and a
    # second round per recipient beside it (the one-round-at-a-time guard is in
    # `fetch_all_recipients`, not in the fetcher), so two rounds work through each IN/ folder
    # at the same time, and both recipients' fetches race to mark the same delivery fetched.
    hold_private_keys(world)
    queue = django_rq.get_queue("sftp")
    rounds = [
        Job.fetch(f"fetch-receipts-{pk}", connection=queue.connection)
        for pk in jobs.fetch_all_recipients()
    ]
    rounds += [queue.enqueue(jobs.fetch_receipts, p.sftp_user.pk) for p in (world.flis, world.lis)]
    assert len(rounds) == 4
    four_workers("sftp")
    for job in rounds:
        job.refresh()
        if job.get_status() != JobStatus.FINISHED:
            pytest.fail(f"{job.id} {job.get_status()}:\n{job.exc_info}")
    summaries = [job.return_value() for job in rounds]
    assert all(summary["error"] == "" for summary in summaries), summaries
    assert sum(len(summary["recorded"]) for summary in summaries) == 40

    for d in Delivery.objects.all():
        steps = [(e.old_status, e.new_status) for e in d.events.order_by("pk")]
        assert steps == EVERY_STEP_ONCE, (d.pk, steps)
        assert d.push_attempts == 1
    # One receipt per delivery and recipient, one stored file each, nothing left in IN/.
    receipts = list(Receipt.objects.all())
    assert sorted((r.delivery_id, r.recipient_system_id) for r in receipts) == sorted(
        (d.pk, party.system.pk) for d in deliveries for party in (world.flis, world.lis)
    )
    assert {r.verdict for r in receipts} == {ReceiptVerdict.OK}
    assert stored_receipt_files(private_media) == sorted(r.file.name for r in receipts)
    for party in (world.flis, world.lis):
        assert list((home(standin, party) / "IN").iterdir()) == []


def test_redis_that_never_answers_during_upload_costs_seconds_and_loses_nothing(
    world, push_route, uploader, private_media, client, silent_server, caplog
):
    # Redis accepts the connection and never replies (hung, or black-holed by a firewall): the
    # enqueue after the commit gives up after the socket timeout instead of hanging the request.
    client.force_login(uploader)
    hung = redis_url_with_timeouts(f"redis://127.0.0.1:{silent_server}/0", 1)
    started = time.monotonic()
    # (This test's database commits as it goes, so the enqueue runs inside the request.)
    with queues_at(hung):
        response = client.post(
            reverse("deliveries:upload"),
            {
                "route": push_route.pk,
                "period": "2026-10",
                "file": SimpleUploadedFile(
                    "udtraek.csv", dagtilbud_csv(rows_ok=5).encode(), content_type="text/csv"
                ),
            },
        )
    waited = time.monotonic() - started
    delivery = Delivery.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("deliveries:detail", args=[delivery.uuid])
    assert delivery.status == S.RECEIVED  # kept; the reconciler enqueues it again
    assert "could not be put on queue validation" in caplog.text
    assert waited < 10, waited


@pytest.mark.skipif(
    not os.environ.get("FLISPORTAL_TEST_PG_STOP"),
    reason="stops and starts the suite's own PostgreSQL: runs under tests/run_on_postgres.py",
)
def test_postgresql_down_while_a_worker_validates_then_back_loses_nothing(
    world, pushable, clean_redis, run_worker, settings
):
    delivery = pushable(dagtilbud_csv(rows_ok=3).encode(), status=S.RECEIVED)
    django_rq.get_queue("validation").enqueue(jobs.validate_delivery, delivery.pk)
    connections.close_all()
    subprocess.run(
        json.loads(os.environ["FLISPORTAL_TEST_PG_STOP"]),
        check=True, timeout=60, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        down = run_worker("validation", timeout=120)  # must come back, not hang
    finally:
        subprocess.run(
            json.loads(os.environ["FLISPORTAL_TEST_PG_START"]),
            check=True, timeout=60, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    connections.close_all()  # this process reconnects to the restarted server
    # The worker met the missing database (and came back instead of hanging).
    assert "OperationalError" in down.stdout + down.stderr
    delivery.refresh_from_db()
    # Nothing was claimed while the database was away: the row is as it was.
    assert delivery.status == S.RECEIVED, down.stderr[-2000:]

    # The job failed (or was never taken); the reconciler puts the work back, once.
    stuck = settings.RECONCILE_STUCK_MINUTES + 1
    deliveries_reconcile(now=timezone.now() + timezone.timedelta(minutes=stuck))
    result = run_worker("validation", timeout=120)
    assert result.returncode == 0, result.stderr
    delivery.refresh_from_db()
    assert delivery.status == S.VALID
    assert [(e.old_status, e.new_status) for e in delivery.events.order_by("pk")] == [
        ("received", "validating"),
        ("validating", "valid"),
    ]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="ends its own PostgreSQL session from the server"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_database_session_lost_in_the_middle_of_a_transition_leaves_nothing_half_done(
    upload_route, vendor_a_user, make_delivery, monkeypatch
):
    # The server ends this process's session after the status UPDATE and before the event and
    # the audit row are written (a failover, an administrator's pg_terminate_backend, a network
    # cut): the database rolls the open transaction back, so neither half is there.
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1))
    assert delivery.status == S.RECEIVED
    audit_rows = AuditEntry.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [backend] = cursor.fetchone()
    write_event = DeliveryEvent.objects.create

    def session_ended_first(**fields):
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
        finally:
            other.close()
        return write_event(**fields)

    monkeypatch.setattr(DeliveryEvent.objects, "create", session_ended_first)
    with pytest.raises((OperationalError, InterfaceError)):
        delivery_transition(delivery_id=delivery.pk, old=S.RECEIVED, new=S.VALIDATING)
    monkeypatch.undo()
    connections.close_all()  # the next query opens a new session

    delivery.refresh_from_db()
    assert delivery.status == S.RECEIVED
    assert [e.new_status for e in delivery.events.order_by("pk")] == ["received"]
    assert AuditEntry.objects.count() == audit_rows
    # The step is simply taken again, once, and the audit chain still holds.
    assert delivery_transition(delivery_id=delivery.pk, old=S.RECEIVED, new=S.VALIDATING)
    assert [e.new_status for e in delivery.events.order_by("pk")] == ["received", "validating"]
    assert audit_verify().ok


def sigkill_worker_when(
    ready: Callable[[subprocess.Popen[bytes]], bool],
    *args: str,
    env: dict[str, str],
    what: str,
    within: float = 60,
    poll: float = 0.02,
) -> None:
    """Starts a real `manage.py rqworker *args` and, as soon as `ready(worker)` says so,
    SIGKILLs the work horse (RQ forks one per job, in its own session) and the worker, as the
    OOM killer or a crash would. Fails the test if `what` is never seen within `within` s."""
    worker = subprocess.Popen(
        rqworker_command(*args),
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and worker.poll() is None:
            if ready(worker):
                break
            time.sleep(poll)
        else:
            pytest.fail(f"{what} was never seen")
        for pid in [*children_of(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
    finally:
        if worker.poll() is None:
            worker.kill()  # only reached when the test failed above
        worker.wait(30)


def test_worker_killed_during_validation_is_validated_again_once(
    world, pushable, clean_redis, redis_url, run_worker, settings, tmp_path
):
    # Large enough that the check is still running when the worker is killed.
    rows = "".join(
        dagtilbud_row(n % 5000, anvisningsenhedsnummer=f"E{10000 + n // 5000}") + "\n"
        for n in range(400_000)
    )
    content = dagtilbud_csv().encode() + rows.encode()
    delivery = pushable(content, status=S.RECEIVED)
    django_rq.get_queue("validation").enqueue(jobs.validate_delivery, delivery.pk)
    sigkill_worker_when(
        lambda worker: Delivery.objects.filter(pk=delivery.pk, status=S.VALIDATING).exists(),
        "validation",
        env=worker_env(redis_url),
        what="the validation under way",
    )
    delivery.refresh_from_db()
    assert delivery.status == S.VALIDATING, "validation finished before the kill: enlarge"
    clean_redis.flushdb()

    stuck = settings.RECONCILE_STUCK_MINUTES + 1
    later = timezone.now() + timezone.timedelta(minutes=stuck)
    assert deliveries_reconcile(now=later).revalidated == [delivery.pk]
    result = run_worker("validation", timeout=300)
    assert result.returncode == 0, result.stderr
    delivery.refresh_from_db()
    assert delivery.status == S.VALID, delivery.events.order_by("pk").last().message
    assert delivery.rows_checked == 400_000
    assert [(e.old_status, e.new_status) for e in delivery.events.order_by("pk")] == [
        ("received", "validating"),
        ("validating", "received"),
        ("received", "validating"),
        ("validating", "valid"),
    ]


def test_worker_killed_during_a_check_without_sending_is_checked_again_once(
    world,
    push_route,
    uploader,
    incoming,
    private_media,
    clean_redis,
    redis_url,
    run_worker,
    settings,
):
    """A check (FileCheck) whose worker is SIGKILLed after its claim: the file is still
    stored, the reconciler unclaims it and enqueues it once, and the next worker checks it
    whole (deliveries.services.reconcile._resume_stuck_checks)."""
    rows = "".join(
        dagtilbud_row(n % 5000, anvisningsenhedsnummer=f"E{10000 + n // 5000}") + "\n"
        for n in range(400_000)
    )
    check = delivery_check(
        user=uploader,
        incoming=incoming(dagtilbud_csv().encode() + rows.encode()),
        route=push_route,
        period="2026-10",
    )
    sigkill_worker_when(
        lambda worker: FileCheck.objects.filter(pk=check.pk, started_at__isnull=False).exists(),
        "validation",
        env=worker_env(redis_url),
        what="the check under way",
    )
    check.refresh_from_db()
    assert check.status == FileCheckStatus.CHECKING, "check finished before the kill: enlarge"
    assert check.file.name and (private_media / check.file.name).exists()
    clean_redis.flushdb()

    stuck = settings.RECONCILE_STUCK_MINUTES + 1
    later = timezone.now() + timezone.timedelta(minutes=stuck)
    assert deliveries_reconcile(now=later).checks_rerun == [check.pk]
    assert deliveries_reconcile(now=later) == ReconcileRound()
    result = run_worker("validation", timeout=300)
    assert result.returncode == 0, result.stderr
    check.refresh_from_db()
    assert (check.status, check.rows_checked) == (FileCheckStatus.VALID, 400_000)
    assert check.file.name == ""
    assert not any(p.is_file() for p in private_media.rglob("*"))


@contextmanager
def receipt_writes_blocked() -> Iterator[None]:
    """Makes every writer of a Receipt wait while reads go on, as a long transaction elsewhere
    would: SQLite's write lock (`BEGIN IMMEDIATE`), or on PostgreSQL a SHARE lock on the table."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {Receipt._meta.db_table} IN SHARE MODE")
        else:
            assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        yield


def stored_receipt_files(media) -> list[str]:
    folder = media / "receipts"
    return sorted(p.relative_to(media).as_posix() for p in folder.rglob("*") if p.is_file())


def test_worker_killed_during_fetch_is_fetched_once_by_the_next_round(
    world, pushable, standin, private_media, redis_url, run_worker
):
    content = b"kommunekode;periode\n" + b"101;202610\n" * 100_000
    delivery = pushable(content)
    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    standin.wait_idle()
    assert receipts_collect().distributed == 1
    delivery.refresh_from_db()
    hold_private_keys(world)
    inboxes = [home(standin, party) / "IN" for party in (world.flis, world.lis)]
    queue = django_rq.get_queue("sftp")

    first, second = jobs.fetch_all_recipients()
    assert sorted([first, second]) == sorted([world.flis.sftp_user.pk, world.lis.sftp_user.pk])
    # The worker stores the fetched file and then waits for the lock to record it: killed
    # there, it leaves a stored copy that no Receipt names, and the pair still in IN/.
    stored: list[str] = []

    def copy_stored(worker: subprocess.Popen[bytes]) -> bool:
        stored[:] = stored_receipt_files(private_media) if private_media.exists() else []
        return bool(stored) and (private_media / stored[0]).stat().st_size == len(content)

    with receipt_writes_blocked():
        sigkill_worker_when(
            copy_stored, "sftp", env=worker_env(redis_url), what="the fetch's stored file"
        )
    assert Receipt.objects.count() == 0
    assert len(stored) == 1  # the first recipient's copy; the second's job was still queued
    assert_both_pairs_waiting(delivery, inboxes)

    fetch_again_after_the_kill(queue, first, run_worker, timeout=120)

    delivery.refresh_from_db()
    assert [(e.old_status, e.new_status) for e in delivery.events.filter(new_status=S.FETCHED)] == [
        ("distributed", "fetched")
    ]
    # One stored copy per recipient, whole; the killed round's copy is gone.
    assert_fetched_whole_by_both(world, delivery, inboxes, private_media, content)


def assert_both_pairs_waiting(delivery: Delivery, inboxes: list[Path]) -> None:
    """After a killed fetch: nothing moved on, both recipients' file pairs still in IN/."""
    for inbox in inboxes:
        assert sorted(p.name for p in inbox.iterdir()) == [
            delivery.wire_name,
            f"{delivery.wire_name}.metadata",
        ]
    assert Delivery.objects.get(pk=delivery.pk).status == S.DISTRIBUTED


def fetch_again_after_the_kill(queue, first: int, run_worker, *, timeout: int) -> None:
    """The killed worker's job still looks started (and the other recipient's is queued), so the
    next tick adds nothing: a round never runs twice at once for one recipient. Once RQ's
    maintenance marks the job abandoned (here: told it is a day later), the tick enqueues that
    recipient's round again, and a worker runs both."""
    assert jobs.fetch_all_recipients() == []
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time() + 24 * 3600)
    assert jobs.fetch_all_recipients() == [first]
    result = run_worker("sftp", timeout=timeout)
    assert result.returncode == 0, result.stderr


def assert_fetched_whole_by_both(
    world, delivery: Delivery, inboxes: list[Path], private_media: Path, content: bytes
) -> None:
    """The delivery is fetched, each recipient has one receipt and one whole stored copy with
    nothing partial beside it, and both IN/ folders are empty."""
    delivery.refresh_from_db()
    assert delivery.status == S.FETCHED
    receipts = list(Receipt.objects.order_by("recipient_system_id"))
    assert [(r.recipient_system_id, r.verdict) for r in receipts] == [
        (world.flis.system.pk, ReceiptVerdict.OK),
        (world.lis.system.pk, ReceiptVerdict.OK),
    ]
    assert stored_receipt_files(private_media) == sorted(r.file.name for r in receipts)
    for receipt in receipts:
        stored = (private_media / receipt.file.name).read_bytes()
        assert hashlib.sha256(stored).digest() == hashlib.sha256(content).digest()
    for inbox in inboxes:
        assert list(inbox.iterdir()) == []


def spool_size(pids: list[int], folder: Path) -> int | None:
    """Size of a temporary file in `folder` that one of `pids` has open, or None. The fetcher's
    spool (`tempfile.TemporaryFile`) has no name on Linux (O_TMPFILE, or unlinked at once), so it
    is found through the processes' open files: `/proc/<pid>/fd/<n>` → '<folder>/#123 (deleted)'."""
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(f"{folder}/"):
                    return os.stat(f"/proc/{pid}/fd/{fd}").st_size
            except OSError:
                continue
    return None


def test_worker_killed_while_a_fetch_is_downloading_is_fetched_once_by_the_next_round(
    world, pushable, standin, private_media, redis_url, run_worker, tmp_path
):
    # 48 MB, generated: the download takes long enough to be caught half-way.
    content = b"kommunekode;periode;tekst\n" + b"".join(
        b"101;202610;%036d\n" % n for n in range(1_000_000)
    )
    delivery = pushable(content)
    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    standin.wait_idle()
    assert receipts_collect().distributed == 1
    delivery.refresh_from_db()
    hold_private_keys(world)
    inboxes = [home(standin, party) / "IN" for party in (world.flis, world.lis)]
    queue = django_rq.get_queue("sftp")
    first, second = jobs.fetch_all_recipients()
    assert sorted([first, second]) == sorted([world.flis.sftp_user.pk, world.lis.sftp_user.pk])

    spool_folder = tmp_path / "worker-tmp"
    spool_folder.mkdir()

    def under_way(worker: subprocess.Popen[bytes]) -> bool:
        size = spool_size([worker.pid, *children_of(worker.pid)], spool_folder)
        return size is not None and 0 < size < len(content)  # part of the file is in the spool

    sigkill_worker_when(
        under_way,
        "--burst",
        "sftp",
        env={**worker_env(redis_url), "TMPDIR": str(spool_folder)},
        what="the download under way",
        within=120,
        poll=0.002,
    )
    # Killed mid-download: nothing recorded, nothing stored, both pairs still waiting.
    assert Receipt.objects.count() == 0
    assert (not (private_media / "receipts").exists()) or stored_receipt_files(private_media) == []
    assert_both_pairs_waiting(delivery, inboxes)
    # Not asserted: what the killed work horse left in TMPDIR (cleaning tmp is the OS's job).
    # Observed: nothing — the spool has no name (O_TMPFILE; without it, tempfile unlinks the
    # file as it creates it), so the kernel freed it with the process.

    fetch_again_after_the_kill(queue, first, run_worker, timeout=300)

    delivery.refresh_from_db()
    steps = [(e.old_status, e.new_status) for e in delivery.events.order_by("pk")]
    assert steps == EVERY_STEP_ONCE[3:]
    assert_fetched_whole_by_both(world, delivery, inboxes, private_media, content)


def burst(env: dict[str, str], *queues: str) -> None:
    """A real worker process that works the queues until they are empty."""
    done = run_burst_worker(env, *queues)
    assert done.returncode == 0, done.stderr[-2000:]


def test_redis_killed_and_started_again_empty_mid_flow_every_delivery_is_fetched_once(
    world, push_route, sender_key, uploader, private_media, standin, own_redis, make_delivery,
    settings,
):  # fmt: skip
    hold_private_keys(world)
    env = worker_env(own_redis["url"])

    def work(*queues: str) -> None:
        burst(env, *queues)

    # Three deliveries at three points of the flow when Redis dies: `sent` (waiting for the
    # platform's receipt), `valid` with its push job queued, `received` with its validation
    # job queued.
    sent = make_delivery(push_route, uploader, dagtilbud_csv(rows_ok=10))
    work("validation", "sftp")
    valid = make_delivery(push_route, uploader, dagtilbud_csv(rows_ok=11))
    work("validation")
    received = make_delivery(push_route, uploader, dagtilbud_csv(rows_ok=12))
    states = {d.pk: d.status for d in Delivery.objects.all()}
    assert states == {sent.pk: S.SENT, valid.pk: S.VALID, received.pk: S.RECEIVED}
    queued = [django_rq.get_queue(name).job_ids for name in ("validation", "sftp")]
    assert [len(ids) for ids in queued] == [1, 1]

    # SIGKILL, and started again without its data (no dump, no AOF): both jobs are gone.
    own_redis["stop"]()
    own_redis["start"]()
    assert redis.Redis.from_url(own_redis["url"]).dbsize() == 0

    # The reconciler (cron, every RECONCILE_INTERVAL_SECONDS) finds the lost work once it has
    # been quiet for RECONCILE_STUCK_MINUTES; the `sent` delivery is not work that was lost.
    stuck = settings.RECONCILE_STUCK_MINUTES + 1
    later = timezone.now() + timezone.timedelta(minutes=stuck)
    assert sorted(deliveries_reconcile(now=later).requeued) == [valid.pk, received.pk]
    assert deliveries_reconcile(now=later).requeued == []
    work("validation", "sftp")
    standin.wait_idle()
    # The cron jobs of the push and Hent sides, run by workers: the receipts, then a fetch
    # round (which enqueues one fetch job per recipient on the same queue).
    django_rq.get_queue("sftp").enqueue(jobs.collect_receipts)
    work("sftp")
    assert set(Delivery.objects.values_list("status", flat=True)) == {S.DISTRIBUTED}
    django_rq.get_queue("sftp").enqueue(jobs.fetch_all_recipients)
    work("sftp")

    for delivery in Delivery.objects.all():
        steps = [(e.old_status, e.new_status) for e in delivery.events.order_by("pk")]
        assert steps == EVERY_STEP_ONCE, (delivery.pk, steps)
        assert delivery.push_attempts == 1
        assert delivery.receipts.count() == 2  # FLIS and LIS, once each
    assert PlatformDecision.objects.count() == 3
    receipts = Receipt.objects.all()
    assert {r.verdict for r in receipts} == {ReceiptVerdict.OK}
    assert stored_receipt_files(private_media) == sorted(r.file.name for r in receipts)
    for party in (world.flis, world.lis):
        assert list((home(standin, party) / "IN").iterdir()) == []


def test_redis_started_again_from_its_append_only_file_goes_on_where_it_stopped(
    world, push_route, sender_key, uploader, private_media, standin, own_redis, make_delivery,
):  # fmt: skip
    """Redis persisting every write to an append-only file (AOF) comes back from a SIGKILL with
    the queues as they were at the kill: the pushes that validation queued are still queued,
    the validations stay finished. The flow goes on from there and nothing runs twice."""
    own_redis["stop"]()
    own_redis["start"](append_only=True)
    hold_private_keys(world)
    env = worker_env(own_redis["url"])
    for n in (10, 11):
        make_delivery(push_route, uploader, dagtilbud_csv(rows_ok=n))
    validations = list(django_rq.get_queue("validation").job_ids)
    assert len(validations) == 2
    burst(env, "validation")
    pushes = list(django_rq.get_queue("sftp").job_ids)
    assert len(pushes) == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {S.VALID}

    own_redis["stop"]()  # SIGKILL
    own_redis["start"](append_only=True)
    assert django_rq.get_queue("sftp").job_ids == pushes, "the append-only file was not loaded"
    assert django_rq.get_queue("validation").job_ids == []
    connection_ = django_rq.get_connection("validation")
    for job_id in validations:
        assert Job.fetch(job_id, connection=connection_).get_status() == "finished"

    burst(env, "sftp")
    standin.wait_idle()
    django_rq.get_queue("sftp").enqueue(jobs.collect_receipts)
    burst(env, "sftp")
    django_rq.get_queue("sftp").enqueue(jobs.fetch_all_recipients)
    burst(env, "sftp")
    for delivery in Delivery.objects.all():
        steps = [(e.old_status, e.new_status) for e in delivery.events.order_by("pk")]
        assert steps == EVERY_STEP_ONCE, (delivery.pk, steps)
        assert delivery.push_attempts == 1
        assert delivery.receipts.count() == 2
    assert PlatformDecision.objects.count() == 2


def test_redis_started_again_from_an_old_snapshot_replays_jobs_that_do_nothing(
    world, push_route, sender_key, uploader, private_media, standin, own_redis, make_delivery,
):  # fmt: skip
    """Redis persisted to disk (RDB) comes back with the queues as they were at the last
    snapshot: jobs that have run since are queued again. Each must find its work done (the
    claims are conditional updates) and change nothing."""
    hold_private_keys(world)
    env = worker_env(own_redis["url"])

    def work(*queues: str) -> None:
        burst(env, *queues)

    deliveries = [make_delivery(push_route, uploader, dagtilbud_csv(rows_ok=n)) for n in (10, 11)]
    client = redis.Redis.from_url(own_redis["url"])
    assert len(django_rq.get_queue("validation").job_ids) == 2
    client.save()  # the snapshot: both validations still queued
    work("validation", "sftp")
    assert set(Delivery.objects.values_list("status", flat=True)) == {S.SENT}

    own_redis["stop"]()  # SIGKILL: nothing newer than the snapshot survives
    own_redis["start"]()
    replayed = django_rq.get_queue("validation").job_ids
    assert len(replayed) == 2, "the snapshot was not loaded"
    work("validation", "sftp")  # the two validations again
    connection_ = django_rq.get_connection("validation")
    for job_id in replayed:  # they ran, and found nothing to do
        assert Job.fetch(job_id, connection=connection_).get_status() == "finished"
    assert set(Delivery.objects.values_list("status", flat=True)) == {S.SENT}

    standin.wait_idle()
    django_rq.get_queue("sftp").enqueue(jobs.collect_receipts)
    work("sftp")
    django_rq.get_queue("sftp").enqueue(jobs.fetch_all_recipients)
    work("sftp")
    for delivery in Delivery.objects.all():
        steps = [(e.old_status, e.new_status) for e in delivery.events.order_by("pk")]
        assert steps == EVERY_STEP_ONCE, (delivery.pk, steps)
        assert delivery.push_attempts == 1
        assert delivery.receipts.count() == 2
    assert PlatformDecision.objects.count() == len(deliveries)
