"""RQ jobs of the deliveries app. Each takes an id and calls one service."""

from __future__ import annotations


def validate_delivery(delivery_id: int) -> str | None:
    """Validates one delivery; a delivery that is no longer `received` is left alone, so a
    job that runs twice (a retry, a re-enqueue by the reconciler) does nothing the second time.
    """
    from deliveries.services import delivery_validate  # services import this module

    return delivery_validate(delivery_id=delivery_id)


def fetch_receipts(sftp_user_id: int) -> dict[str, object]:
    """One Hent-side fetch round for one recipient SFTP user (deliveries/fetching.py)."""
    from dataclasses import asdict

    from deliveries.fetching import receipts_fetch

    return asdict(receipts_fetch(sftp_user_id=sftp_user_id))


def fetch_all_recipients() -> list[int]:
    """The periodic job (RQ cron, every FETCH_POLL_SECONDS): one fetch job per recipient SFTP
    user with an active key. A user whose previous round is still queued or running is
    skipped, so a slow server never piles up rounds. Returns the ids enqueued."""
    import django_rq
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    from deliveries.fetching import recipients_to_fetch
    from flisportal.queues import SFTP

    queue = django_rq.get_queue(SFTP)
    enqueued = []
    for sftp_user_id in recipients_to_fetch():
        job_id = f"fetch-receipts-{sftp_user_id}"
        try:
            status = Job.fetch(job_id, connection=queue.connection).get_status()
        except NoSuchJobError:
            status = None
        if status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED):
            continue
        queue.enqueue(fetch_receipts, sftp_user_id, job_id=job_id)
        enqueued.append(sftp_user_id)
    return enqueued
