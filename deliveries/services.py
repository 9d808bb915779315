"""Delivery workflows: create from an upload, change status, validate, push to the
Serviceplatform, record technical receipts, reconcile lost work, load a contract.

Every status change goes through `delivery_transition`, a conditional update plus its event
row in one transaction, so two workers can never both claim the same delivery. No SFTP happens
inside a transaction: a step commits its claim, talks to the server, then records the result in
a second short transaction (README).
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from deliveries import jobs, protocol, sftp
from deliveries.datacontracts import contract_problems
from deliveries.expected import expected_delivery_mark_met
from deliveries.messages import Text, stored_as, text
from deliveries.models import (
    DataContract,
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    ReceiptProblem,
    ValidationIssue,
    can_transition,
    delivery_upload_to,
    quiet_since,
)
from deliveries.sftp import SftpError
from deliveries.uploads import PreparedFile
from deliveries.validation import FILE_RULES, Report, validate_file
from flisportal.audit.services import audit_record, snapshot
from flisportal.notifications.services import notify_delivery_status
from flisportal.queues import SFTP, VALIDATION, enqueue_in_on_commit, enqueue_on_commit
from routes.keys import decrypt_private_key
from routes.models import DataArea, Endpoint, ITSystem, KeyState, Route, SftpKey, SftpUser, User
from routes.validators import authority_urn

logger = logging.getLogger(__name__)

WORKER = "worker"


def delivery_transition(
    *,
    delivery_id: int,
    old: str,
    new: str,
    actor: User | None = None,
    actor_label: str = "",
    message: Text | str = "",
    where: Q | None = None,
    **fields: Any,
) -> bool:
    """Moves a delivery from `old` to `new` if it is still in `old`; True if this call did it.

    `message` is the event's text: a catalogued text (deliveries.messages), stored in Danish
    with its code and parameters, or plain Danish text.

    The `WHERE status = old` makes the update a claim: of many workers or requests racing,
    exactly one changes the row and writes the event. `where` narrows the claim further (the
    push's attempt number, the reconciler's "no sign of life since").
    """
    if not can_transition(old, new):
        raise ValueError(f"a delivery cannot go from {old} to {new}")
    stored = stored_as("message", message)
    danish = stored["message"]
    now = timezone.now()
    rows = Delivery.objects.filter(pk=delivery_id, status=old)
    if where is not None:
        rows = rows.filter(where)
    with transaction.atomic():
        changed = rows.update(status=new, status_changed_at=now, **fields)
        if changed != 1:
            return False
        DeliveryEvent.objects.create(
            delivery_id=delivery_id,
            old_status=old,
            new_status=new,
            actor=actor,
            actor_label=actor_label or ("" if actor else WORKER),
            **stored,
            at=now,
        )
        delivery = Delivery.objects.only("route_id", "period", "kommune_id", "uuid").get(
            pk=delivery_id
        )
        # Every delivery event is an audit row too, in the same transaction.
        audit_record(
            action="delivery.status",
            object_type="deliveries.delivery",
            object_id=delivery_id,
            object_repr=f"{delivery.uuid} ({delivery.period})",
            before={"status": old},
            after={"status": new, "message": danish, **fields},
            actor=actor,
            actor_label=actor_label or ("" if actor else WORKER),
            kommune_id=delivery.kommune_id,
            at=now,
        )
        if new in (DeliveryStatus.DISTRIBUTED, DeliveryStatus.FETCHED):
            # The period this extract was for is met: said here, where the status changes,
            # so the dashboard does not wait for the next scan.
            expected_delivery_mark_met(route_id=delivery.route_id, period=delivery.period)
        # Mails are recorded with the event and sent by a worker once this commits.
        notify_delivery_status(delivery_id=delivery_id, old=old, new=new)
    return True


def delivery_find_same_file(*, route: Route, period: str, sha256: str) -> Delivery | None:
    """An earlier delivery of exactly these bytes for this route and period, if any."""
    return (
        Delivery.objects.filter(route=route, period=period, sha256=sha256)
        .order_by("-uploaded_at")
        .first()
    )


def delivery_create(
    *,
    prepared: PreparedFile,
    route: Route,
    period: str,
    user: User,
    redelivery_confirmed: bool = False,
    replaces: Delivery | None = None,
) -> Delivery:
    """Stores the file through the storage API and records the delivery with its first event.

    The file is stored first and the rows are written in one short transaction afterwards
    (storage may be an object store: no network I/O inside the transaction). If the rows
    cannot be written, the stored file is removed again, so nothing is stored unregistered.
    Validation is enqueued when the transaction commits.
    """
    delivery = Delivery(
        route=route,
        it_system=route.sender_system,
        data_area=route.data_area,
        kommune=route.kommune,
        endpoint=route.endpoint,
        period=period,
        uploaded_by=user,
        original_filename=prepared.original_name[:255],
        size=prepared.size,
        sha256=prepared.sha256,
        replaces=replaces,
        redelivery_confirmed=redelivery_confirmed,
    )
    content = prepared.as_file()
    try:
        stored_name = default_storage.save(delivery_upload_to(delivery, ""), content)
    finally:
        content.close()
        prepared.discard()
    delivery.file.name = stored_name
    try:
        with transaction.atomic():
            delivery.save()
            code = "event.uploaded"
            if replaces is not None:
                code += "_correction"
            if redelivery_confirmed:
                code += "_confirmed"
            said = text(
                code,
                name=delivery.original_filename,
                **({"replaces": str(replaces.uuid)} if replaces is not None else {}),
            )
            DeliveryEvent.objects.create(
                delivery=delivery,
                old_status="",
                new_status=DeliveryStatus.RECEIVED,
                actor=user,
                **stored_as("message", said),
                at=delivery.uploaded_at,
            )
            audit_record(
                action="delivery.create",
                obj=delivery,
                after=snapshot(delivery),
                actor=user,
                kommune_id=delivery.kommune_id,
                at=delivery.uploaded_at,
            )
            enqueue_on_commit(VALIDATION, jobs.validate_delivery, delivery.pk)
    except Exception:
        default_storage.delete(stored_name)
        raise
    return delivery


@contextmanager
def _local_path(name: str) -> Iterator[Path]:
    """A local path for a stored file: the file itself on disk storage, else a temp copy
    (polars reads from a path), removed when the block ends.

    Only a FileSystemStorage is asked for its path: other storages may answer `path()` with a
    name that is no file on this machine (InMemoryStorage does), or raise NotImplementedError
    (S3)."""
    if isinstance(default_storage, FileSystemStorage):
        yield Path(default_storage.path(name))
        return
    with tempfile.TemporaryDirectory(prefix="flis-delivery-") as folder:
        target = Path(folder) / "extract.csv"
        with default_storage.open(name, "rb") as source, target.open("wb") as out:
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
        with _local_path(delivery.file.name or "") as path:
            report = validate_file(
                path,
                contract.document,
                kommune_code=delivery.kommune.code,
                period=delivery.period,
                max_listed=settings.VALIDATION_MAX_LISTED_ERRORS,
                batch_bytes=settings.VALIDATION_BATCH_BYTES,
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
    with transaction.atomic():
        ValidationIssue.objects.filter(delivery=delivery).delete()
        ValidationIssue.objects.bulk_create(
            ValidationIssue(
                delivery=delivery,
                position=position,
                row=issue.row,
                column=issue.column[:100],
                value=issue.value[:100],
                rule=issue.rule,
                message=issue.message,
                message_code=issue.code,
                message_params=issue.params,
            )
            for position, issue in enumerate(report.issues)
        )
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
            validated_at=timezone.now(),
            heartbeat_at=None,
        )
        if moved and outcome == DeliveryStatus.VALID:
            # A valid extract goes on to the Serviceplatform by itself (DESIGN §2's one-way flow).
            enqueue_on_commit(SFTP, jobs.push_delivery, delivery.pk)
    return outcome


def contract_load(
    *, document: Any, user: User | None, source: str = "", activate: bool = True
) -> DataContract:
    """Checks a contract document and stores it as a new version of its data area; with
    `activate` it becomes the version new deliveries are checked against."""
    problems = contract_problems(document)
    if problems:
        raise ValidationError(problems)
    area = DataArea.objects.filter(code=document["data_area"]).first()
    if area is None:
        raise ValidationError(f"Dataområdet «{document['data_area']}» findes ikke.")
    if DataContract.objects.filter(data_area=area, version=document["version"]).exists():
        raise ValidationError(
            f"Version {document['version']} af kontrakten for {area} er allerede indlæst; "
            "giv den nye version et nyt versionsnummer."
        )
    with transaction.atomic():
        if activate:
            DataContract.objects.filter(data_area=area, is_active=True).update(is_active=False)
        contract = DataContract.objects.create(
            data_area=area,
            version=document["version"],
            document=document,
            is_illustrative=bool(document.get("illustrative")),
            is_active=activate,
            loaded_by=user,
            source=source[:255],
        )
        # The document itself is kept on the contract row; the audit row says which version
        # was loaded, by whom, and whether it became the active one.
        audit_record(
            action="contract.load",
            obj=contract,
            after=snapshot(contract, exclude=("document",)),
            actor=user,
        )
        return contract


# --- Push to the Serviceplatform ------------------------------------------------------------

RECONCILER = "reconciler"
# The folders of an SFTP user's home on the Serviceplatform (DESIGN §3).
OUTBOX = "OUT"
INBOX = "IN"
# How often a pushing worker writes `heartbeat_at` while it moves bytes.
PUSH_HEARTBEAT_SECONDS = 10.0
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def _at(moment: datetime) -> str:
    """A time as people in Denmark read it on the page, whatever the server's zone."""
    return f"{moment.astimezone(COPENHAGEN):%d-%m-%Y %H:%M:%S}"


