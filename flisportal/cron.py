"""Periodic jobs for RQ's cron scheduler (`manage.py rqcron flisportal.cron`).

Each feature registers its own job here, with an interval from the settings.
"""

from django.conf import settings
from rq import cron

from deliveries import jobs as delivery_jobs
from flisportal import jobs, queues

# Nightly, when nobody is uploading.
cron.register(jobs.clear_expired_sessions, queues.DEFAULT, cron="15 3 * * *")

# Technical receipts of sent deliveries (docs/push-receipts.md). On the sftp queue with the
# pushes: both are network-bound, and a worker busy with one large push does not hold it up
# when more than one worker serves that queue.
cron.register(
    delivery_jobs.collect_receipts,
    queues.SFTP,
    interval=settings.RECEIPT_POLL_SECONDS,
    job_timeout=max(600, settings.RECEIPT_POLL_SECONDS),
)
# Work lost to a killed worker or a flushed Redis is found and enqueued again. On the default
# queue: it only touches the database and Redis, and must not wait behind long pushes.
cron.register(
    delivery_jobs.reconcile_deliveries,
    queues.DEFAULT,
    interval=settings.RECONCILE_INTERVAL_SECONDS,
    job_timeout=300,
)

# Hent side: fetch what the Serviceplatform has put in the recipients' IN/ folders.
cron.register(delivery_jobs.fetch_all_recipients, queues.SFTP, interval=settings.FETCH_POLL_SECONDS)
