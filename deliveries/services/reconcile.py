"""The reconciler: finds deliveries whose work was lost (a killed worker, a flushed Redis) and
sets it going again; flags sent deliveries whose receipt is overdue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
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
from deliveries.models import Delivery
from deliveries.services import PUSH_JOB, VALIDATE_JOB
from flisportal.lib.periods import local_time_text
from flisportal.lib.queues import SFTP, VALIDATION, enqueue_on_commit

logger = logging.getLogger(__name__)


@dataclass
class ReconcileRound:
    """Delivery ids the reconciler acted on in one run."""

    revalidated: list[int] = field(default_factory=list)
    repushed: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)


def deliveries_reconcile(*, now: datetime | None = None) -> ReconcileRound:
    """Finds deliveries whose work was lost and sets it going again (RQ cron job
    `reconcile_deliveries`); flags sent deliveries whose receipt is overdue.

    - `validating`/`pushing` with no sign of life for RECONCILE_STUCK_MINUTES: the worker died
      (or was killed); back to `received`/`valid`, with an event, and enqueued again;
    - `received`/`valid` untouched that long with no retry planned: the job was lost (Redis
      flushed); enqueued again;
    - `sent` for RECEIPT_OVERDUE_MINUTES without a receipt: flagged once, with an event.

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
