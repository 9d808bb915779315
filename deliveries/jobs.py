"""RQ jobs of the deliveries app. Each takes an id (or nothing, for a sweep) and calls one
service. The services enqueue these by dotted name (deliveries.services.PUSH_JOB …), so this
module imports them and not the other way round."""

from __future__ import annotations

from dataclasses import asdict

import django_rq

from deliveries.hent.fetcher import receipts_fetch, receipts_fetch_soon, recipients_to_fetch
from deliveries.services.batch import upload_batch_send
from deliveries.services.check import file_check_run
from deliveries.services.expected import expected_deliveries_scan
from deliveries.services.push import delivery_push
from deliveries.services.reconcile import deliveries_reconcile
from deliveries.services.retention import retention_run
from deliveries.services.technical_receipts import receipts_collect, receipts_collect_soon
from deliveries.services.validate import delivery_validate
from flisportal.lib.queues import SFTP, job_on_its_way


def validate_delivery(delivery_id: int) -> str | None:
    """Validates one delivery; a delivery that is no longer `received` is left alone, so a
    job that runs twice (a retry, a re-enqueue by the reconciler) does nothing the second time.
    """
    return delivery_validate(delivery_id=delivery_id)


def send_upload_batch(batch_id: int, token: str) -> tuple[int, int] | None:
    """A batch's «Send» (queue `default`): its ready files through intake, one by one. Runs
    only while the batch's claim is `token`, so a duplicate job does nothing."""
    return upload_batch_send(batch_id=batch_id, token=token)


def check_file(check_id: int) -> str | None:
    """Checks one file without sending it (queue `validation`, like a delivery's validation);
    a check that is no longer waiting is left alone, so a duplicate job does nothing."""
    return file_check_run(check_id=check_id)


def push_delivery(delivery_id: int) -> str | None:
    """Pushes one valid delivery to the Serviceplatform (queue `sftp`); a delivery that is no
    longer `valid` is left alone, so a duplicate job does nothing."""
    return delivery_push(delivery_id=delivery_id)


def collect_receipts() -> dict[str, object]:
    """RQ cron (every RECEIPT_POLL_SECONDS): records the technical receipts of sent deliveries.
    A sweep over all senders, so it takes no id."""
    return vars(receipts_collect())


def collect_receipts_soon(sftp_user_id: int) -> dict[str, object]:
    """An extra receipt round for one sender SFTP user, soon after a push (adaptive polling,
    deliveries/services/soon.py); coalesced, so a burst of pushes makes one."""
    return vars(receipts_collect_soon(sftp_user_id=sftp_user_id))


def fetch_receipts_soon(sftp_user_id: int) -> dict[str, object] | None:
    """An extra fetch round for one recipient SFTP user, soon after a delivery to it was
    distributed (adaptive polling); None when it waited for the login bound."""
    summary = receipts_fetch_soon(sftp_user_id=sftp_user_id)
    return asdict(summary) if summary is not None else None


def reconcile_deliveries() -> dict[str, object]:
    """RQ cron (every RECONCILE_INTERVAL_SECONDS): re-enqueues lost work, flags late receipts."""
    return vars(deliveries_reconcile())


def scan_expected_deliveries() -> dict[str, object]:
    """RQ cron (every EXPECTED_SCAN_SECONDS): owed periods created, marked due soon / overdue /
    met. A sweep, so it takes no id."""
    return vars(expected_deliveries_scan())


def apply_retention() -> dict[str, object]:
    """RQ cron (nightly, RETENTION_CRON): deletes stored extracts and fetched copies past their
    retention, and copies no receipt names."""
    return vars(retention_run())


def fetch_receipts(sftp_user_id: int) -> dict[str, object]:
    """One Hent-side fetch round for one recipient SFTP user (deliveries/hent/fetcher.py)."""
    return asdict(receipts_fetch(sftp_user_id=sftp_user_id))


def fetch_all_recipients() -> list[int]:
    """The periodic job (RQ cron, every FETCH_POLL_SECONDS): one fetch job per recipient SFTP
    user with an active key. A user whose previous round is still queued or running is
    skipped, so a slow server never piles up rounds. Returns the ids enqueued."""
    queue = django_rq.get_queue(SFTP)
    enqueued = []
    for sftp_user_id in recipients_to_fetch():
        job_id = f"fetch-receipts-{sftp_user_id}"
        if job_on_its_way(SFTP, job_id):
            continue
        queue.enqueue(fetch_receipts, sftp_user_id, job_id=job_id)
        enqueued.append(sftp_user_id)
    return enqueued
