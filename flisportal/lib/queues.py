"""Queue names and the one way jobs are put on them.

Jobs take ids, never model instances, and are enqueued after the surrounding transaction
commits, so a worker never looks for a row that is not there yet. Services name a job by its
dotted path ("deliveries.jobs.push_delivery"): the job module imports the service, not the
other way round, and RQ imports the function when a worker runs it.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import django_rq
import redis
from django.db import transaction
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

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


class QueueUnavailable(Exception):
    """Redis did not take a job that `enqueue_now` was asked to put on a queue."""


def enqueue_now(queue: str, job: str, *args: Any, **kwargs: Any) -> None:
    """Puts the job on the queue at once, for a caller whose claim is only worth keeping if
    the job is queued (a batch's «Send»): Redis failing raises QueueUnavailable, so the caller
    can undo the claim and tell the user, instead of leaving the work to the reconciler.
    Called outside a transaction: the rows the job reads must be committed already. (Inside
    one, django-rq's default would hold the job back until the commit, and a Redis error would
    come then, too late to tell anyone: hence "auto", enqueued now.)"""
    try:
        django_rq.get_queue(queue, commit_mode="auto").enqueue(job, *args, **kwargs)
    except redis.RedisError as error:
        logger.warning("%s%r could not be put on queue %s (%s)", job, args, queue, error)
        raise QueueUnavailable(str(error)) from error


def enqueue_on_commit(queue: str, job: str, *args: Any, **kwargs: Any) -> None:
    transaction.on_commit(lambda: _enqueue(queue, job, *args, **kwargs))


def job_on_its_way(queue: str, job_id: str, *, started_after: datetime | None = None) -> bool:
    """Whether the job with this id (one enqueued with `job_id=`) will still run or is running:
    waiting on `queue`, scheduled or deferred, or taken by a worker (after `started_after`,
    when given). A job taken earlier that still shows as started may be one whose worker was
    killed (RQ marks it abandoned only after the queue's job timeout, an hour on
    `validation`), so the caller's quiet period decides, as for a delivery. A Redis that does
    not answer counts as "on its way": nothing can be enqueued then either, and the next round
    asks again."""
    try:
        job = Job.fetch(job_id, connection=django_rq.get_queue(queue).connection)
        status = job.get_status(refresh=False)
    except NoSuchJobError:
        return False
    except redis.RedisError as error:
        logger.warning("job %s on %s not looked up (%s)", job_id, queue, error)
        return True
    if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        return True
    started = job.started_at
    if status != JobStatus.STARTED:
        return False
    return started_after is None or (started is not None and started > started_after)


def enqueue_in_on_commit(queue: str, delay: timedelta, job: str, *args: Any, **kwargs: Any) -> None:
    """Like `enqueue_on_commit`, but the job becomes due after `delay`; a worker started with
    `--with-scheduler` moves it onto the queue then."""
    transaction.on_commit(
        lambda: django_rq.get_queue(queue).enqueue_in(delay, job, *args, **kwargs)
    )


# A "soon" key outlives the run it stands for by this much: if the job is lost (a flushed
# Redis, a dead scheduler) the key expires and the next request schedules a new run.
SOON_KEY_GRACE_SECONDS = 60


def enqueue_soon_on_commit(queue: str, delay: float, job: str, *args: Any, key: str) -> None:
    """Like `enqueue_in_on_commit`, but coalesced: at most one pending run per `key` (say
    "receipts:7", one SFTP user's receipt round). A request while a run is pending adds
    nothing, unless it wants the run sooner: then the pending run is moved earlier. So a burst
    of 490 pushes by one sender makes one round, not 490. The job should call `soon_started`
    first, so a request that comes while it runs schedules the next run."""
    transaction.on_commit(lambda: _enqueue_soon(queue, delay, job, *args, key=key))


def _soon_key(key: str) -> str:
    return f"flisportal:soon:{key}"


def _enqueue_soon(queue_name: str, delay: float, job: str, *args: Any, key: str) -> None:
    try:
        queue = django_rq.get_queue(queue_name)
        connection = queue.connection
        due = time.time() + delay
        redis_key = _soon_key(key)
        ttl = int(delay) + SOON_KEY_GRACE_SECONDS
        # Claimed first, enqueued after: two requests at the same moment cannot both enqueue.
        if connection.set(redis_key, f"{due}", nx=True, ex=ttl):
            try:
                scheduled = queue.enqueue_in(timedelta(seconds=delay), job, *args)
            except redis.RedisError:
                connection.delete(redis_key)  # nothing pending: the next request may try
                raise
            connection.set(redis_key, f"{due} {scheduled.id}", ex=ttl)
            return
        _move_earlier(queue, redis_key, due, ttl)
    except redis.RedisError as error:
        # The cron round still comes at its interval: a lost "soon" only makes it later.
        logger.warning("%s%r not scheduled soon on %s (%s)", job, args, queue_name, error)


def _move_earlier(queue: Any, redis_key: str, due: float, ttl: int) -> None:
    """A run is pending for this key; when it is due later than `due` (a backoff step), it is
    moved to `due`: a new push must not wait for the slow end of an older one's backoff."""
    pending_due, _, job_id = (queue.connection.get(redis_key) or b"").decode().partition(" ")
    if not job_id or float(pending_due) <= due + 1:
        return  # due soon enough (or still being enqueued by the request that claimed it)
    try:
        pending = Job.fetch(job_id, connection=queue.connection)
    except NoSuchJobError:
        return
    if pending.get_status() != JobStatus.SCHEDULED:
        return  # already on its queue: it runs at once anyway
    queue.scheduled_job_registry.schedule(pending, datetime.fromtimestamp(due, tz=UTC))
    queue.connection.set(redis_key, f"{due} {job_id}", ex=ttl)


def soon_started(queue: str, key: str) -> None:
    """The pending run of `key` has started: the next request schedules a new one (work that
    arrives while this run is under way may come after its look)."""
    try:
        django_rq.get_queue(queue).connection.delete(_soon_key(key))
    except redis.RedisError as error:
        logger.warning("soon key %s not cleared (%s); it expires by itself", key, error)


def login_allowed(queue: str, key: str, *, per_minute: int) -> float:
    """Counts a login attempt for `key` (an SFTP user) in the current calendar minute and
    returns 0 when it is within `per_minute`, else the seconds until the next minute, when the
    caller may try again. A fixed window: a Redis counter that expires by itself. Redis
    failing between the job's start and this count allows the login: refusing would leave the
    round to the cron interval for a fault of the portal's own."""
    now = time.time()
    window = int(now // 60)
    counter = f"flisportal:logins:{key}:{window}"
    try:
        connection = django_rq.get_queue(queue).connection
        pipe = connection.pipeline()
        pipe.incr(counter)
        pipe.expire(counter, 120)
        count = int(pipe.execute()[0])
    except redis.RedisError as error:
        logger.warning("login count of %s not kept (%s)", key, error)
        return 0.0
    if count <= per_minute:
        return 0.0
    return (window + 1) * 60 - now


def ping() -> str:
    """A job that only answers: shows that a worker takes work from the queue."""
    return "pong"
