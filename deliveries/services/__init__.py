"""Delivery workflows, one module each: intake, batch (Samlet upload), validate, push, retry,
technical receipts, reconcile, contracts, expected deliveries, retention and the notifications
they send.

Each is a keyword-only function named `<entity>_<action>` (STYLE.md). Jobs are enqueued by
their dotted name, so no service imports a job module.
"""

# The jobs the services put on the queues, by dotted name (tests/deliveries check they resolve).
VALIDATE_JOB = "deliveries.jobs.validate_delivery"
PUSH_JOB = "deliveries.jobs.push_delivery"
CHECK_JOB = "deliveries.jobs.check_file"
# A batch's «Send»: every ready file of a Samlet upload through intake (queue `default`).
BATCH_SEND_JOB = "deliveries.jobs.send_upload_batch"
# The extra, coalesced rounds of adaptive polling (deliveries/services/soon.py).
RECEIPT_ROUND_JOB = "deliveries.jobs.collect_receipts_soon"
FETCH_ROUND_JOB = "deliveries.jobs.fetch_receipts_soon"