@dataclass(frozen=True)
class _Login:
    sftp_user: SftpUser
    private_key: bytes  # decrypted OpenSSH PEM; lives only as long as the job


def _sftp_login(*, it_system: ITSystem, endpoint: Endpoint) -> _Login:
    """The IT-system's SFTP user on the endpoint with its active key, decrypted in memory.

    Raises a permanent SftpError that says what an administrator must set up when something is
    missing: retrying cannot conjure up a user or a key.
    """
    sftp_user = (
        SftpUser.objects.select_related("endpoint", "it_system")
        .filter(it_system=it_system, endpoint=endpoint)
        .first()
    )
    if sftp_user is None:
        raise SftpError(
            text("push.no_sftp_user", system=str(it_system), endpoint=str(endpoint)),
            permanent=True,
        )
    key = SftpKey.objects.filter(sftp_user=sftp_user, state=KeyState.ACTIVE).first()
    if key is None:
        raise SftpError(
            text("push.no_active_key", username=sftp_user.username, endpoint=str(endpoint)),
            permanent=True,
        )
    try:
        private_key = decrypt_private_key(bytes(key.encrypted_private_key))
    except ImproperlyConfigured:
        raise SftpError(
            text("push.key_not_decryptable", username=sftp_user.username), permanent=True
        ) from None
    return _Login(sftp_user=sftp_user, private_key=private_key)


