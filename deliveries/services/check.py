"""Checking a file without sending it: the contract's report for an extract that does not
become a delivery.

`delivery_check` is the one entry point, as `delivery_upload` is for deliveries: the upload
page's «Kontrollér uden at sende», and a batch or an API the same way, with the same domain
values. It refuses exactly what an upload refuses up to validation — the file as received
(type, size, zip) is checked by the caller with `deliveries.uploads.prepare_upload`, the route
and the period here with intake's own `route_and_period_check` — and then stores the file and
a `FileCheck` row and queues the check. The rules that only concern a delivery do not apply: a
check replaces nothing, and the same-file rule neither counts checks nor refuses a file that
was delivered before (checking it again is harmless).

Why a queue and not the request: a delivery's validation runs in a worker on the `validation`
queue, and an extract may be up to 2 GB; a check of the same file must not hold a web worker
for minutes. So it is the same job queue, the same validator (`stored_file_validate`) and the
same report, only recorded on the check instead of a delivery and never followed by a push.

Why the file is deleted once checked: the report is what the vendor came for, and the file
holds personal data that has no reason to stay; «Send denne fil» on the result page is a new
upload of the same file, which then goes through every rule of a delivery. The report (it
quotes values from the file) is kept FILE_CHECK_KEEP_HOURS and then deleted by the nightly
retention run (`file_checks_purge`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deliveries.messages import Text, stored_as, text
from deliveries.models import DataContract, FileCheck, FileCheckStatus, file_check_upload_to
from deliveries.services import CHECK_JOB
from deliveries.services.intake import IncomingFile, LocalFile, route_and_period_check
from deliveries.services.validate import issue_fields, stored_file_validate
from deliveries.validation import Report
from flisportal.audit.services import audit_record
from flisportal.lib.queues import VALIDATION, enqueue_on_commit
from routes.models import Route, User

logger = logging.getLogger(__name__)

# Seconds between two signs of life a worker writes while it checks a file (heartbeat_at):
# short next to RECONCILE_STUCK_MINUTES, and one small UPDATE now and then on a large file.
HEARTBEAT_SECONDS = 10


def check_job_id(check_id: int) -> str:
    """The RQ id of a check's job: known in advance, so the reconciler can ask Redis whether
    the job is still there (`flisportal.lib.queues.job_on_its_way`) instead of guessing."""
    return f"file-check-{check_id}"


def file_check_enqueue(*, check_id: int) -> None:
    """Queues the check's job on the validation queue when the transaction commits (at once
    outside one). Enqueued twice, the second job finds nothing to claim."""
    enqueue_on_commit(VALIDATION, CHECK_JOB, check_id, job_id=check_job_id(check_id))


def delivery_check(*, user: User, incoming: IncomingFile, route: Route, period: str) -> FileCheck:
    """Checks that `user` may hand in a file for `route` and `period` (the same rules as an
    upload, `route_and_period_check`), stores the file and a FileCheck, and queues the check
    on the validation queue when the transaction commits. Raises IntakeRefused, with nothing
    stored, when a rule says no. Like intake, it takes the file over: it is moved into storage
    or deleted, whatever the outcome."""
    try:
        route_and_period_check(user=user, route=route, period=period)
        return _file_check_create(user=user, incoming=incoming, route=route, period=period)
    finally:
        incoming.path.unlink(missing_ok=True)


def _file_check_create(
    *, user: User, incoming: IncomingFile, route: Route, period: str
) -> FileCheck:
    """Stores the file, then records the row in a short transaction (no storage I/O inside
    it, as in intake); the stored file is removed again if the row cannot be written."""
    now = timezone.now()
    check = FileCheck(
        user=user,
        route=route,
        period=period,
        original_filename=incoming.original_name[:255],
        size=incoming.size,
        sha256=incoming.sha256,
        created_at=now,
        expires_at=now + timedelta(hours=settings.FILE_CHECK_KEEP_HOURS),
    )
    content = LocalFile(incoming.path)
    try:
        stored_name = default_storage.save(file_check_upload_to(check, ""), content)
    finally:
        content.close()
    check.file.name = stored_name
    try:
        with transaction.atomic():
            check.save()
            file_check_enqueue(check_id=check.pk)
    except Exception:
        default_storage.delete(stored_name)
        raise
    return check


def file_check_run(*, check_id: int) -> str | None:
    """Checks the stored file of a queued check against its data area's active contract,
    records the report and deletes the file. Returns the outcome; None when the check is not
    waiting (already run by a duplicate job, or expired and deleted)."""
    # Claimed with a conditional update, like a delivery's validation: of two jobs for the
    # same check, one runs it and the other finds nothing to do.
    if not FileCheck.objects.filter(
        pk=check_id, status=FileCheckStatus.CHECKING, started_at__isnull=True
    ).update(started_at=timezone.now()):
        return None
    check = FileCheck.objects.select_related("route__kommune", "route__data_area").get(pk=check_id)
    name = check.file.name or ""
    try:
        return _checked(check, name)
    finally:
        # Checked or not, the file has served its purpose (module docstring).
        if name:
            default_storage.delete(name)
        FileCheck.objects.filter(pk=check_id).update(file="")


def _checked(check: FileCheck, name: str) -> str:
    area = check.route.data_area
    contract = DataContract.objects.active().filter(data_area=area).first()
    if contract is None:
        return _record_problem(check, text("event.no_contract", area=str(area)))
    try:
        report = stored_file_validate(
            name=name,
            contract=contract,
            kommune_code=check.route.kommune.code,
            period=check.period,
            progress=_heartbeat(check.pk),
        )
    except Exception as exc:
        # A bug or a vanished file must not leave the check "kontrolleres" until it expires.
        logger.exception("file check %s failed", check.pk)
        return _record_problem(check, text("check.crashed", error=type(exc).__name__))
    outcome = FileCheckStatus.VALID if report.is_valid else FileCheckStatus.INVALID
    FileCheck.objects.filter(pk=check.pk).update(
        status=outcome,
        contract=contract,
        report=file_check_report(report, contract=contract),
        checked_at=timezone.now(),
    )
    return outcome


def _heartbeat(check_id: int) -> Callable[[int, int], None]:
    """The validator's progress callback for a check: a sign of life every HEARTBEAT_SECONDS,
    so a check of a large file that runs longer than RECONCILE_STUCK_MINUTES is not taken for
    one whose worker died. (A check has no progress bar: rows are not written.)"""
    last_write = time.monotonic()

    def beat(rows: int, total: int) -> None:
        nonlocal last_write
        if time.monotonic() - last_write < HEARTBEAT_SECONDS:
            return
        last_write = time.monotonic()
        FileCheck.objects.filter(pk=check_id, status=FileCheckStatus.CHECKING).update(
            heartbeat_at=timezone.now()
        )

    return beat


def file_check_report(report: Report, *, contract: DataContract) -> dict[str, Any]:
    """The report as a check keeps it: what a delivery keeps in its counting columns, under
    the same names, and the listed issues as the fields of its ValidationIssue rows."""
    return {
        "contract_version": contract.version,
        "encoding": report.encoding,
        "rows_total": report.rows_total,
        "rows_checked": report.rows_checked,
        "error_count": report.error_count,
        "errors_by_rule": dict(report.by_rule),
        "errors_by_column": dict(report.by_column),
        "issues": list(issue_fields(report)),
        "notices": [stored_as("message", notice) for notice in report.notices],
    }


def _record_problem(check: FileCheck, said: Text) -> str:
    file_check_fail(check_id=check.pk, said=said)
    return FileCheckStatus.FAILED


def file_check_fail(*, check_id: int, said: Text, where: Q | None = None) -> bool:
    """Records that the check could not be run, with `said` as its problem, if it is still
    being checked (and matches `where`, the caller's own condition); True when it was."""
    return bool(
        FileCheck.objects.filter(where or Q(), pk=check_id, status=FileCheckStatus.CHECKING).update(
            status=FileCheckStatus.FAILED,
            report=stored_as("problem", said),
            checked_at=timezone.now(),
            file="",
        )
    )


def file_checks_purge(*, now: datetime, dry_run: bool = False) -> int:
    """Deletes the checks whose report has expired (FILE_CHECK_KEEP_HOURS), with any file a
    check that never ran still has; returns how many (or would be, with `dry_run`). Called by
    the nightly retention run; one audit row per run with the count."""
    expired = FileCheck.objects.expired(now=now)
    if dry_run:
        return expired.count()
    rows = list(expired.values_list("pk", "file"))
    if not rows:
        return 0
    for _pk, name in rows:
        if name:
            default_storage.delete(name)
    with transaction.atomic():
        FileCheck.objects.filter(pk__in=[pk for pk, _name in rows]).delete()
        audit_record(
            action="filecheck.deleted",
            object_type="deliveries.filecheck",
            object_repr=f"{len(rows)} kontroller uden afsendelse",
            before={"count": len(rows)},
            after={"reason": "retention", "expired_by": now},
            actor_label="opbevaring",
            at=now,
        )
    return len(rows)
