"""Samlet upload: many extracts staged at once, checked on a preview, then each sent through
intake as its own delivery.

The lifecycle of a batch (docs/design/batch-upload.md):

1. `upload_batch_stage`: the files the web layer received and unpacked (each an `IncomingFile`,
   or the reason it could not be taken) are moved into the batch's own folder under
   BATCH_STAGING_DIR and recorded as `UploadBatchFile` rows with what `deliveries.detection`
   found. Nothing is a delivery yet.
2. The user fixes rows on the preview (`upload_batch_file_change`) or drops them
   (`upload_batch_file_drop`); a staged file is never deleted by either.
3. «Send» (`upload_batch_send_start`) claims the batch and enqueues one job; the job
   (`upload_batch_send`) sends each kept row with a route and a period through
   `delivery_upload`, the one way a delivery is made, independently of the others: a refusal
   is stored on its row and the next row is sent all the same. Intake takes over a hard link
   (or copy) of the staged file, so a refused row keeps its file for another try; the staged
   file goes once its delivery exists.
4. `upload_batches_expire` (the nightly retention run): a batch past `expires_at` is deleted,
   rows and folder, whatever state it is in; its deliveries stay.

The send runs in a worker, not in the request: intake moves each file into storage (with S3, an
upload to the object store), and a batch of 98 kommuner's large files takes minutes, past any
web worker's timeout. Validation and push are then the workers' as for any upload.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Exists, F, OuterRef, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from deliveries.detection import Detector, Problem
from deliveries.models import Delivery, UploadBatch, UploadBatchFile
from deliveries.services import BATCH_SEND_JOB
from deliveries.services.intake import IncomingFile, IntakeRefused, delivery_upload
from flisportal.audit.services import audit_record
from flisportal.lib.queues import DEFAULT, QueueUnavailable, enqueue_now
from routes.models import Endpoint, Route, User

logger = logging.getLogger(__name__)

# Problems the user settles by choosing a route (which names the kommune and area too).
ROUTE_PROBLEMS = frozenset(
    {
        Problem.NO_AREA,
        Problem.AMBIGUOUS_AREA,
        Problem.NO_KOMMUNE,
        Problem.MANY_KOMMUNER,
        Problem.NO_ROUTE,
        Problem.MANY_ROUTES,
        Problem.UNREADABLE,
    }
)
PERIOD_PROBLEMS = frozenset({Problem.NO_PERIOD, Problem.MANY_PERIODS})


@dataclass(frozen=True)
class Received:
    """One file as the web layer received it: the CSV, or why it could not be taken."""

    name: str
    file: IncomingFile | None = None
    refusal: str = ""


def staging_folder(batch: UploadBatch) -> Path:
    return Path(settings.BATCH_STAGING_DIR) / str(batch.uuid)


def staged_path(row: UploadBatchFile) -> Path:
    return staging_folder(row.batch) / row.staged_name


def upload_batch_stage(
    *, user: User, received: list[Received], endpoint: Endpoint | None = None
) -> UploadBatch:
    """Records a batch with one row per received file, each file moved into the batch's
    folder and detected (`deliveries.detection`). Takes the files over: whatever happens,
    none is left in the temp folder."""
    now = timezone.now()
    detector = Detector(user, endpoint=endpoint)
    try:
        batch = UploadBatch.objects.create(
            uploaded_by=user,
            created_at=now,
            expires_at=now + timedelta(hours=settings.BATCH_KEEP_HOURS),
        )
        folder = staging_folder(batch)
        folder.mkdir(parents=True, mode=0o700)
        rows = [
            _staged_row(batch, folder, position, item, detector)
            for position, item in enumerate(received, start=1)
        ]
        UploadBatchFile.objects.bulk_create(rows)
    finally:
        for item in received:
            if item.file is not None:
                item.file.path.unlink(missing_ok=True)
    return batch


def _staged_row(
    batch: UploadBatch, folder: Path, position: int, item: Received, detector: Detector
) -> UploadBatchFile:
    row = UploadBatchFile(batch=batch, position=position, original_name=item.name[:255])
    if item.file is None:
        row.refusal = item.refusal
        return row
    row.staged_name = f"{position:04d}.csv"
    target = folder / row.staged_name
    shutil.move(str(item.file.path), target)
    row.size, row.sha256 = item.file.size, item.file.sha256
    found = detector.detect(target, item.name)
    row.kommune, row.data_area, row.period = found.kommune, found.data_area, found.period
    row.route = found.route
    row.problems = [str(p) for p in found.problems]
    return row


def _unless_sending(row: UploadBatchFile) -> QuerySet[UploadBatchFile]:
    """The row, as long as no send of its batch is under way (one whose job has gone quiet
    for RECONCILE_STUCK_MINUTES no longer counts). A change is one conditional UPDATE on this,
    so it cannot slip in between a send's claim and the job reading the row: the job would
    send the file on the old route while the page showed the new one."""
    return UploadBatchFile.objects.filter(
        UploadBatch.free_q(timezone.now(), prefix="batch__"), pk=row.pk
    )


def upload_batch_file_change(
    *, row: UploadBatchFile, route: Route, period: str, redelivery_confirmed: bool
) -> None:
    """The user's choice for a row of the preview: the route (and with it the kommune and
    area) and the period replace what detection found, and its problems with them. `route` is
    one the user may deliver on: the form offers no other. Raises BatchSendRunning while the
    batch is being sent."""
    changed = _unless_sending(row).update(
        route=route,
        kommune_id=route.kommune_id,
        data_area_id=route.data_area_id,
        period=period,
        redelivery_confirmed=redelivery_confirmed,
        problems=[],
        refusal="",
        dropped=False,
    )
    if not changed:
        raise BatchSendRunning
    row.refresh_from_db()


def upload_batch_file_drop(*, row: UploadBatchFile, dropped: bool) -> None:
    """Leaves a row out of the batch (or takes it back in); the staged file stays until the
    batch expires, so a row dropped by mistake is not lost. Raises BatchSendRunning while the
    batch is being sent."""
    if not _unless_sending(row).update(dropped=dropped):
        raise BatchSendRunning
    row.dropped = dropped


# A batch's send is one job however many files: 98 kommuner's files of a few hundred MB each,
# stored (with S3, uploaded) one after the other, take minutes. Past this RQ kills the job; the
# claim then goes stale and the user may send the rest again.
BATCH_SEND_TIMEOUT_SECONDS = 6 * 3600


class BatchSendRunning(Exception):
    """A send of the batch is already under way (a double click, a second tab)."""


def upload_batch_send_start(*, batch: UploadBatch, now: datetime | None = None) -> None:
    """«Send»: claims the batch for one send and puts the job that sends its files
    (`upload_batch_send`) on the `default` queue, so the request returns at once.

    The claim is a conditional update: of two POSTs at the same moment one changes the row and
    enqueues, the other raises BatchSendRunning. A claim whose job has not been heard from for
    RECONCILE_STUCK_MINUTES (a killed worker) may be taken over. Redis not taking the job
    raises QueueUnavailable after the claim is released: the batch is as it was and «Send» may
    be pressed again. Called outside a transaction, so the claim is committed before a worker
    can start the job."""
    now = now or timezone.now()
    token = uuid.uuid4()
    claimed = UploadBatch.objects.filter(UploadBatch.free_q(now), pk=batch.pk).update(
        sending_token=token, sending_seen_at=now
    )
    if not claimed:
        raise BatchSendRunning
    try:
        enqueue_now(
            DEFAULT,
            BATCH_SEND_JOB,
            batch.pk,
            str(token),
            job_timeout=BATCH_SEND_TIMEOUT_SECONDS,
        )
    except QueueUnavailable:
        UploadBatch.objects.filter(pk=batch.pk, sending_token=token).update(
            sending_token=None, sending_seen_at=None
        )
        raise


def upload_batch_send(*, batch_id: int, token: str) -> tuple[int, int] | None:
    """The job of a «Send»: every kept row with a route and a period goes through intake, one
    after the other and each on its own: a refused row records why and keeps its file, and
    the others go on. Each row is committed as it is done, so the progress page sees it, and
    a worker killed half-way leaves the rows it sent sent.

    Runs only while the batch's claim is `token`: after each row the claim is touched (with
    the counts); if it is no longer ours (the user took over a stalled send) this job stops.
    Returns how many became deliveries and how many were refused, or None when the claim was
    not ours to begin with."""
    claim = UploadBatch.objects.filter(pk=batch_id, sending_token=uuid.UUID(token))
    if not claim.update(
        sending_seen_at=timezone.now(), sent_made=0, sent_refused=0, sent_finished_at=None
    ):
        return None
    batch = UploadBatch.objects.select_related("uploaded_by").get(pk=batch_id)
    made = refused = 0
    rows = batch.files.select_related(
        "batch", "route__kommune", "route__endpoint", "route__sender_system"
    )
    for row in rows.filter(delivery__isnull=True, dropped=False).exclude(staged_name=""):
        if row.route is None or not row.period:
            continue  # the preview says what is missing; nothing to send yet
        outcome = _send_row(row, batch.uploaded_by, uuid.UUID(token))
        made += int(outcome == "made")
        refused += int(outcome == "refused")
        if not claim.update(
            sending_seen_at=timezone.now(),
            sent_made=F("sent_made") + int(outcome == "made"),
            sent_refused=F("sent_refused") + int(outcome == "refused"),
        ):
            logger.info("batch %s: another send took over; this one stops", batch_id)
            return made, refused
    now = timezone.now()
    claim.update(
        sending_token=None,
        sending_seen_at=None,
        sent_finished_at=now,
        confirmed_at=Coalesce("confirmed_at", Value(now)),
    )
    return made, refused


def _send_row(row: UploadBatchFile, user: User, token: uuid.UUID) -> str | None:
    """One row through intake: "made", "refused" (the reason stored on the row, the file
    kept), or None when another send had already made it a delivery."""
    route = row.route
    assert route is not None  # the job passes only rows with a route and a period
    earlier = _made_by_an_earlier_try(row, route, user)
    if earlier is not None:
        _row_made(row, earlier)
        return "made"
    try:
        incoming = _handover_copy(row)
    except FileNotFoundError:
        # Sent by another send at the same moment (a stalled one taken over, still running),
        # which has taken the file; or gone from the disk. Either way nothing here to send.
        row.refresh_from_db()
        if row.delivery_id is not None:
            return None
        row.refusal = _(
            "Filen findes ikke længere på serveren. Upload den igen i en ny samlet upload."
        )
        row.send_token = token
        row.save(update_fields=["refusal", "send_token"])
        return "refused"
    try:
        delivery = delivery_upload(
            file=incoming,
            route=route,
            period=row.period,
            user=user,
            redelivery_confirmed=row.redelivery_confirmed,
        )
    except IntakeRefused as refusal:
        row.refusal = refusal.message
        row.send_token = token
        row.save(update_fields=["refusal", "send_token"])
        return "refused"
    _row_made(row, delivery)
    return "made"


def _row_made(row: UploadBatchFile, delivery: Delivery) -> None:
    """The row points at its delivery, then its staged file goes (intake has its own copy)."""
    row.delivery = delivery
    row.refusal = ""
    row.save(update_fields=["delivery", "refusal"])
    staged_path(row).unlink(missing_ok=True)
    row.staged_name = ""
    row.save(update_fields=["staged_name"])


def _made_by_an_earlier_try(row: UploadBatchFile, route: Route, user: User) -> Delivery | None:
    """The delivery an earlier send made of this row when its worker died between intake and
    saving the row: the same bytes, route and period, uploaded by the same person since the
    batch was made, and no row of any batch points at it. Linked instead of sent again, so
    the row neither shows the same-file rule's refusal nor, with Genlevering ticked, is
    delivered twice."""
    return (
        Delivery.objects.filter(
            route=route,
            period=row.period,
            sha256=row.sha256,
            uploaded_by=user,
            uploaded_at__gte=row.batch.created_at,
        )
        # Asked of the few candidates only, not a list of every batch row's delivery ever made.
        .exclude(Exists(UploadBatchFile.objects.filter(delivery=OuterRef("pk"))))
        .order_by("-uploaded_at")
        .first()
    )


def _handover_copy(row: UploadBatchFile) -> IncomingFile:
    """A second name for the staged file for intake to take over (move into storage or
    delete): a hard link costs nothing; across file systems it is a copy."""
    source = staged_path(row)
    handle, name = tempfile.mkstemp(suffix=".csv", dir=source.parent)
    os.close(handle)
    target = Path(name)
    target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return IncomingFile(
        path=target, original_name=row.original_name, size=row.size, sha256=row.sha256
    )


def upload_batches_expire(*, now: datetime, dry_run: bool = False) -> int:
    """Deletes the batches past `expires_at`: their staged files (they may hold CPR numbers)
    and rows. The deliveries made from them stay. Returns how many batches went."""
    expired = list(UploadBatch.objects.filter(expires_at__lte=now))
    if dry_run or not expired:
        return len(expired)
    staged = 0
    for batch in expired:
        staged += batch.files.exclude(staged_name="").count()
        shutil.rmtree(staging_folder(batch), ignore_errors=True)
        batch.delete()
    # One row per run, as for mails and login records: the count, not each file.
    audit_record(
        action="uploadbatch.deleted",
        object_type="deliveries.uploadbatch",
        object_repr=f"{len(expired)} samlede uploads",
        before={"count": len(expired), "staged_files": staged},
        after={"reason": "retention", "expired_before": now},
        actor_label="opbevaring",
        at=now,
    )
    return len(expired)