class _HeartbeatReader:
    """Reads the stored file for the upload and, every few seconds, tells the database the push
    is alive (one small UPDATE outside any transaction)."""

    def __init__(self, source: IO[bytes], beat: Callable[[], None]) -> None:
        self._source = source
        self._beat = beat
        self._last = time.monotonic()

    def read(self, size: int = -1) -> bytes:
        now = time.monotonic()
        if now - self._last >= PUSH_HEARTBEAT_SECONDS:
            self._last = now
            self._beat()
        return self._source.read(size)


def _wire_name_for(delivery: Delivery, sftp_user: SftpUser) -> str:
    return protocol.wire_file_name(
        sftp_user=sftp_user.username,
        area_code=delivery.data_area.code,
        kommune_code=delivery.kommune.code,
        period=delivery.period.replace("-", ""),
        # Eight hex digits of the SendersFileId keep the name unique among this sender's files.
        short_id=delivery.uuid.hex[:8],
        ext="csv",
    )


def _trigger_for(delivery: Delivery, sftp_user: SftpUser) -> bytes:
    route = delivery.route
    assert delivery.transaction_id is not None
    return protocol.build_trigger(
        protocol.Trigger(
            descriptor=protocol.FileDescriptor(
                file_name=delivery.wire_name,
                size_in_bytes=delivery.size,
                sender=sftp_user.username,
                senders_file_id=str(delivery.uuid),
                recipients=(protocol.ROUTING_RECIPIENT,),
            ),
            routing=protocol.RoutingInfo(
                infref=route.data_area.infref,
                sender_it_system=route.sender_system.uuid,
                sender_authority=authority_urn(route.sender_authority),
                transaction_id=str(delivery.transaction_id),
                # KOMBIT's examples carry Danish local time with its offset.
                sender_timestamp=timezone.now().astimezone(COPENHAGEN),
                recipient_authority=authority_urn(route.recipient_authority),
            ),
        )
    )


