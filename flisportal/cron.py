"""Periodic jobs for RQ's cron scheduler (`manage.py rqcron flisportal.cron`).

Each feature registers its own job here, with an interval from the settings and a Danish
label for people. `JOBS` keeps what was registered, for the Driftsstatus page
(flisportal/front/health.py), which shows the labels and can put a job on its queue at once:
RQ's own list is emptied when a scheduler loads this module.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from redis import Redis
from rq import cron
from rq.cron import CronJob
from rq.job import Job

from deliveries import jobs as delivery_jobs
from flisportal import jobs
from flisportal.audit import jobs as audit_jobs
from flisportal.lib import queues
from flisportal.notifications import jobs as notification_jobs
from routes import jobs as route_jobs

JOBS: list[dict[str, Any]] = []
# Job name (the function's dotted path, RQ's name for it) → its Danish label.
LABELS: dict[str, Promise] = {}


def register(func: Callable[..., Any], queue_name: str, *, label: Promise, **options: Any) -> None:
    JOBS.append(cron.register(func, queue_name, **options))
    LABELS[f"{func.__module__}.{func.__name__}"] = label


def label_of(name: str) -> str:
    """The Danish label of a registered job, by RQ's name for it."""
    return str(LABELS.get(name, name.rsplit(".", 1)[-1]))


def enqueue_now(name: str, *, connection: Redis) -> Job | None:
    """Puts a registered job on its queue now, outside its schedule, as the scheduler would
    (same queue, timeouts and history): Driftsstatus then shows the run like a scheduled one.
    None when no job has that name."""
    for data in JOBS:
        job = CronJob(**data)
        if job.name == name:
            return job.enqueue(connection)
    return None


# Nightly, when nobody is uploading.
register(
    jobs.clear_expired_sessions, queues.DEFAULT, cron="15 3 * * *", label=_("Ryd udløbne sessioner")
)

# Technical receipts of sent deliveries (docs/design/push-and-receipts.md). On the sftp queue
# with the pushes: both are network-bound, and a worker busy with one large push does not hold it up
# when more than one worker serves that queue.
register(
    delivery_jobs.collect_receipts,
    queues.SFTP,
    label=_("Hent kvitteringer"),
    interval=settings.RECEIPT_POLL_SECONDS,
    job_timeout=max(600, settings.RECEIPT_POLL_SECONDS),
)
# Work lost to a killed worker or a flushed Redis is found and enqueued again. On the default
# queue: it only touches the database and Redis, and must not wait behind long pushes.
register(
    delivery_jobs.reconcile_deliveries,
    queues.DEFAULT,
    label=_("Genoptag fastlåst arbejde"),
    interval=settings.RECONCILE_INTERVAL_SECONDS,
    job_timeout=300,
)
# Expected deliveries: owed periods created and marked due soon / overdue / met. Database only.
register(
    delivery_jobs.scan_expected_deliveries,
    queues.DEFAULT,
    label=_("Opdatér forventede leverancer"),
    interval=settings.EXPECTED_SCAN_SECONDS,
    job_timeout=600,
)
# The daily digest of mails for people who chose it, and administrators' SSH-key warnings.
register(
    notification_jobs.send_digests,
    queues.DEFAULT,
    cron=settings.DIGEST_CRON,
    label=_("Send daglige sammendrag"),
)
register(
    route_jobs.warn_expiring_keys,
    queues.DEFAULT,
    cron="30 6 * * *",
    label=_("Advar om udløbende SSH-nøgler"),
)
# Routes waiting too long in "bestilt": one mail to administrators when one reaches a reminder
# step (routes/notify.py). Daily, before the working day.
register(
    route_jobs.remind_routes_waiting,
    queues.DEFAULT,
    cron="35 6 * * *",
    label=_("Påmind om ruter, der venter i «bestilt»"),
)
# Mails whose send job was lost (flushed Redis, dead worker) are queued again.
register(
    notification_jobs.requeue_mails,
    queues.DEFAULT,
    interval=settings.MAIL_REQUEUE_SECONDS,
    label=_("Send tabte mails igen"),
)
# The audit log's hash chain, verified nightly; a break mails administrators.
register(
    audit_jobs.verify_audit_chain,
    queues.DEFAULT,
    cron=settings.AUDIT_VERIFY_CRON,
    label=_("Kontrollér revisionsloggen"),
)
# Each day's head of the chain copied out of the database (log stream and heads file), so rows
# cut off the end, checkpoint and all, are found against it.
register(
    audit_jobs.export_audit_head,
    queues.DEFAULT,
    cron=settings.AUDIT_HEAD_EXPORT_CRON,
    label=_("Eksportér revisionslogens hoved"),
)
# Failed logins repeated within a lockout window: their count, one audit row per address and
# user name once the window has closed (one row per failure would let an attacker fill the log).
register(
    audit_jobs.summarise_login_failures,
    queues.DEFAULT,
    label=_("Opsummér mislykkede logins"),
    interval=int(settings.AXES_COOLOFF_TIME.total_seconds()),
)
# Retention: stored extracts deleted in their final state after the retention period, and the
# Hent side's copies of fetched files (and copies no receipt names).
register(
    delivery_jobs.apply_retention,
    queues.DEFAULT,
    cron=settings.RETENTION_CRON,
    label=_("Slet efter opbevaringsperioden"),
)

# Hent side: fetch what the Serviceplatform has put in the recipients' IN/ folders.
register(
    delivery_jobs.fetch_all_recipients,
    queues.SFTP,
    interval=settings.FETCH_POLL_SECONDS,
    label=_("Hent filer"),
)
