"""Retention of stored extracts (they may hold CPR numbers).

Which files go, and when (docs/operations/retention.md):

- `fetched`: the recipient has the file; deleted DataArea.retention_days (default 90) after
  it was fetched.
- `rejected` (by the validator) and `refused` (by the Serviceplatform): final, the file will
  never be sent; deleted RETENTION_REJECTED_DAYS (default 30) after that state, which leaves
  time to read the report and correct.
- Never: any other state. `failed` can still be retried by an administrator, `distributed`
  can still become `fetched`, and the working states are in use. A file is deleted only in a
  final state.

What is kept: the delivery row (who, when, size, SHA-256), its events, the report summary
(counts per rule and column), the listed issues without the values quoted from the file, and
receipts. Each deletion is an audit row.

The Hent side keeps a copy of every file it fetches (`Receipt.file`, deliveries/fetching.py);
it holds the same personal data, so it goes the same way:

- a good copy (verdict `ok`) DataArea.retention_days after it was fetched, like the delivery;
- a quarantined copy (any other verdict), and any copy whose data area is unknown,
  RETENTION_REJECTED_DAYS after it was fetched, like a rejected delivery: time to look into
  why it failed its checks.

The receipt row stays (with the copy's name, size and SHA-256) and gets `file_deleted_at`; each
deletion is an audit row. The same run sweeps `receipts/` (both trees) for copies no receipt
names — left by a fetch round killed between storing and recording, in a folder the round that
recorded the transfer does not look in — and deletes those older than ORPHAN_MIN_AGE; a younger
one may belong to a round still running. One audit row per run lists them.

The same nightly run also deletes the other personal data that has served its purpose:

- outgoing mails (recipient address, subject, body) that are finished — sent, sent in a
  digest, or given up — RETENTION_MAIL_DAYS (default 180) after their last attempt; mails
  still waiting or being sent are never touched;
- django-axes' records: lockout counters (AccessAttempt) once AXES_COOLOFF_TIME has passed
  since the last failure (from then on they lock nothing), and the login logs (AccessLog,
  AccessFailureLog) RETENTION_LOGIN_LOG_DAYS (default 90) after the login. The audit log
  keeps its own record of every login.

- checks without sending (deliveries.services.check): the report, which quotes values from
  the file, FILE_CHECK_KEEP_HOURS (default 72) after the check was asked for; the file itself
  is deleted as soon as it has been checked, or here with its row if it never was.

- the vendor API's idempotency keys (deliveries.api.models.IdempotencyKey: which person sent
  which key for which delivery) API_IDEMPOTENCY_KEEP_HOURS (default 72) after the key was
  first sent, by that age alone. The setting is at least an hour, so a key whose first request
  is still running (no delivery yet, the API's 409) is never deleted under it; a request
  repeated after its key is gone is a new upload (docs/users/api.md).

Each of these is one audit row per run with the counts (not one per mail, login, check or key).

Batch uploads (Samlet upload) past their `expires_at` (FLISPORTAL_BATCH_KEEP_HOURS after the
upload) are deleted too: the staged files nobody sent, and the rows; the deliveries made from
them are not touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from deliveries.api.models import IdempotencyKey
from deliveries.lifecycle.states import FINAL, TURNED_DOWN, DeliveryStatus
from deliveries.models import Delivery, Receipt, ReceiptVerdict, ValidationIssue
from deliveries.services.batch import upload_batches_expire
from deliveries.services.check import file_checks_purge
from flisportal.audit.services import audit_record
from flisportal.notifications.models import MailStatus, OutgoingMail
from routes.models import DataArea

logger = logging.getLogger(__name__)

# Mails that are done with: neither waiting (digest, pending) nor being sent.
MAIL_FINAL_STATES = (MailStatus.SENT, MailStatus.DIGESTED, MailStatus.FAILED)
# Where the Hent side stores its copies (fetching._storage_name), quarantine tree included.
RECEIPTS_ROOT = "receipts"
# A fetch round stores its copy before it records the receipt: a copy younger than this may
# belong to a round still running and is never swept, however it looks.
ORPHAN_MIN_AGE = timedelta(days=1)
# Names per `file IN (…)` query: a month folder of one recipient holds a few hundred files, so
# this is one query per folder, and stays under every database's parameter limit.
_NAMES_PER_QUERY = 900


@dataclass
class RetentionRound:
    dry_run: bool
    deleted: list[int] = field(default_factory=list)  # delivery ids
    bytes: int = 0
    failed: list[str] = field(default_factory=list)
    receipts: list[int] = field(default_factory=list)  # receipt ids whose copy was deleted
    receipt_bytes: int = 0
    orphans: list[str] = field(default_factory=list)  # storage names no receipt named
    mails: int = 0
    file_checks: int = 0  # checks without sending whose report expired
    login_attempts: int = 0
    login_logs: int = 0
    idempotency_keys: int = 0  # the API's Idempotency-Keys older than their keep hours
    batches: int = 0  # expired batch uploads deleted, staged files and all


def retention_due(*, now: datetime) -> list[Delivery]:
    """Deliveries whose file is due for deletion at `now`. One query for all data areas."""
    rejected_before = now - timedelta(days=settings.RETENTION_REJECTED_DAYS)
    due = Q(status__in=TURNED_DOWN, status_changed_at__lte=rejected_before)
    for area in DataArea.objects.only("pk", "retention_days"):
        due |= Q(
            data_area_id=area.pk,
            status=DeliveryStatus.FETCHED,
            status_changed_at__lte=now - timedelta(days=area.retention_days),
        )
    return list(
        Delivery.objects.filter(due, file_deleted_at__isnull=True)
        .exclude(file="")
        .filter(status__in=FINAL)  # belt and braces: never a delivery that can still move
        .order_by("status_changed_at", "pk")
    )


def _scrub_issues(delivery: Delivery) -> None:
    """Listed issues keep row, column, rule and message, without the file's values; the
    "validation failed" mail, which quoted the first of them, keeps only its subject (and so
    does a digest that carried it)."""
    for issue in ValidationIssue.objects.filter(delivery=delivery).exclude(value=""):
        message = issue.message.replace(issue.value, "…") if issue.value else issue.message
        # The same for the parameters the message is shown from in the reader's language; the
        # value itself is shown as "…" from now on.
        params = {
            name: param.replace(issue.value, "…") if isinstance(param, str) else param
            for name, param in issue.message_params.items()
        }
        if issue.message_code:
            params["value"] = "…"
        ValidationIssue.objects.filter(pk=issue.pk).update(
            value="", message=message, message_params=params
        )
    mails = OutgoingMail.objects.filter(key__startswith=f"validation_failed:{delivery.pk}:")
    digests = [pk for pk in mails.values_list("digest_id", flat=True) if pk is not None]
    OutgoingMail.objects.filter(pk__in=[*mails.values_list("pk", flat=True), *digests]).update(
        body_text=RETAINED_BODY, body_html=""
    )


RETAINED_BODY = "(Indholdet er slettet efter opbevaringsperioden for leverancens fil.)"


def retention_run(*, now: datetime | None = None, dry_run: bool = False) -> RetentionRound:
    """Deletes the stored files that are due; with `dry_run` only says which."""
    now = now or timezone.now()
    result = RetentionRound(dry_run=dry_run)
    for delivery in retention_due(now=now):
        if dry_run or _delete_and_stamp(
            result,
            # The upload and, if it was converted before sending, the copy that was sent.
            names=[name for name in (delivery.file.name, delivery.sent_file.name) if name],
            label=str(delivery.pk),
            stamp=partial(_delivery_stamp, delivery, now=now),
        ):
            result.deleted.append(delivery.pk)
            result.bytes += delivery.size
    receipt_files_delete(result, now=now)
    receipt_orphans_sweep(result, now=now)
    result.mails = mails_purge(now=now, dry_run=dry_run)
    result.file_checks = file_checks_purge(now=now, dry_run=dry_run)
    result.login_attempts, result.login_logs = login_records_purge(now=now, dry_run=dry_run)
    result.idempotency_keys = idempotency_keys_purge(now=now, dry_run=dry_run)
    result.batches = upload_batches_expire(now=now, dry_run=dry_run)
    logger.info(
        "retention: %s files (%s bytes), %s fetched copies (%s bytes), %s orphaned copies, "
        "%s mails, %s checks without sending, %s login attempts, %s login log rows, "
        "%s API idempotency keys, %s expired batch uploads %s",
        len(result.deleted),
        result.bytes,
        len(result.receipts),
        result.receipt_bytes,
        len(result.orphans),
        result.mails,
        result.file_checks,
        result.login_attempts,
        result.login_logs,
        result.idempotency_keys,
        result.batches,
        "would be deleted" if dry_run else "deleted",
    )
    return result


def receipt_files_due(*, now: datetime) -> list[Receipt]:
    """Receipts whose stored copy is due for deletion at `now`. One query for all data areas.

    Good copies go after their data area's retention_days; quarantined ones, and any without
    a known data area, after RETENTION_REJECTED_DAYS (like rejected deliveries)."""
    rejected_before = now - timedelta(days=settings.RETENTION_REJECTED_DAYS)
    due = Q(fetched_at__lte=rejected_before) & (
        ~Q(verdict=ReceiptVerdict.OK) | Q(data_area__isnull=True)
    )
    for area in DataArea.objects.only("pk", "retention_days"):
        due |= Q(
            data_area_id=area.pk,
            verdict=ReceiptVerdict.OK,
            fetched_at__lte=now - timedelta(days=area.retention_days),
        )
    return list(
        Receipt.objects.filter(due, file_deleted_at__isnull=True)
        .exclude(file="")
        .defer("metadata_xml", "verdict_detail")  # up to 20 kB each, not needed here
        .order_by("fetched_at", "pk")
    )


def receipt_files_delete(result: RetentionRound, *, now: datetime) -> None:
    """Deletes the receipts' stored copies that are due (or, with `result.dry_run`, only
    lists them) into `result`: the same steps as for a delivery's file."""
    for receipt in receipt_files_due(now=now):
        if result.dry_run or _delete_and_stamp(
            result,
            names=[receipt.file.name or ""],
            label=f"kvittering {receipt.pk}",
            stamp=partial(_receipt_stamp, receipt, now=now),
        ):
            result.receipts.append(receipt.pk)
            result.receipt_bytes += receipt.size