def delivery_push(*, delivery_id: int) -> str | None:
    """Claims a valid delivery and sends it to its route's endpoint: the data file to
    `OUT/<wire name>`, its size checked, then `OUT/<wire name>.trigger`. Returns the status it
    ends in, or None when the delivery was not valid (someone else has it, or it is done).

    Transient faults put it back to `valid` and schedule the next try with backoff, until
    SFTP_RETRY_MAX_ATTEMPTS; permanent faults and the last try end in `failed`. Every try uses
    the same wire name, SendersFileId and TransactionId, so a retry overwrites its own partial
    upload, and the platform distributes a SendersFileId only once.
    """
    before = Delivery.objects.filter(pk=delivery_id).values("status", "push_attempts").first()
    if before is None or before["status"] != DeliveryStatus.VALID:
        return None
    attempt = before["push_attempts"] + 1
    limit = settings.SFTP_RETRY_MAX_ATTEMPTS
    # The attempt number is part of the claim: a later step of this try only lands while the
    # delivery is still this try's (the reconciler may have handed it to another worker).
    if not delivery_transition(
        delivery_id=delivery_id,
        old=DeliveryStatus.VALID,
        new=DeliveryStatus.PUSHING,
        where=Q(push_attempts=attempt - 1),
        message=text("event.push_started", attempt=attempt, limit=limit),
        push_attempts=attempt,
        next_attempt_at=None,
        heartbeat_at=timezone.now(),
    ):
        return None
    mine = Q(push_attempts=attempt)
    delivery = Delivery.objects.select_related(
        "route__data_area", "route__sender_system", "data_area", "kommune", "endpoint", "it_system"
    ).get(pk=delivery_id)
    try:
        login = _sftp_login(it_system=delivery.it_system, endpoint=delivery.endpoint)
        if not delivery.wire_name:
            delivery.wire_name = _wire_name_for(delivery, login.sftp_user)
            delivery.transaction_id = uuid.uuid4()
            Delivery.objects.filter(pk=delivery_id).update(
                wire_name=delivery.wire_name, transaction_id=delivery.transaction_id
            )
        _send(delivery, login, beat_while=mine)
    except SftpError as error:
        return _push_failed(delivery, attempt=attempt, error=error)
    except Exception as exc:
        # A bug must not leave the delivery "pushing" until the reconciler comes by, only to
        # fail the same way again.
        logger.exception("push of delivery %s failed unexpectedly", delivery_id)
        unexpected = SftpError(
            text("push.unexpected", error=f"{type(exc).__name__}: {exc}"), permanent=True
        )
        return _push_failed(delivery, attempt=attempt, error=unexpected)
    if not delivery_transition(
        delivery_id=delivery_id,
        old=DeliveryStatus.PUSHING,
        new=DeliveryStatus.SENT,
        where=mine,
        message=text(
            "event.sent",
            endpoint=str(delivery.endpoint),
            wire_name=delivery.wire_name,
            size=delivery.size,
            infref=delivery.route.data_area.infref,
        ),
        sent_at=timezone.now(),
        last_error="",
        last_error_code="",
        last_error_params={},
        heartbeat_at=None,
        receipt_overdue_at=None,
    ):
        logger.warning("delivery %s was taken from push attempt %s meanwhile", delivery_id, attempt)
        return None
    return DeliveryStatus.SENT


def _send(delivery: Delivery, login: _Login, *, beat_while: Q) -> None:
    """The network part of a push; raises SftpError. No database transaction is open here."""
    remote = f"{OUTBOX}/{delivery.wire_name}"

    def beat() -> None:
        try:
            Delivery.objects.filter(
                beat_while, pk=delivery.pk, status=DeliveryStatus.PUSHING
            ).update(heartbeat_at=timezone.now())
        except DatabaseError:
            # Best effort: a busy database must not break an upload that is going well; a
            # missed beat or two only matters after RECONCILE_STUCK_MINUTES of them.
            logger.warning("heartbeat of delivery %s not written", delivery.pk, exc_info=True)

    try:
        stored = default_storage.open(str(delivery.file.name), "rb")
    except FileNotFoundError:
        raise SftpError(
            text("push.file_missing", name=str(delivery.file.name)), permanent=True
        ) from None
    with (
        stored,
        sftp.open_for_endpoint(
            sftp_user=login.sftp_user, private_key=login.private_key
        ) as connection,
    ):
        reader = cast(IO[bytes], _HeartbeatReader(stored, beat))
        connection.upload(reader, remote, size=delivery.size)
        arrived = connection.remote_size(remote)
        if arrived != delivery.size:
            raise SftpError(
                text(
                    "push.size_mismatch",
                    where=connection.where,
                    arrived=arrived,
                    remote=remote,
                    size=delivery.size,
                ),
                permanent=False,
            )
        trigger = _trigger_for(delivery, login.sftp_user)
        # The trigger goes last: the platform acts on it, and only once its upload is closed.
        connection.upload(io.BytesIO(trigger), f"{remote}{protocol.TRIGGER_SUFFIX}")


def _last_error(error: SftpError) -> dict[str, Any]:
    """The delivery's fields for the error of its last try: the Danish text, and its code and
    parameters for showing it in the reader's language."""
    return stored_as("last_error", error.said if error.said is not None else error.message)


