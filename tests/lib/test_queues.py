"""A job enqueued on the real Redis is executed by a real worker process."""

import django_rq
import pytest
from rq.job import JobStatus

from flisportal.lib.queues import ping


@pytest.mark.redis
def test_real_worker_runs_a_job_from_the_queue(clean_redis, run_worker):
    job = django_rq.get_queue("default").enqueue(ping)
    assert job.get_status() == JobStatus.QUEUED
    result = run_worker("default")
    assert result.returncode == 0, result.stderr
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == "pong"
