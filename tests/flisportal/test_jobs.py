from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from flisportal.jobs import clear_expired_sessions


@pytest.mark.django_db
def test_expired_sessions_are_cleared_and_live_ones_kept():
    live = SessionStore()
    live.create()
    old = SessionStore()
    old.create()
    Session.objects.filter(session_key=old.session_key).update(
        expire_date=timezone.now() - timedelta(days=1)
    )
    assert clear_expired_sessions() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]


@pytest.mark.redis
def test_cron_config_loads_into_rq_cron_scheduler(clean_redis):
    from django_rq.cron import DjangoCronScheduler

    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("flisportal.cron")
    names = {job.func_name for job in scheduler.get_jobs()}
    assert "flisportal.jobs.clear_expired_sessions" in names
    assert "deliveries.jobs.collect_receipts" in names
    assert "deliveries.jobs.reconcile_deliveries" in names
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    assert jobs["deliveries.jobs.collect_receipts"].interval == 60  # RECEIPT_POLL_SECONDS
    assert jobs["deliveries.jobs.collect_receipts"].queue_name == "sftp"
    # The scheduler has a Redis connection to run with (it has none while no job is registered).
    assert scheduler.connection is not None