def _push_failed(delivery: Delivery, *, attempt: int, error: SftpError) -> str | None:
    limit = settings.SFTP_RETRY_MAX_ATTEMPTS
    mine = Q(push_attempts=attempt)
    if not error.permanent and attempt < limit:
        delay = sftp.retry_delay(attempt)
        when = timezone.now() + timedelta(seconds=delay)
        with transaction.atomic():
            moved = delivery_transition(
                delivery_id=delivery.pk,
                old=DeliveryStatus.PUSHING,
                new=DeliveryStatus.VALID,
                where=mine,
                message=text(
                    "event.push_retry",
                    attempt=attempt,
                    limit=limit,
                    error=error.as_param(),
                    when=_at(when),
                ),
                **_last_error(error),
                next_attempt_at=when,
                heartbeat_at=None,
            )
            if moved:
                enqueue_in_on_commit(
                    SFTP, timedelta(seconds=delay), jobs.push_delivery, delivery.pk
                )
        return DeliveryStatus.VALID if moved else None
    if error.permanent:
        message = text("event.push_failed", error=error.as_param())
    else:
        message = text("event.push_given_up", attempt=attempt, error=error.as_param())
    moved = delivery_transition(
        delivery_id=delivery.pk,
        old=DeliveryStatus.PUSHING,
        new=DeliveryStatus.FAILED,
        where=mine,
        message=message,
        **_last_error(error),
        next_attempt_at=None,
        heartbeat_at=None,
    )
    return DeliveryStatus.FAILED if moved else None


def delivery_retry(*, delivery_id: int, user: User) -> str | None:
    """A person's retry of a failed delivery: pushed again (same SendersFileId, a fresh
    allowance of attempts) when it failed after a clean validation, else validated again.
    Returns the new status, or None when the delivery is no longer failed."""
    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.FAILED:
        return None
    name = user.get_full_name() or user.get_username()
    with transaction.atomic():
        if delivery.push_failed:
            moved = delivery_transition(
                delivery_id=delivery_id,
                old=DeliveryStatus.FAILED,
                new=DeliveryStatus.VALID,
                actor=user,
                message=text(
                    "event.retry_push", name=name, attempts=settings.SFTP_RETRY_MAX_ATTEMPTS
                ),
                push_attempts=0,
                next_attempt_at=None,
                heartbeat_at=None,
            )
            if moved:
                enqueue_on_commit(SFTP, jobs.push_delivery, delivery_id)
            return DeliveryStatus.VALID if moved else None
        moved = delivery_transition(
            delivery_id=delivery_id,
            old=DeliveryStatus.FAILED,
            new=DeliveryStatus.RECEIVED,
            actor=user,
            message=text("event.retry_validation", name=name),
            heartbeat_at=None,
        )
        if moved:
            enqueue_on_commit(VALIDATION, jobs.validate_delivery, delivery_id)
        return DeliveryStatus.RECEIVED if moved else None


# --- Technical receipts ---------------------------------------------------------------------

# Statuses in which a delivery's receipt has been recorded for good.
RECORDED = (DeliveryStatus.DISTRIBUTED, DeliveryStatus.REFUSED, DeliveryStatus.FETCHED)
# A receipt for a delivery in one of these may still be recorded later: its push is under way
# again (the platform got an earlier try's trigger), so the file is left for a later round.
NOT_YET = (DeliveryStatus.VALID, DeliveryStatus.PUSHING)


