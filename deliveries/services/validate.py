"""Validation: a received delivery is checked against its data area's active contract, and
the report and the outcome are recorded. A valid extract is queued for the push.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.messages import Text, stored_as, text
from deliveries.models import DataContract, Delivery, ValidationIssue
from deliveries.services import PUSH_JOB
from deliveries.services.rule_failures import rule_failures_add
from deliveries.validation import FILE_RULES, ProgressCallback, Report, validate_file
from flisportal.lib.queues import SFTP, enqueue_on_commit
from flisportal.lib.storage import open_stored

logger = logging.getLogger(__name__)


@contextmanager
def local_path(name: str) -> Iterator[Path]:
    """A local path for a stored file: the file itself on disk storage, else a temp copy
    (polars reads from a path) in this process's temp folder, removed when the block ends.

    Only a FileSystemStorage is asked for its path: other storages may answer `path()` with a
    name that is no file on this machine (InMemoryStorage does), or raise NotImplementedError
    (S3)."""
    if isinstance(default_storage, FileSystemStorage):
        yield Path(default_storage.path(name))
        return
    with tempfile.TemporaryDirectory(prefix="flis-delivery-") as folder:
        target = Path(folder) / "extract.csv"
        # Copied from the store in pieces: the copy is on this machine's disk, never whole in
        # its memory.
        with open_stored(name) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        yield target


def delivery_validate(*, delivery_id: int) -> str | None:
    """Claims a received delivery, checks it against its area's active contract and records
    the report and the outcome. Does nothing (returns None) if the delivery is not received."""
    if not delivery_transition(
        delivery_id=delivery_id,
        old=DeliveryStatus.RECEIVED,
        new=DeliveryStatus.VALIDATING,
        message=text("event.validation_started"),
        rows_checked=0,
        progress_percent=0,
        heartbeat_at=timezone.now(),
    ):
        return None
    delivery = Delivery.objects.select_related("kommune", "data_area").get(pk=delivery_id)
    contract = DataContract.objects.active().filter(data_area=delivery.data_area).first()
    if contract is None:
        delivery_transition(
            delivery_id=delivery_id,
            old=DeliveryStatus.VALIDATING,
            new=DeliveryStatus.FAILED,
            message=text("event.no_contract", area=str(delivery.data_area)),
        )
        return DeliveryStatus.FAILED
    Delivery.objects.filter(pk=delivery_id).update(contract=contract)

    last_write = 0.0

    def progress(rows: int, total: int) -> None:
        nonlocal last_write
        now = time.monotonic()
        if now - last_write < 1.0:  # one small UPDATE a second is plenty for a progress bar
            return
        last_write = now
        Delivery.objects.filter(pk=delivery_id).update(
            rows_checked=rows,
            rows_total=total,
            progress_percent=min(99, int(rows * 100 / total)) if total else 0,
            # A sign of life for the reconciler: a long validation is not a stuck one.
            heartbeat_at=timezone.now(),
        )

    try:
        report = stored_file_validate(
            name=delivery.file.name or "",
            contract=contract,
            kommune_code=delivery.kommune.code,
            period=delivery.period,
            progress=progress,
        )
    except Exception as exc:
        # A bug or a vanished file must not leave the delivery "validating" for ever.
        logger.exception("validation of delivery %s failed", delivery_id)
        delivery_transition(
            delivery_id=delivery_id,
            old=DeliveryStatus.VALIDATING,
            new=DeliveryStatus.FAILED,
            message=text("event.validation_crashed", error=type(exc).__name__),
        )
        return DeliveryStatus.FAILED
    return _record_report(delivery, contract, report)


def stored_file_validate(
    *,
    name: str,
    contract: DataContract,
    kommune_code: str,
    period: str,
    progress: ProgressCallback | None = None,
) -> Report:
    """Checks the stored file `name` against `contract` for a kommune and period, with the
    report settings every check uses: a delivery's validation and a check without sending
    (deliveries.services.check) both come here, so both get the same report for the same file.
    Never raises for a bad file; may raise for a vanished one or a bug."""
    with local_path(name) as path:
        return validate_file(
            path,
            contract.document,
            kommune_code=kommune_code,
            period=period,
            max_listed=settings.VALIDATION_MAX_LISTED_ERRORS,
            batch_bytes=settings.VALIDATION_BATCH_BYTES,
            progress=progress,
        )


def issue_fields(report: Report) -> Iterator[dict[str, Any]]:
    """The listed issues as the fields of ValidationIssue rows, in order (`position` is the
    index), cut to the columns' lengths: how a delivery stores its report, and the shape a
    check's report JSON keeps, so one template shows both."""
    for position, issue in enumerate(report.issues):
        yield {
            "position": position,
            "row": issue.row,
            "column": issue.column[:100],
            "value": issue.value[:100],
            "rule": issue.rule,
            "message": issue.message,
            "message_code": issue.code,
            "message_params": issue.params,
        }


def _record_report(delivery: Delivery, contract: DataContract, report: Report) -> str:
    outcome = DeliveryStatus.VALID if report.is_valid else DeliveryStatus.REJECTED
    message: Text
    if report.is_valid:
        message = text("event.valid", version=contract.version, rows=report.rows_checked)
    elif any(issue.rule in FILE_RULES for issue in report.issues):
        first = report.issues[0]
        problem: dict[str, Any] | str = first.message
        if first.code:
            problem = text(first.code, **first.params, value=first.value).as_param()
        message = text("event.rejected_file", problem=problem)
    else:
        message = text(
            "event.rejected",
            version=contract.version,
            errors=report.error_count,
            rows=report.rows_checked,
        )
    issues = [ValidationIssue(delivery=delivery, **fields) for fields in issue_fields(report)]
    with transaction.atomic():
        ValidationIssue.objects.filter(delivery=delivery).delete()
        ValidationIssue.objects.bulk_create(issues)
        moved = delivery_transition(
            delivery_id=delivery.pk,
            old=DeliveryStatus.VALIDATING,
            new=outcome,
            message=message,
            encoding=report.encoding,
            rows_total=report.rows_total,
            rows_checked=report.rows_checked,
            progress_percent=100,
            error_count=report.error_count,
            errors_by_rule=dict(report.by_rule),
            errors_by_column=dict(report.by_column),
            validation_notices=[stored_as("message", notice) for notice in report.notices],
            validated_at=timezone.now(),
            heartbeat_at=None,
        )
        if moved and outcome == DeliveryStatus.REJECTED:
            # Counted in the same transaction as the issues and the status, and only when the
            # delivery did become rejected (a delivery the reconciler took back keeps its issues
            # until it is validated again, and is not rejected): *Udvikling* reads the roll-up.
            rule_failures_add(
                delivery=delivery, rules=((issue.column, issue.rule) for issue in issues)
            )
        if moved and outcome == DeliveryStatus.VALID:
            # A valid extract goes on to the Serviceplatform by itself (DESIGN §2's one-way flow).
            enqueue_on_commit(SFTP, PUSH_JOB, delivery.pk)
    return outcome
