"""Periodic jobs for RQ's cron scheduler (`manage.py rqcron flisportal.cron`).

Each feature registers its own job here, with an interval from the settings. `JOBS` keeps
what was registered, for the Driftsstatus page (flisportal/front/health.py): RQ's own list is
emptied when a scheduler loads this module.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from rq import cron

from deliveries import jobs as delivery_jobs
from flisportal import jobs
from flisportal.audit import jobs as audit_jobs
from flisportal.lib import queues
from flisportal.notifications import jobs as notification_jobs
from routes import jobs as route_jobs

JOBS: list[dict[str, Any]] = []


def register(func: Callable[..., Any], queue_name: str, **options: Any) -> None:
    JOBS.append(cron.register(func, queue_name, **options))


# Nightly, when nobody is uploading.
register(jobs.clear_expired_sessions, queues.DEFAULT, cron="15 3 * * *")

# Technical receipts of sent deliveries (docs/design/push-and-receipts.md). On the sftp queue
# with the pushes: both are network-bound, and a worker busy with one large push does not hold it up
# when more than one worker serves that queue.
register(
    delivery_jobs.collect_receipts,
    queues.SFTP,
    interval=settings.RECEIPT_POLL_SECONDS,
    job_timeout=max(600, settings.RECEIPT_POLL_SECONDS),
)
# Work lost to a killed worker or a flushed Redis is found and enqueued again. On the default
# queue: it only touches the database and Redis, and must not wait behind long pushes.
register(
    delivery_jobs.reconcile_deliveries,
    queues.DEFAULT,
    interval=settings.RECONCILE_INTERVAL_SECONDS,
    job_timeout=300,
)
# Expected deliveries: owed periods created and marked due soon / overdue / met. Database only.
register(
    delivery_jobs.scan_expected_deliveries,
    queues.DEFAULT,
    interval=settings.EXPECTED_SCAN_SECONDS,
    job_timeout=600,
)
# The daily digest of mails for people who chose it, and administrators' SSH-key warnings.
register(notification_jobs.send_digests, queues.DEFAULT, cron=settings.DIGEST_CRON)
register(route_jobs.warn_expiring_keys, queues.DEFAULT, cron="30 6 * * *")
# Mails whose send job was lost (flushed Redis, dead worker) are queued again.
register(notification_jobs.requeue_mails, queues.DEFAULT, interval=settings.MAIL_REQUEUE_SECONDS)
# The audit log's hash chain, verified nightly; a break mails administrators.
register(audit_jobs.verify_audit_chain, queues.DEFAULT, cron=settings.AUDIT_VERIFY_CRON)
# Each day's head of the chain copied out of the database (log stream and heads file), so rows
# cut off the end, checkpoint and all, are found against it.
register(audit_jobs.export_audit_head, queues.DEFAULT, cron=settings.AUDIT_HEAD_EXPORT_CRON)
# Failed logins repeated within a lockout window: their count, one audit row per address and
# user name once the window has closed (one row per failure would let an attacker fill the log).
register(
    audit_jobs.summarise_login_failures,
    queues.DEFAULT,
    interval=int(settings.AXES_COOLOFF_TIME.total_seconds()),
)
# Retention: stored extracts deleted in their final state after the retention period, and the
# Hent side's copies of fetched files (and copies no receipt names).
register(delivery_jobs.apply_retention, queues.DEFAULT, cron=settings.RETENTION_CRON)

# Hent side: fetch what the Serviceplatform has put in the recipients' IN/ folders.
register(delivery_jobs.fetch_all_recipients, queues.SFTP, interval=settings.FETCH_POLL_SECONDS)