@dataclass
class ReceiptRound:
    """What one look into senders' IN/ folders did."""

    users: int = 0
    distributed: int = 0
    refused: int = 0
    duplicates: int = 0
    kept: int = 0
    waiting: int = 0
    cleaned: int = 0
    failed_users: list[str] = field(default_factory=list)

    def add(self, other: ReceiptRound) -> None:
        for name in ("users", "distributed", "refused", "duplicates", "kept", "waiting", "cleaned"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed_users.extend(other.failed_users)


# Deliveries whose technical receipt may still come: sent ones, and failed ones that were
# pushed at least once (the trigger may have reached the platform although the portal gave up,
# e.g. when the answer to its upload was lost). A delivery that failed in validation was never
# pushed and can have no receipt.
AWAITING_RECEIPT = Q(status=DeliveryStatus.SENT) | Q(
    status=DeliveryStatus.FAILED, push_attempts__gt=0, receipt_at__isnull=True
)


def receipts_collect() -> ReceiptRound:
    """Logs in as every sender SFTP user that has deliveries awaiting a receipt (`sent`, or
    `failed` after a push) and records the technical receipts waiting in its IN/ (the RQ cron
    job `collect_receipts`). A user whose login fails is reported and skipped; the others are
    still served."""
    pairs = set(
        Delivery.objects.filter(AWAITING_RECEIPT)
        .order_by()
        .values_list("it_system_id", "endpoint_id")
        .distinct()
    )
    if not pairs:
        return ReceiptRound()
    wanted = Q()
    for it_system_id, endpoint_id in sorted(pairs):
        wanted |= Q(it_system_id=it_system_id, endpoint_id=endpoint_id)
    result = ReceiptRound()
    missing = set(pairs)
    for sftp_user in SftpUser.objects.filter(wanted).select_related("endpoint", "it_system"):
        missing.discard((sftp_user.it_system_id, sftp_user.endpoint_id))
        try:
            result.add(receipts_collect_for_user(sftp_user_id=sftp_user.pk))
        except SftpError as error:
            logger.warning("receipts of %s could not be collected: %s", sftp_user, error)
            result.failed_users.append(f"{sftp_user}: {error}")
        except Exception as exc:
            # One sender's trouble (a database error while recording) must not keep the other
            # senders' receipts waiting; the files stay in IN/ for the next round.
            logger.exception("receipts of %s could not be recorded", sftp_user)
            result.failed_users.append(f"{sftp_user}: {type(exc).__name__}: {exc}")
    for it_system_id, endpoint_id in missing:
        # Awaiting a receipt, but the SFTP user has been removed since: nobody can read it.
        logger.warning(
            "deliveries of it-system %s on endpoint %s await a receipt but have no SFTP user",
            it_system_id,
            endpoint_id,
        )
        result.failed_users.append(f"it-system {it_system_id} / endpoint {endpoint_id}")
    return result


def receipts_collect_for_user(*, sftp_user_id: int) -> ReceiptRound:
    """Reads `IN/*.sftpreceipt` of one sender SFTP user, records each receipt on its delivery
    and removes the file only after that row is committed; keeps aside what cannot be matched;
    then removes leftovers of finished deliveries from the user's OUT/."""
    if transaction.get_connection().in_atomic_block:
        # The receipt file is removed once its row is committed; inside an outer transaction
        # that moment would come only after the file is gone.
        raise RuntimeError("receipts_collect_for_user must not run inside a transaction")
    sftp_user = SftpUser.objects.select_related("endpoint", "it_system").get(pk=sftp_user_id)
    login = _sftp_login(it_system=sftp_user.it_system, endpoint=sftp_user.endpoint)
    result = ReceiptRound(users=1)
    with sftp.open_for_endpoint(
        sftp_user=login.sftp_user, private_key=login.private_key
    ) as connection:
        for name in connection.listdir(INBOX):
            if name.endswith(protocol.RECEIPT_SUFFIX):
                _receipt_handle(connection, sftp_user, name, result)
        result.cleaned += _outbox_clean(connection, sftp_user)
    return result


def _receipt_handle(
    connection: sftp.SftpConnection, sftp_user: SftpUser, name: str, result: ReceiptRound
) -> None:
    path = f"{INBOX}/{name}"
    size = connection.remote_size(path)
    if size > protocol.MAX_XML_BYTES:
        _receipt_keep(
            sftp_user,
            name,
            f"Filen er {size} bytes; en kvittering er højst {protocol.MAX_XML_BYTES}. Den er "
            "ikke læst.",
        )
        result.kept += 1
        return
    buffer = io.BytesIO()
    connection.download(path, buffer)
    data = buffer.getvalue()
    try:
        receipt = protocol.parse_technical_receipt(data)
    except protocol.ProtocolError as exc:
        _receipt_keep(sftp_user, name, f"Kvitteringen kan ikke læses: {exc.message_da}", data=data)
        result.kept += 1
        return

    delivery, problem = _receipt_match(sftp_user, name, receipt)
    if delivery is None:
        _receipt_keep(sftp_user, name, problem, data=data, receipt=receipt)
        result.kept += 1
        return
    if delivery.status in NOT_YET:
        result.waiting += 1
        return
    if delivery.status in RECORDED:
        if delivery.file_transfer_uuid == receipt.file_transfer_uuid:
            # The same receipt again: another round got here first, or the platform answered a
            # retried trigger with the first receipt. Already recorded, so it may go.
            _receipt_remove(connection, path)
            result.duplicates += 1
        else:
            _receipt_keep(
                sftp_user,
                name,
                f"Leverancen {delivery.uuid} har allerede kvitteringen med FileTransferUUID "
                f"{delivery.file_transfer_uuid or '–'} ({delivery.get_status_display()}); denne "
                f"har {receipt.file_transfer_uuid}.",
                data=data,
                receipt=receipt,
            )
            result.kept += 1
        return
    if delivery.status not in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
        _receipt_keep(
            sftp_user,
            name,
            f"Leverancen {delivery.uuid} er {delivery.get_status_display()} og er aldrig sendt.",
            data=data,
            receipt=receipt,
        )
        result.kept += 1
        return

    outcome = DeliveryStatus.DISTRIBUTED if receipt.succeeded else DeliveryStatus.REFUSED
    errors = [
        {"code": e.code, "code_description": e.code_description, "description": e.description}
        for e in receipt.errors
    ]
    # A receipt that arrives after the portal gave up says so.
    late = "_late" if delivery.status == DeliveryStatus.FAILED else ""
    if receipt.succeeded:
        message = text(f"event.receipt_distributed{late}", uuid=receipt.file_transfer_uuid)
    else:
        codes = [
            text(
                "word.receipt_error",
                code=e.code,
                meaning=e.code_description,
                description=e.description,
            ).as_param()
            for e in receipt.errors
        ]
        message = text(
            f"event.receipt_refused{late}", uuid=receipt.file_transfer_uuid, errors=codes
        )
    with transaction.atomic():
        recorded = delivery_transition(
            delivery_id=delivery.pk,
            old=delivery.status,
            new=outcome,
            message=message,
            file_transfer_uuid=receipt.file_transfer_uuid[:36],
            receipt_at=timezone.now(),
            receipt_errors=errors,
            heartbeat_at=None,
        )
    # Committed (or lost to a concurrent round that recorded the same receipt): only now may
    # the file go, so a crash in between leaves the receipt to be read again, never lost.
    if recorded:
        if outcome == DeliveryStatus.DISTRIBUTED:
            result.distributed += 1
        else:
            result.refused += 1
    else:
        result.duplicates += 1
    if (
        recorded
        or Delivery.objects.filter(
            pk=delivery.pk, file_transfer_uuid=receipt.file_transfer_uuid
        ).exists()
    ):
        _receipt_remove(connection, path)


def _receipt_match(
    sftp_user: SftpUser, name: str, receipt: protocol.TechnicalReceipt
) -> tuple[Delivery | None, str]:
    """The delivery a receipt answers, by SendersFileId and by file name, among the deliveries
    this SFTP user's IT-system sent on this endpoint; or None and why not."""
    mine = Delivery.objects.filter(it_system=sftp_user.it_system, endpoint=sftp_user.endpoint)
    stem = name.removesuffix(protocol.RECEIPT_SUFFIX)
    by_name = mine.filter(wire_name=stem).first() if stem else None
    by_id = None
    if receipt.senders_file_id:
        try:
            # No ordering: the uuid is unique, and the newest-first ordering could make the
            # planner walk an index in that order instead of looking the uuid up.
            by_id = mine.filter(uuid=uuid.UUID(receipt.senders_file_id)).order_by().first()
        except ValueError:
            by_id = None
        if by_id is None:
            return None, (
                f"Ingen leverance fra {sftp_user.username} har SendersFileId "
                f"{receipt.senders_file_id}."
            )
    if by_id is not None and by_name is not None and by_id.pk != by_name.pk:
        return None, (
            f"SendersFileId {receipt.senders_file_id} og filnavnet {stem} hører til hver sin "
            "leverance."
        )
    found = by_id or by_name
    if found is None:
        return None, f"Ingen leverance fra {sftp_user.username} er sendt som {stem}."
    return found, ""


def _receipt_keep(
    sftp_user: SftpUser,
    name: str,
    reason: str,
    *,
    data: bytes = b"",
    receipt: protocol.TechnicalReceipt | None = None,
) -> None:
    """Record a receipt that cannot be matched; the file itself stays in IN/."""
    now = timezone.now()
    problem, created = ReceiptProblem.objects.get_or_create(
        sftp_user=sftp_user,
        file_name=name[:300],
        defaults={
            "endpoint_id": sftp_user.endpoint_id,
            "reason": reason,
            "senders_file_id": ((receipt.senders_file_id or "") if receipt else "")[:255],
            "file_transfer_uuid": (receipt.file_transfer_uuid if receipt else "")[:255],
            "content": data[:10_000].decode("utf-8", errors="replace"),
            "first_seen_at": now,
            "last_seen_at": now,
        },
    )
    if created:
        logger.warning("receipt IN/%s of %s kept aside: %s", name, sftp_user.username, reason)
    else:
        ReceiptProblem.objects.filter(pk=problem.pk).update(
            last_seen_at=now, times_seen=F("times_seen") + 1, reason=reason
        )


def _receipt_remove(connection: sftp.SftpConnection, path: str) -> None:
    try:
        connection.remove(path)
    except SftpError as error:
        # Another round may have removed it a moment ago; the row is recorded either way.
        logger.info("receipt %s not removed: %s", path, error)


def _outbox_clean(connection: sftp.SftpConnection, sftp_user: SftpUser) -> int:
    """KOMBIT: the sender cleans up its own OUT/. Removes the data and trigger files of this
    user's deliveries that have their receipt (distributed or refused); nothing else."""
    names = connection.listdir(OUTBOX)
    stems = {name.removesuffix(protocol.TRIGGER_SUFFIX) for name in names}
    finished = set(
        Delivery.objects.filter(
            it_system=sftp_user.it_system,
            endpoint=sftp_user.endpoint,
            status__in=RECORDED,
            wire_name__in=stems,
        ).values_list("wire_name", flat=True)
    )
    removed = 0
    for name in names:
        if name.removesuffix(protocol.TRIGGER_SUFFIX) in finished:
            try:
                connection.remove(f"{OUTBOX}/{name}")
                removed += 1
            except SftpError as error:
                logger.info("leftover OUT/%s not removed: %s", name, error)
    return removed


# --- Reconciler -----------------------------------------------------------------------------


@dataclass
class ReconcileRound:
    """Delivery ids the reconciler acted on in one run."""

    revalidated: list[int] = field(default_factory=list)
    repushed: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)