def _delete_and_stamp(
    result: RetentionRound, *, names: list[str], label: str, stamp: Callable[[], bool]
) -> bool:
    """One stored file's deletion, alike for a delivery's file and a receipt's copy. Storage
    first, outside any transaction (it may be an object store); deleting a file that is already
    gone is a no-op, so a run that dies after it is completed by the next run. Then `stamp()`,
    in one transaction: the claiming update of the row and its audit row. False when the
    storage failed (listed in `result.failed`, tried again next run) or another run stamped the
    row first (and counted it)."""
    try:
        for name in names:
            default_storage.delete(name)
    except Exception as exc:  # storage errors vary by backend; the next run tries again
        logger.exception("retention: could not delete %s", names)
        result.failed.append(f"{label}: {type(exc).__name__}: {exc}")
        return False
    with transaction.atomic():
        return stamp()


def _delivery_stamp(delivery: Delivery, *, now: datetime) -> bool:
    claimed = Delivery.objects.filter(
        pk=delivery.pk, file_deleted_at__isnull=True, status=delivery.status
    ).update(file_deleted_at=now)
    if claimed != 1:
        return False
    _scrub_issues(delivery)
    audit_record(
        action="delivery.file_deleted",
        object_type="deliveries.delivery",
        object_id=delivery.pk,
        object_repr=f"{delivery.uuid} ({delivery.period})",
        before={
            "file": delivery.file.name,
            "size": delivery.size,
            "sha256": delivery.sha256,
            **({"sent_file": delivery.sent_file.name} if delivery.sent_file else {}),
        },
        after={
            "reason": "retention",
            "status": delivery.status,
            "status_changed_at": delivery.status_changed_at,
        },
        actor_label="opbevaring",
        kommune_id=delivery.kommune_id,
        at=now,
    )
    return True


