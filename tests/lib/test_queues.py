"""A job enqueued on the real Redis is executed by a real worker process; `job_on_its_way`
says whether a job will still run; `enqueue_now` enqueues at once or says that Redis did not
take the job."""

from datetime import UTC, datetime, timedelta

import django_rq
import pytest
from django.db import transaction
from rq.job import JobStatus

from flisportal.lib.queues import QueueUnavailable, enqueue_now, job_on_its_way, ping


@pytest.mark.redis
def test_real_worker_runs_a_job_from_the_queue(clean_redis, run_worker):
    job = django_rq.get_queue("default").enqueue(ping)
    assert job.get_status() == JobStatus.QUEUED
    result = run_worker("default")
    assert result.returncode == 0, result.stderr
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == "pong"


@pytest.mark.redis
def test_a_job_is_on_its_way_while_queued_and_not_once_it_has_ended_or_is_gone(clean_redis):
    """Rule (flisportal.lib.queues.job_on_its_way, the reconciler's question for a check): a
    queued job will still run; a finished one, or an id Redis does not have, will not."""
    since = datetime.now(UTC) - timedelta(minutes=15)
    assert not job_on_its_way("default", "no-such-job", started_after=since)
    job = django_rq.get_queue("default").enqueue(ping, job_id="known-id")
    assert job_on_its_way("default", "known-id", started_after=since)
    job.set_status(JobStatus.FINISHED)
    assert not job_on_its_way("default", "known-id", started_after=since)


def test_a_redis_that_does_not_answer_counts_as_the_job_on_its_way(redis_down, caplog):
    """Rule: when Redis cannot be asked, nothing could be enqueued either; the caller leaves
    the work for its next round instead of acting on a guess."""
    since = datetime.now(UTC) - timedelta(minutes=15)
    assert job_on_its_way("default", "file-check-1", started_after=since)
    assert "not looked up" in caplog.text


@pytest.mark.redis
@pytest.mark.django_db
def test_enqueue_now_puts_the_job_on_the_queue_even_inside_a_transaction(clean_redis):
    """Rule: `enqueue_now` is for a caller that must know now whether Redis took the job; it
    is not held back until a commit (django-rq's default inside a transaction)."""
    with transaction.atomic():
        enqueue_now("default", "flisportal.lib.queues.ping")
        assert [job.func_name for job in django_rq.get_queue("default").get_jobs()] == [
            "flisportal.lib.queues.ping"
        ]


def test_enqueue_now_raises_when_redis_does_not_answer(redis_down):
    with pytest.raises(QueueUnavailable):
        enqueue_now("default", "flisportal.lib.queues.ping")
