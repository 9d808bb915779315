"""Queue names and the one way jobs are put on them.

Jobs take ids, never model instances, and are enqueued after the surrounding transaction
commits, so a worker never looks for a row that is not there yet. Services name a job by its
dotted path ("deliveries.jobs.push_delivery"): the job module imports the service, not the
other way round, and RQ imports the function when a worker runs it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import django_rq
import redis
from django.db import transaction

logger = logging.getLogger(__name__)

DEFAULT = "default"
VALIDATION = "validation"  # CPU-bound: reading and checking extracts
SFTP = "sftp"  # network-bound: push, receipts, fetch


def _enqueue(queue: str, job: str, *args: Any, **kwargs: Any) -> None:
    """Redis being down must not turn a committed upload (or status change) into an error page:
    the row is written and is the source of truth, and the reconciler enqueues the work again
    once it has waited RECONCILE_STUCK_MINUTES. So a Redis error is logged, not raised."""
    try:
        django_rq.get_queue(queue).enqueue(job, *args, **kwargs)
    except redis.RedisError as error:
        logger.warning(
            "%s%r could not be put on queue %s (%s); the reconciler will enqueue it again",
            job,
            args,
            queue,
            error,
        )


def enqueue_on_commit(queue: str, job: str, *args: Any, **kwargs: Any) -> None:
    transaction.on_commit(lambda: _enqueue(queue, job, *args, **kwargs))


def enqueue_in_on_commit(queue: str, delay: timedelta, job: str, *args: Any, **kwargs: Any) -> None:
    """Like `enqueue_on_commit`, but the job becomes due after `delay`; a worker started with
    `--with-scheduler` moves it onto the queue then."""
    transaction.on_commit(
        lambda: django_rq.get_queue(queue).enqueue_in(delay, job, *args, **kwargs)
    )


def ping() -> str:
    """A job that only answers: shows that a worker takes work from the queue."""
    return "pong"
