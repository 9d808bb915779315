"""The reconciler and checks without sending (FileCheck): a check whose job Redis lost, or
whose worker died mid-check, does not stay «kontrolleres» for ever. It is enqueued again, run
again, or, when its file is gone, failed with a text that says what to do; a check that is
simply waiting for a worker or being checked is left alone. Real Redis, real burst workers."""

from __future__ import annotations

from datetime import timedelta

import django_rq
import pytest
import time_machine
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from rq.job import Job, JobStatus

from deliveries.models import FileCheck, FileCheckStatus
from deliveries.services import CHECK_JOB
from deliveries.services import check as check_service
from deliveries.services.check import check_job_id, delivery_check, file_check_run
from deliveries.services.reconcile import ReconcileRound, deliveries_reconcile
from flisportal.lib.queues import VALIDATION
from tests.factories import dagtilbud_csv, dagtilbud_row

pytestmark = pytest.mark.redis

LOST_FILE_TEXT = (
    "Kontrollen blev afbrudt, og filen findes ikke længere i portalens lager, så den kan ikke "
    "kontrolleres igen. Vælg filen igen under «Upload dataudtræk», og tryk «Kontrollér uden at "
    "sende»."
)


def queued() -> list[tuple[str, str, tuple]]:
    return [(job.id, job.func_name, job.args) for job in django_rq.get_queue(VALIDATION).jobs]


@pytest.fixture
def check_of(world, push_route, uploader, incoming, private_media, clean_redis):
    """A check of `content` as the upload page makes it (stored file, row, job on the real
    validation queue); no worker runs it unless the test does."""

    def make(content: bytes) -> FileCheck:
        return delivery_check(
            user=uploader, incoming=incoming(content), route=push_route, period="2026-10"
        )

    return make


def claimed(check: FileCheck) -> None:
    """What a worker that took the check and was then killed leaves behind: the claim of
    file_check_run's first lines, and nothing after it."""
    FileCheck.objects.filter(pk=check.pk, started_at__isnull=True).update(started_at=timezone.now())


def test_checks_whose_jobs_redis_lost_are_queued_again_and_checked_by_a_worker(
    check_of, clean_redis, run_worker, settings
):
    """Rule: a check nobody took, whose job Redis no longer has, is enqueued again once it is
    older than the quiet period; a worker then gives it its report (valid and invalid alike)."""
    good = check_of(dagtilbud_csv(rows_ok=4).encode())
    bad = check_of(dagtilbud_csv(dagtilbud_row(10, pladstype="halv"), rows_ok=2).encode())
    assert [job_id for job_id, _f, _a in queued()] == [check_job_id(good.pk), check_job_id(bad.pk)]
    clean_redis.flushdb()  # the jobs are gone; the rows still say «kontrolleres»

    start = timezone.now()
    stuck = timedelta(minutes=settings.RECONCILE_STUCK_MINUTES + 1)
    # Within the quiet period the on-commit enqueue may still be under way: left alone.
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert deliveries_reconcile() == ReconcileRound()
    with time_machine.travel(start + stuck, tick=False):
        assert deliveries_reconcile().checks_requeued == [good.pk, bad.pk]
        assert queued() == [
            (check_job_id(good.pk), CHECK_JOB, (good.pk,)),
            (check_job_id(bad.pk), CHECK_JOB, (bad.pk,)),
        ]
        # Queued now: the next round (or a second reconciler) finds the jobs and adds none.
        assert deliveries_reconcile() == ReconcileRound()
    assert len(queued()) == 2

    done = run_worker(VALIDATION)
    assert done.returncode == 0, done.stderr
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.status, good.error_count) == (FileCheckStatus.VALID, 0)
    assert (bad.status, bad.error_count) == (FileCheckStatus.INVALID, 1)
    assert good.file.name == "" and bad.file.name == ""


def test_a_check_still_queued_is_left_alone_however_long_it_waits(check_of, clean_redis, settings):
    """Rule: a check waiting behind a long validation queue still has its job in Redis, so the
    reconciler adds none (a duplicate would only pile up); once the job is lost, it does."""
    check = check_of(dagtilbud_csv(rows_ok=3).encode())
    later = timezone.now() + timedelta(minutes=settings.RECONCILE_STUCK_MINUTES * 10)
    with time_machine.travel(later, tick=False):
        assert deliveries_reconcile() == ReconcileRound()
        assert len(queued()) == 1
        django_rq.get_queue(VALIDATION).empty()
        assert deliveries_reconcile().checks_requeued == [check.pk]