def deliveries_reconcile(*, now: datetime | None = None) -> ReconcileRound:
    """Finds deliveries whose work was lost and sets it going again (RQ cron job
    `reconcile_deliveries`); flags sent deliveries whose receipt is overdue.

    - `validating`/`pushing` with no sign of life for RECONCILE_STUCK_MINUTES: the worker died
      (or was killed); back to `received`/`valid`, with an event, and enqueued again;
    - `received`/`valid` untouched that long with no retry planned: the job was lost (Redis
      flushed); enqueued again;
    - `sent` for RECEIPT_OVERDUE_MINUTES without a receipt: flagged once, with an event.

    Every change is a conditional update, so any number of reconcilers and workers may run at
    once; a job enqueued twice does nothing the second time (its claim fails).
    """
    now = now or timezone.now()
    since = now - timedelta(minutes=settings.RECONCILE_STUCK_MINUTES)
    quiet = quiet_since(since)
    result = ReconcileRound()

    for old, new, queue, job, what in (
        (DeliveryStatus.VALIDATING, DeliveryStatus.RECEIVED, VALIDATION, jobs.validate_delivery,
         "word.work.validation"),
        (DeliveryStatus.PUSHING, DeliveryStatus.VALID, SFTP, jobs.push_delivery,
         "word.work.push"),
    ):  # fmt: skip
        for delivery_id, last in Delivery.objects.filter(quiet, status=old).values_list(
            "pk", "heartbeat_at"
        ):
            with transaction.atomic():
                moved = delivery_transition(
                    delivery_id=delivery_id,
                    old=old,
                    new=new,
                    where=quiet,
                    actor_label=RECONCILER,
                    message=text(
                        "event.resumed", work=text(what).as_param(), since=_at(last or since)
                    ),
                    heartbeat_at=now,
                    next_attempt_at=None,
                )
                if moved:
                    enqueue_on_commit(queue, job, delivery_id)
            if moved:
                (result.revalidated if new == DeliveryStatus.RECEIVED else result.repushed).append(
                    delivery_id
                )

    lost = quiet & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=since))
    for status, queue, job in (
        (DeliveryStatus.RECEIVED, VALIDATION, jobs.validate_delivery),
        (DeliveryStatus.VALID, SFTP, jobs.push_delivery),
    ):
        for delivery_id in Delivery.objects.filter(lost, status=status).values_list(
            "pk", flat=True
        ):
            # Touching heartbeat_at is the claim: the next run leaves it alone for a while.
            with transaction.atomic():
                touched = Delivery.objects.filter(lost, pk=delivery_id, status=status).update(
                    heartbeat_at=now
                )
                if touched:
                    enqueue_on_commit(queue, job, delivery_id)
            if touched:
                logger.info("reconciler re-enqueued delivery %s (%s)", delivery_id, status)
                result.requeued.append(delivery_id)

    overdue_since = now - timedelta(minutes=settings.RECEIPT_OVERDUE_MINUTES)
    for delivery_id, sent_at in Delivery.objects.filter(
        status=DeliveryStatus.SENT, sent_at__lt=overdue_since, receipt_overdue_at__isnull=True
    ).values_list("pk", "sent_at"):
        with transaction.atomic():
            flagged = Delivery.objects.filter(
                pk=delivery_id, status=DeliveryStatus.SENT, receipt_overdue_at__isnull=True
            ).update(receipt_overdue_at=now)
            if flagged:
                # Not a status change, but a step the timeline must show.
                said = text(
                    "event.receipt_overdue",
                    minutes=settings.RECEIPT_OVERDUE_MINUTES,
                    sent=_at(sent_at or now),
                )
                DeliveryEvent.objects.create(
                    delivery_id=delivery_id,
                    old_status=DeliveryStatus.SENT,
                    new_status=DeliveryStatus.SENT,
                    actor_label=RECONCILER,
                    **stored_as("message", said),
                    at=now,
                )
        if flagged:
            result.overdue.append(delivery_id)
    return result
