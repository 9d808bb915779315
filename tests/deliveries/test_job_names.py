"""Services name the jobs they enqueue by dotted path, so that no service imports a job module
(the import-linter contract in pyproject.toml). Each name must still lead to its job."""

from __future__ import annotations

from rq.utils import import_attribute

from deliveries import jobs as delivery_jobs
from deliveries.services import (
    BATCH_SEND_JOB,
    CHECK_JOB,
    FETCH_ROUND_JOB,
    PUSH_JOB,
    RECEIPT_ROUND_JOB,
    VALIDATE_JOB,
)
from flisportal.notifications import jobs as notification_jobs
from flisportal.notifications.services import SEND_MAIL_JOB


def test_every_job_name_a_service_enqueues_is_the_job_it_means():
    assert import_attribute(VALIDATE_JOB) is delivery_jobs.validate_delivery
    assert import_attribute(PUSH_JOB) is delivery_jobs.push_delivery
    assert import_attribute(CHECK_JOB) is delivery_jobs.check_file
    assert import_attribute(BATCH_SEND_JOB) is delivery_jobs.send_upload_batch
    assert import_attribute(RECEIPT_ROUND_JOB) is delivery_jobs.collect_receipts_soon
    assert import_attribute(FETCH_ROUND_JOB) is delivery_jobs.fetch_receipts_soon
    assert import_attribute(SEND_MAIL_JOB) is notification_jobs.send_mail
