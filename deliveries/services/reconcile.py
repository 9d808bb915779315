"""The reconciler: finds deliveries and checks without sending whose work was lost (a killed
worker, a flushed Redis) and sets it going again; flags sent deliveries whose receipt is overdue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus, quiet_since
from deliveries.lifecycle.transitions import (
    RECONCILER,
    delivery_event_record,
    delivery_transition,
)
from deliveries.messages import text
from deliveries.models import Delivery, FileCheck, FileCheckStatus
from deliveries.services import PUSH_JOB, VALIDATE_JOB
from deliveries.services.check import check_job_id, file_check_enqueue, file_check_fail
from flisportal.lib.periods import local_time_text
from flisportal.lib.queues import SFTP, VALIDATION, enqueue_on_commit, job_on_its_way

logger = logging.getLogger(__name__)


@dataclass
class ReconcileRound:
    """Delivery ids and, for checks without sending (FileCheck), check ids the reconciler acted
    on in one run."""

    revalidated: list[int] = field(default_factory=list)
    repushed: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    # Checks whose job was lost before a worker took it: enqueued again.
    checks_requeued: list[int] = field(default_factory=list)
    # Checks whose worker went quiet mid-check: run again, or failed when the file is gone.
    checks_rerun: list[int] = field(default_factory=list)
    checks_failed: list[int] = field(default_factory=list)


def deliveries_reconcile(*, now: datetime | None = None) -> ReconcileRound:
    """Finds deliveries whose work was lost and sets it going again (RQ cron job
    `reconcile_deliveries`); flags sent deliveries whose receipt is overdue.

    - `validating`/`pushing` with no sign of life for RECONCILE_STUCK_MINUTES: the worker died
      (or was killed); back to `received`/`valid`, with an event, and enqueued again;
    - `received`/`valid` untouched that long with no retry planned: the job was lost (Redis
      flushed); enqueued again;
    - `sent` for RECEIPT_OVERDUE_MINUTES without a receipt: flagged once, with an event;
    - a check without sending (FileCheck) still `checking`: enqueued again when its job is no
      longer in Redis; run again when its worker has shown no life for RECONCILE_STUCK_MINUTES,
      or failed with the reason when its file is gone.

    Every change is a conditional update, so any number of reconcilers and workers may run at
    once; a job enqueued twice does nothing the second time (its claim fails).
    """
    now = now or timezone.now()
    since = now - timedelta(minutes=settings.RECONCILE_STUCK_MINUTES)
    quiet = quiet_since(since)
    result = ReconcileRound()
    _resume_stuck_work(now=now, since=since, quiet=quiet, result=result)
    _requeue_lost_jobs(now=now, since=since, quiet=quiet, result=result)
    _flag_overdue_receipts(now=now, result=result)
    # Lost jobs first: a check the second step takes back is enqueued at once, and would only
    # be looked up in Redis again for nothing.
    _requeue_lost_checks(since=since, result=result)
    _resume_stuck_checks(since=since, result=result)
    if any(vars(result).values()):
        logger.info("reconciler: %s", {name: ids for name, ids in vars(result).items() if ids})
    return result


def _resume_stuck_work(*, now: datetime, since: datetime, quiet: Q, result: ReconcileRound) -> None:
    """`validating`/`pushing` gone quiet: back to `received`/`valid` and enqueued again."""
    S = DeliveryStatus

    for old, new, queue, job, what in (
        (S.VALIDATING, S.RECEIVED, VALIDATION, VALIDATE_JOB, "word.work.validation"),
        (S.PUSHING, S.VALID, SFTP, PUSH_JOB, "word.work.push"),
    ):
        for delivery_id, last in Delivery.objects.filter(quiet, status=old).values_list(
            "pk", "heartbeat_at"
        ):
            with transaction.atomic():
                moved = delivery_transition(
                    delivery_id=delivery_id,
                    old=old,
                    new=new,
                    where=quiet,
                    actor_label=RECONCILER,
                    message=text(
                        "event.resumed",
                        work=text(what).as_param(),
                        since=local_time_text(last or since),
                    ),
                    heartbeat_at=now,
                    next_attempt_at=None,
                )
                if moved:
                    enqueue_on_commit(queue, job, delivery_id)
            if moved:
                (result.revalidated if new == DeliveryStatus.RECEIVED else result.repushed).append(
                    delivery_id
                )


def _requeue_lost_jobs(*, now: datetime, since: datetime, quiet: Q, result: ReconcileRound) -> None:
    """`received`/`valid` gone quiet with no retry planned: the job was lost, enqueue it again."""
    lost = quiet & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=since))
    for status, queue, job in (
        (DeliveryStatus.RECEIVED, VALIDATION, VALIDATE_JOB),
        (DeliveryStatus.VALID, SFTP, PUSH_JOB),
    ):
        for delivery_id in Delivery.objects.filter(lost, status=status).values_list(
            "pk", flat=True
        ):
            # Touching heartbeat_at is the claim: the next run leaves it alone for a while.
            with transaction.atomic():
                touched = Delivery.objects.filter(lost, pk=delivery_id, status=status).update(
                    heartbeat_at=now
                )
                if touched:
                    enqueue_on_commit(queue, job, delivery_id)
            if touched:
                logger.info("reconciler re-enqueued delivery %s (%s)", delivery_id, status)
                result.requeued.append(delivery_id)


def _flag_overdue_receipts(*, now: datetime, result: ReconcileRound) -> None:
    """`sent` too long without a receipt: flagged once, with an event on the timeline."""
    overdue_since = now - timedelta(minutes=settings.RECEIPT_OVERDUE_MINUTES)
    for delivery_id, sent_at in Delivery.objects.filter(
        status=DeliveryStatus.SENT, sent_at__lt=overdue_since, receipt_overdue_at__isnull=True
    ).values_list("pk", "sent_at"):
        with transaction.atomic():
            flagged = Delivery.objects.filter(
                pk=delivery_id, status=DeliveryStatus.SENT, receipt_overdue_at__isnull=True
            ).update(receipt_overdue_at=now)
            if flagged:
                # Not a status change, but a step the timeline must show.
                said = text(
                    "event.receipt_overdue",
                    minutes=settings.RECEIPT_OVERDUE_MINUTES,
                    sent=local_time_text(sent_at or now),
                )
                delivery_event_record(
                    delivery=Delivery.objects.only("uuid", "period", "kommune_id").get(
                        pk=delivery_id
                    ),
                    old=DeliveryStatus.SENT,
                    new=DeliveryStatus.SENT,
                    actor_label=RECONCILER,
                    message=said,
                    at=now,
                    changed={"receipt_overdue_at": now},
                )
        if flagged:
            result.overdue.append(delivery_id)


def _requeue_lost_checks(*, since: datetime, result: ReconcileRound) -> None:
    """Checks no worker has taken, older than the quiet period, whose job Redis no longer has
    (flushed, or lost before it was written): enqueued again. A check waiting behind a long
    queue keeps its job and is left alone. No claim in the database: two reconcilers at once
    may both enqueue, and the second job then finds nothing to claim (file_check_run). The
    one waiting longest goes first."""
    for check_id in (
        FileCheck.objects.filter(
            status=FileCheckStatus.CHECKING, started_at__isnull=True, created_at__lt=since
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        if job_on_its_way(VALIDATION, check_job_id(check_id), started_after=since):
            continue
        file_check_enqueue(check_id=check_id)
        logger.info("reconciler re-enqueued file check %s (its job was lost)", check_id)
        result.checks_requeued.append(check_id)


def _resume_stuck_checks(*, since: datetime, result: ReconcileRound) -> None:
    """Checks a worker took and then showed no life for RECONCILE_STUCK_MINUTES (it died, or
    was killed): run again while the file is there, else failed with the reason. The page
    shows «kontrolleres» meanwhile and reloads itself until the outcome is there."""
    quiet = Q(status=FileCheckStatus.CHECKING, started_at__lt=since) & (
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=since)
    )
    for check_id, name in FileCheck.objects.filter(quiet).order_by("pk").values_list("pk", "file"):
        # Storage asked outside the transaction (it may be an object store).
        if name and default_storage.exists(name):
            with transaction.atomic():
                # Unclaimed again, so the new job can claim it as the first one did.
                taken = FileCheck.objects.filter(quiet, pk=check_id).update(
                    started_at=None, heartbeat_at=None
                )
                if taken:
                    file_check_enqueue(check_id=check_id)
            if taken:
                logger.info("reconciler runs file check %s again (its worker died)", check_id)
                result.checks_rerun.append(check_id)
        elif file_check_fail(check_id=check_id, said=text("check.lost"), where=quiet):
            logger.warning("reconciler failed file check %s: its file is gone", check_id)
            result.checks_failed.append(check_id)