def _receipt_stamp(receipt: Receipt, *, now: datetime) -> bool:
    claimed = Receipt.objects.filter(pk=receipt.pk, file_deleted_at__isnull=True).update(
        file_deleted_at=now
    )
    if claimed != 1:
        return False
    audit_record(
        action="receipt.file_deleted",
        object_type="deliveries.receipt",
        object_id=receipt.pk,
        object_repr=f"{receipt.file_name} ({receipt.filetransfer_uuid})",
        before={"file": receipt.file.name, "size": receipt.size, "sha256": receipt.sha256},
        after={"reason": "retention", "verdict": receipt.verdict, "fetched_at": receipt.fetched_at},
        actor_label="opbevaring",
        kommune_id=receipt.kommune_id,
        at=now,
    )
    return True


def receipt_orphans_sweep(result: RetentionRound, *, now: datetime) -> None:
    """Deletes the stored copies under RECEIPTS_ROOT that no receipt names and that are older
    than ORPHAN_MIN_AGE (with `result.dry_run` only lists them) into `result`.

    Through the storage API only (listdir, get_modified_time, delete), so it works the same on
    a local folder and an object store. Folders are per user and month: each is listed and
    looked up on its own, so neither memory nor a query grows with the whole tree."""
    swept: list[str] = []
    older_than = now - ORPHAN_MIN_AGE
    for folder, names in _storage_folders(RECEIPTS_ROOT):
        for name in _unrecorded(folder, names):
            path = f"{folder}/{name}"
            try:
                if default_storage.get_modified_time(path) > older_than:
                    continue  # perhaps a fetch round that has not recorded it yet
                if not result.dry_run:
                    default_storage.delete(path)
                    logger.info("retention: deleted %s, which no receipt names", path)
            except FileNotFoundError:
                continue  # gone since the listing (the fetcher removes copies it does not keep)
            except Exception as exc:  # as above; an undated copy is never deleted
                logger.exception("retention: could not sweep %s", path)
                result.failed.append(f"{path}: {type(exc).__name__}: {exc}")
                continue
            swept.append(path)
    result.orphans.extend(swept)
    if swept and not result.dry_run:
        audit_record(
            action="receipt.orphans_deleted",
            object_type="deliveries.receipt",
            object_repr=f"{len(swept)} hentede kopier uden kvittering",
            before={"files": swept},
            after={"reason": "retention", "older_than": older_than},
            actor_label="opbevaring",
            at=now,
        )