def test_a_check_whose_worker_died_is_run_again_once_it_has_been_quiet_long_enough(
    check_of, clean_redis, run_worker, settings
):
    """Rule: a check a worker took and then showed no life for RECONCILE_STUCK_MINUTES is
    unclaimed and enqueued again while its file is there; a worker then checks it whole. Until
    then (recently started, or a recent heartbeat) it is its worker's."""
    check = check_of(dagtilbud_csv(rows_ok=5).encode())
    django_rq.get_queue(VALIDATION).empty()  # taken by the worker that is killed
    start = timezone.now()
    minutes = settings.RECONCILE_STUCK_MINUTES
    with time_machine.travel(start, tick=False):
        claimed(check)
    with time_machine.travel(start + timedelta(minutes=minutes - 1), tick=False):
        assert deliveries_reconcile() == ReconcileRound()  # recently started
    # A long check of a large file writes a heartbeat now and then: still alive.
    FileCheck.objects.filter(pk=check.pk).update(heartbeat_at=start + timedelta(minutes=minutes))
    with time_machine.travel(start + timedelta(minutes=minutes + 1), tick=False):
        assert deliveries_reconcile() == ReconcileRound()
    with time_machine.travel(start + timedelta(minutes=2 * minutes + 1), tick=False):
        assert deliveries_reconcile().checks_rerun == [check.pk]
        row = FileCheck.objects.get(pk=check.pk)
        assert (row.status, row.started_at, row.heartbeat_at) == (
            FileCheckStatus.CHECKING,
            None,
            None,
        )
        assert queued() == [(check_job_id(check.pk), CHECK_JOB, (check.pk,))]
        assert deliveries_reconcile() == ReconcileRound()  # its job is queued: once only

    done = run_worker(VALIDATION)
    assert done.returncode == 0, done.stderr
    check.refresh_from_db()
    assert (check.status, check.rows_checked) == (FileCheckStatus.VALID, 5)
    assert check.file.name == ""


def test_a_check_whose_worker_died_and_whose_file_is_gone_fails_with_what_to_do(
    check_of, clean_redis, uploader, client, settings
):
    """Rule: a check that cannot be run again (its file is no longer in storage) is not left
    «kontrolleres»: it becomes FAILED with a Danish text that says what happened and what to
    do, and the check page stops reloading and shows it."""
    check = check_of(dagtilbud_csv(rows_ok=2).encode())
    django_rq.get_queue(VALIDATION).empty()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        claimed(check)
    default_storage.delete(check.file.name)
    with time_machine.travel(
        start + timedelta(minutes=settings.RECONCILE_STUCK_MINUTES + 1), tick=False
    ):
        assert deliveries_reconcile().checks_failed == [check.pk]
        assert deliveries_reconcile() == ReconcileRound()
    assert queued() == []
    check.refresh_from_db()
    assert check.status == FileCheckStatus.FAILED
    assert check.problem_text == LOST_FILE_TEXT
    assert check.file.name == "" and check.checked_at is not None

    client.force_login(uploader)
    response = client.get(reverse("deliveries:check", args=[check.uuid]))
    assert response.status_code == 200
    assert "Refresh" not in response.headers
    page = response.content.decode()
    assert "Filen kunne ikke kontrolleres." in page
    assert "Kontrollen blev afbrudt, og filen findes ikke længere" in page


def test_a_running_check_writes_a_sign_of_life(check_of, monkeypatch):
    """Rule: the worker writes heartbeat_at while it checks, which is what keeps the
    reconciler from taking a long check of a large file from its living worker."""
    monkeypatch.setattr(check_service, "HEARTBEAT_SECONDS", 0)
    check = check_of(dagtilbud_csv(rows_ok=3).encode())
    assert file_check_run(check_id=check.pk) == FileCheckStatus.VALID
    check.refresh_from_db()
    assert check.heartbeat_at is not None


def test_a_job_a_worker_took_counts_as_on_its_way_only_within_the_quiet_period(
    check_of, clean_redis, settings
):
    """Rule: a job RQ shows as started belongs to a living worker only for the quiet period;
    one started earlier whose check was never claimed (its worker killed between taking the
    job and the claim) is enqueued again, though RQ still calls it started for an hour."""
    check = check_of(dagtilbud_csv(rows_ok=3).encode())
    queue = django_rq.get_queue(VALIDATION)
    job = Job.fetch(check_job_id(check.pk), connection=queue.connection)
    queue.remove(job)
    start = timezone.now()
    job.started_at = start + timedelta(minutes=10)
    job.set_status(JobStatus.STARTED)
    job.save()
    stuck = timedelta(minutes=settings.RECONCILE_STUCK_MINUTES + 1)
    with time_machine.travel(start + stuck, tick=False):
        assert deliveries_reconcile() == ReconcileRound()
    with time_machine.travel(start + timedelta(minutes=10) + stuck, tick=False):
        assert deliveries_reconcile().checks_requeued == [check.pk]
        assert queued() == [(check_job_id(check.pk), CHECK_JOB, (check.pk,))]
