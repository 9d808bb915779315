"""The reconciler: work lost to a killed worker or a flushed Redis is found and set going again,
late receipts are flagged, and it is safe to run more than once at the same time."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta

import django_rq
import pytest
from django.urls import reverse
from django.utils import timezone

from deliveries import jobs
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from deliveries.services.push import delivery_push
from deliveries.services.reconcile import ReconcileRound, deliveries_reconcile
from deliveries.services.technical_receipts import receipts_collect
from tests.helpers.processes import ROOT, children_of
from tests.helpers.pushing import sender_out
from tests.helpers.standin import home
from tests.helpers.workers import rqworker_command, worker_env

pytestmark = pytest.mark.redis

S = DeliveryStatus


def later(minutes: float) -> timezone.datetime:
    return timezone.now() + timedelta(minutes=minutes)


def queued(queue: str) -> list[tuple[str, tuple]]:
    return [(job.func_name, job.args) for job in django_rq.get_queue(queue).get_jobs()]


def test_killed_worker_and_flushed_redis_still_reach_distributed(
    world, pushable, standin, cutting_proxy, clean_redis, redis_url, run_worker, settings
):
    # Slowed down on the way (24 MiB at 6 MiB/s), so the push is still moving bytes when the
    # worker is killed. Sparse, so it costs no disk on this side.
    size = 24 * 1024 * 1024
    cutting_proxy.rate = 6 * 1024 * 1024
    delivery = pushable(size=size)
    django_rq.get_queue("sftp").enqueue(jobs.push_delivery, delivery.pk)
    worker = subprocess.Popen(
        rqworker_command("sftp"),
        env=worker_env(redis_url),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        partial = None
        while time.monotonic() < deadline:
            name = Delivery.objects.filter(pk=delivery.pk).values_list("wire_name", flat=True)[0]
            if name and (sender_out(standin, world) / name).exists():
                partial = sender_out(standin, world) / name
                if partial.stat().st_size > 4 * 1024 * 1024:
                    break
            time.sleep(0.02)
        assert partial is not None, "the push never started"
        # RQ runs the job in a forked "work horse" in a session of its own: kill it and the
        # worker, as a crash or the OOM killer would.
        for pid in [*children_of(worker.pid), worker.pid]:
            os.kill(pid, signal.SIGKILL)
    finally:
        worker.wait(30)
    standin.wait_sessions_closed()
    delivery.refresh_from_db()
    assert delivery.status == S.PUSHING
    assert partial.stat().st_size < size
    clean_redis.flushdb()  # whatever was queued or running is gone

    # Too early: the push showed life a moment ago.
    assert deliveries_reconcile().repushed == []
    stuck = settings.RECONCILE_STUCK_MINUTES + 1
    result = deliveries_reconcile(now=later(stuck))
    assert result.repushed == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == S.VALID
    # The last written (pk), not the latest by time: under make test-dates the worker's moved
    # clock can run a second or so ahead of this process's.
    event = delivery.events.order_by("pk").last()
    assert (event.old_status, event.new_status, event.actor_label) == (
        "pushing",
        "valid",
        "reconciler",
    )
    assert event.message.startswith("Genoptaget af afstemningen: afsendelsen")
    assert queued("sftp") == [("deliveries.jobs.push_delivery", (delivery.pk,))]

    cutting_proxy.rate = None
    result = run_worker("sftp", timeout=300)
    assert result.returncode == 0, result.stderr
    delivery.refresh_from_db()
    assert delivery.status == S.SENT, delivery.events.order_by("pk").last().message
    assert delivery.push_attempts == 2
    standin.wait_idle()
    assert receipts_collect().distributed == 1
    delivery.refresh_from_db()
    assert delivery.status == S.DISTRIBUTED
    # The same name and SendersFileId throughout, distributed once, whole.
    assert PlatformDecision.objects.get().outcome == PlatformOutcome.DISTRIBUTED
    assert (home(standin, world.flis) / "IN" / delivery.wire_name).stat().st_size == size


def test_stuck_validation_goes_back_to_received_and_is_enqueued(
    world, pushable, clean_redis, settings
):
    delivery = pushable(b"x\n", status=S.VALIDATING)
    stuck = settings.RECONCILE_STUCK_MINUTES + 1

    result = deliveries_reconcile(now=later(stuck))
    assert result.revalidated == [delivery.pk]
    delivery.refresh_from_db()
    assert delivery.status == S.RECEIVED
    last = delivery.events.order_by("pk").last()
    assert last.message.startswith("Genoptaget af afstemningen: valideringen")
    assert queued("validation") == [("deliveries.jobs.validate_delivery", (delivery.pk,))]
    # Just re-enqueued: a second run right after (or a second reconciler) leaves it alone.
    assert deliveries_reconcile(now=later(stuck)) == ReconcileRound()
    assert len(queued("validation")) == 1


def test_a_push_that_shows_life_is_not_taken_from_its_worker(
    world, pushable, clean_redis, settings
):
    delivery = pushable(b"x\n", status=S.PUSHING)
    stuck = settings.RECONCILE_STUCK_MINUTES + 1
    # Long in `pushing`, but its worker wrote a heartbeat a moment before "now".
    Delivery.objects.filter(pk=delivery.pk).update(heartbeat_at=later(stuck - 1))
    assert deliveries_reconcile(now=later(stuck)).repushed == []
    assert Delivery.objects.get(pk=delivery.pk).status == S.PUSHING


def test_lost_jobs_of_received_and_valid_deliveries_are_enqueued_again_once(
    world, pushable, clean_redis, settings
):
    received = pushable(b"x\n", status=S.RECEIVED)
    valid = pushable(b"y\n", status=S.VALID)
    waiting = pushable(b"z\n", status=S.VALID)
    stuck = settings.RECONCILE_STUCK_MINUTES + 1
    # A retry planned for later is not lost work.
    Delivery.objects.filter(pk=waiting.pk).update(next_attempt_at=later(stuck + 5))

    result = deliveries_reconcile(now=later(stuck))
    assert sorted(result.requeued) == sorted([received.pk, valid.pk])
    assert queued("validation") == [("deliveries.jobs.validate_delivery", (received.pk,))]
    assert queued("sftp") == [("deliveries.jobs.push_delivery", (valid.pk,))]
    assert deliveries_reconcile(now=later(stuck)).requeued == []
    # No status changed, so no event.
    assert not received.events.exists() and not valid.events.exists()


def test_sent_without_receipt_is_flagged_once_and_shown(
    world, pushable, clean_redis, settings, client, uploader
):
    delivery = pushable(b"x\n", status=S.SENT)
    Delivery.objects.filter(pk=delivery.pk).update(sent_at=timezone.now())
    overdue = settings.RECEIPT_OVERDUE_MINUTES + 1

    assert deliveries_reconcile(now=later(overdue - 2)).overdue == []
    assert deliveries_reconcile(now=later(overdue)).overdue == [delivery.pk]
    assert deliveries_reconcile(now=later(overdue + 10)).overdue == []
    delivery.refresh_from_db()
    assert delivery.receipt_missing
    event = delivery.events.get()
    assert (event.old_status, event.new_status) == ("sent", "sent")
    assert event.message.startswith("Ingen teknisk kvittering 60 minutter efter afsendelsen")

    client.force_login(uploader)
    body = client.get(reverse("deliveries:detail", args=[delivery.uuid])).content.decode()
    assert "har ikke sendt en teknisk kvittering" in body
    assert "Ingen teknisk kvittering 60 minutter" in body
    assert "portalen (afstemning)" in body  # who flagged it, in Danish


def test_reconcile_job_runs_in_a_real_worker(world, pushable, clean_redis, run_worker):
    delivery = pushable(b"x\n", status=S.PUSHING)
    # Long quiet: status changed and heartbeat far in the past.
    long_ago = timezone.now() - timedelta(days=1)
    Delivery.objects.filter(pk=delivery.pk).update(status_changed_at=long_ago, heartbeat_at=None)
    django_rq.get_queue("default").enqueue(jobs.reconcile_deliveries)
    assert run_worker("default").returncode == 0
    delivery.refresh_from_db()
    assert delivery.status == S.VALID
    assert queued("sftp") == [("deliveries.jobs.push_delivery", (delivery.pk,))]


def test_a_push_writes_heartbeats_while_it_moves_bytes(world, pushable, monkeypatch):
    from deliveries import sftp

    monkeypatch.setattr("deliveries.services.push.PUSH_HEARTBEAT_SECONDS", 0.0)
    delivery = pushable(bytes(3 * 1024 * 1024))
    seen = []
    real_remote_size = sftp.SftpConnection.remote_size

    def after_upload(self, remote_path):
        seen.append(Delivery.objects.values_list("heartbeat_at", flat=True).get(pk=delivery.pk))
        return real_remote_size(self, remote_path)

    monkeypatch.setattr(sftp.SftpConnection, "remote_size", after_upload)
    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    claimed = delivery.events.get(new_status=S.PUSHING).at
    assert seen[0] > claimed  # written during the upload, after the claim
    # Once sent, nothing is working on it any more.
    assert Delivery.objects.get(pk=delivery.pk).heartbeat_at is None