def _storage_folders(root: str) -> Iterator[tuple[str, list[str]]]:
    """Each folder at or below `root` that holds files, with the names of those files. A root
    that does not exist (nothing fetched yet) yields nothing."""
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            subfolders, names = default_storage.listdir(folder)
        except FileNotFoundError:
            continue
        if names:
            yield folder, sorted(names)
        pending.extend(f"{folder}/{sub}" for sub in sorted(subfolders, reverse=True))


def _unrecorded(folder: str, names: list[str]) -> list[str]:
    """The names in `folder` that no receipt's `file` names."""
    unrecorded = []
    for start in range(0, len(names), _NAMES_PER_QUERY):
        batch = names[start : start + _NAMES_PER_QUERY]
        recorded = set(
            Receipt.objects.filter(file__in=[f"{folder}/{name}" for name in batch]).values_list(
                "file", flat=True
            )
        )
        unrecorded += [name for name in batch if f"{folder}/{name}" not in recorded]
    return unrecorded


def mails_due(*, now: datetime) -> QuerySet[OutgoingMail]:
    """Finished mails whose last attempt (or sending, or creation) is older than
    RETENTION_MAIL_DAYS. Waiting and sending mails are never due."""
    cutoff = now - timedelta(days=settings.RETENTION_MAIL_DAYS)
    return (
        OutgoingMail.objects.filter(status__in=MAIL_FINAL_STATES)
        .alias(last_activity=Coalesce("sent_at", "last_attempt_at", "created_at"))
        .filter(last_activity__lte=cutoff)
    )


def mails_purge(*, now: datetime, dry_run: bool = False) -> int:
    """Deletes the mails that are due; returns how many (or would be, with `dry_run`)."""
    due = mails_due(now=now)
    if dry_run:
        return due.count()
    with transaction.atomic():
        ids = list(due.values_list("pk", flat=True))
        if not ids:
            return 0
        # A digest and its items may go in the same run; the items' link is SET_NULL.
        OutgoingMail.objects.filter(pk__in=ids).delete()
        audit_record(
            action="outgoingmail.deleted",
            object_type="notifications.outgoingmail",
            object_repr=f"{len(ids)} udgående mails",
            before={"count": len(ids), "statuses": list(MAIL_FINAL_STATES)},
            after={
                "reason": "retention",
                "older_than": now - timedelta(days=settings.RETENTION_MAIL_DAYS),
            },
            actor_label="opbevaring",
            at=now,
        )
    return len(ids)


def login_records_purge(*, now: datetime, dry_run: bool = False) -> tuple[int, int]:
    """Deletes django-axes' lockout counters past the cool-off and its login logs past
    RETENTION_LOGIN_LOG_DAYS. Returns (attempts, log rows), or what would go with `dry_run`."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    attempts = AccessAttempt.objects.filter(attempt_time__lte=now - settings.AXES_COOLOFF_TIME)
    log_cutoff = now - timedelta(days=settings.RETENTION_LOGIN_LOG_DAYS)
    logs = [
        AccessLog.objects.filter(attempt_time__lte=log_cutoff),
        AccessFailureLog.objects.filter(attempt_time__lte=log_cutoff),
    ]
    if dry_run:
        return attempts.count(), sum(rows.count() for rows in logs)
    with transaction.atomic():
        attempt_count = attempts.delete()[0]
        log_count = sum(rows.delete()[0] for rows in logs)
        if attempt_count or log_count:
            audit_record(
                action="axes.deleted",
                object_type="axes.accesslog",
                object_repr=f"{attempt_count} loginforsøg, {log_count} loginlogrækker",
                before={"access_attempts": attempt_count, "access_logs": log_count},
                after={"reason": "retention", "logs_older_than": log_cutoff},
                actor_label="opbevaring",
                at=now,
            )
    return attempt_count, log_count


def idempotency_keys_purge(*, now: datetime, dry_run: bool = False) -> int:
    """Deletes the API's idempotency keys first sent more than API_IDEMPOTENCY_KEEP_HOURS
    before `now`; returns how many (or would be, with `dry_run`).

    By creation time only, whether or not the key has its delivery yet: a claim without one
    belongs to a request still running (or one that died, which the API itself takes back
    after STALE_CLAIM), and the setting's minimum of an hour keeps it out of reach of this.
    One delete on the index of `created_at`; the deliveries the keys made are not touched."""
    cutoff = now - timedelta(hours=settings.API_IDEMPOTENCY_KEEP_HOURS)
    due = IdempotencyKey.objects.filter(created_at__lt=cutoff)
    if dry_run:
        return due.count()
    with transaction.atomic():
        count = due.delete()[0]
        if count:
            audit_record(
                action="idempotencykey.deleted",
                object_type="api.idempotencykey",
                object_repr=f"{count} API-idempotensnøgler",
                before={"count": count},
                after={"reason": "retention", "older_than": cutoff},
                actor_label="opbevaring",
                at=now,
            )
    return count
