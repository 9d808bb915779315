"""Technical receipts: the Serviceplatform's answer to a trigger, read from the sender's IN/
folder, moves a sent delivery to `distributed` or `refused`; OUT/ is cleaned of files whose
receipt is recorded.
"""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from deliveries import protocol, sftp
from deliveries.lifecycle.states import (
    AWAITING_RECEIPT,
    PUSH_UNDER_WAY,
    RECEIPT_SETTLED,
    DeliveryStatus,
    awaiting_receipt,
)
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.messages import Text, text
from deliveries.models import Delivery, ReceiptProblem
from deliveries.services import soon
from deliveries.services.sftp_login import sftp_login_as
from deliveries.sftp import SftpError
from routes.models import SftpUser

logger = logging.getLogger(__name__)


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


def receipts_collect() -> ReceiptRound:
    """Logs in as every sender SFTP user that has deliveries awaiting a receipt (`sent`, or
    `failed` after a push) and records the technical receipts waiting in its IN/ (the RQ cron
    job `collect_receipts`). A user whose login fails is reported and skipped; the others are
    still served."""
    pairs = set(
        Delivery.objects.filter(awaiting_receipt())
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


def receipts_collect_soon(*, sftp_user_id: int) -> ReceiptRound:
    """An extra receipt round for one sender, asked for after a push (the RQ job
    `collect_receipts_soon`; deliveries/services/soon.py). Within the login bound it reads the
    user's IN/, then asks for the next round while a sent delivery still awaits its receipt."""
    if not soon.round_begin(soon.RECEIPTS, sftp_user_id=sftp_user_id):
        return ReceiptRound()
    sftp_user = SftpUser.objects.filter(pk=sftp_user_id).first()
    if sftp_user is None:
        return ReceiptRound()  # removed since the push: the cron round reports what is left
    try:
        result = receipts_collect_for_user(sftp_user_id=sftp_user_id)
    except SftpError as error:
        # Logged like the cron round does; the backoff below tries again, then the cron round.
        logger.warning("receipts of %s could not be collected: %s", sftp_user, error)
        result = ReceiptRound(failed_users=[f"{sftp_user}: {error}"])
    soon.receipt_round_again(sftp_user=sftp_user)
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
    login = sftp_login_as(sftp_user=sftp_user)
    result = ReceiptRound(users=1)
    with sftp.open_for_endpoint(
        sftp_user=login.sftp_user, private_key=login.private_key
    ) as connection:
        for name in connection.listdir(protocol.INBOX):
            if name.endswith(protocol.RECEIPT_SUFFIX):
                _receipt_handle(connection, sftp_user, name, result)
        result.cleaned += _outbox_clean(connection, sftp_user)
    return result


def _receipt_handle(
    connection: sftp.SftpConnection, sftp_user: SftpUser, name: str, result: ReceiptRound
) -> None:
    path = f"{protocol.INBOX}/{name}"
    read = _receipt_read(connection, sftp_user, name, path)
    if read is None:
        result.kept += 1
        return
    data, receipt = read

    delivery, problem = _receipt_match(sftp_user, name, receipt)
    if delivery is None:
        _receipt_keep(sftp_user, name, problem, data=data, receipt=receipt)
        result.kept += 1
        return
    if delivery.status in PUSH_UNDER_WAY:
        result.waiting += 1
        return
    if delivery.status in RECEIPT_SETTLED:
        _receipt_seen_before(connection, sftp_user, name, delivery, receipt, data, result)
        return
    if delivery.status not in AWAITING_RECEIPT:
        _receipt_keep(
            sftp_user,
            name,
            f"Leverancen {delivery.uuid} er {delivery.get_status_display()} og er aldrig sendt.",
            data=data,
            receipt=receipt,
        )
        result.kept += 1
        return
    _receipt_record(connection, path, delivery, receipt, result)


def _receipt_read(
    connection: sftp.SftpConnection, sftp_user: SftpUser, name: str, path: str
) -> tuple[bytes, protocol.TechnicalReceipt] | None:
    """The receipt file's bytes and what they say; None when it is kept aside as too large
    (then it is not even downloaded) or unreadable."""
    size = connection.remote_size(path)
    if size > protocol.MAX_XML_BYTES:
        _receipt_keep(
            sftp_user,
            name,
            f"Filen er {size} bytes; en kvittering er højst {protocol.MAX_XML_BYTES}. Den er "
            "ikke læst.",
        )
        return None
    buffer = io.BytesIO()
    connection.download(path, buffer)
    data = buffer.getvalue()
    try:
        receipt = protocol.parse_technical_receipt(data)
    except protocol.ProtocolError as exc:
        _receipt_keep(sftp_user, name, f"Kvitteringen kan ikke læses: {exc.message_da}", data=data)
        return None
    return data, receipt


def _receipt_seen_before(
    connection: sftp.SftpConnection,
    sftp_user: SftpUser,
    name: str,
    delivery: Delivery,
    receipt: protocol.TechnicalReceipt,
    data: bytes,
    result: ReceiptRound,
) -> None:
    """A receipt for a delivery whose receipt is already recorded: the same one goes, another
    one is kept aside for a person to look at."""
    if delivery.file_transfer_uuid == receipt.file_transfer_uuid:
        # The same receipt again: another round got here first, or the platform answered a
        # retried trigger with the first receipt. Already recorded, so it may go.
        _receipt_remove(connection, f"{protocol.INBOX}/{name}")
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


def _receipt_record(
    connection: sftp.SftpConnection,
    path: str,
    delivery: Delivery,
    receipt: protocol.TechnicalReceipt,
    result: ReceiptRound,
) -> None:
    """Move a sent (or given-up) delivery to distributed or refused, then remove the file."""
    outcome = DeliveryStatus.DISTRIBUTED if receipt.succeeded else DeliveryStatus.REFUSED
    errors = [
        {"code": e.code, "code_description": e.code_description, "description": e.description}
        for e in receipt.errors
    ]
    message = _receipt_message(delivery, receipt)
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
            # The recipients can fetch it now: look in their IN/ soon.
            soon.fetch_rounds_soon(delivery_id=delivery.pk)
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


def _receipt_message(delivery: Delivery, receipt: protocol.TechnicalReceipt) -> Text:
    """The timeline's text for a receipt: distributed, or refused with each error code."""
    # A receipt that arrives after the portal gave up says so.
    late = "_late" if delivery.status == DeliveryStatus.FAILED else ""
    if receipt.succeeded:
        return text(f"event.receipt_distributed{late}", uuid=receipt.file_transfer_uuid)
    codes = [
        text(
            "word.receipt_error",
            code=e.code,
            meaning=e.code_description,
            description=e.description,
        ).as_param()
        for e in receipt.errors
    ]
    return text(f"event.receipt_refused{late}", uuid=receipt.file_transfer_uuid, errors=codes)


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
    names = connection.listdir(protocol.OUTBOX)
    stems = {name.removesuffix(protocol.TRIGGER_SUFFIX) for name in names}
    finished = set(
        Delivery.objects.filter(
            it_system=sftp_user.it_system,
            endpoint=sftp_user.endpoint,
            status__in=RECEIPT_SETTLED,
            wire_name__in=stems,
        ).values_list("wire_name", flat=True)
    )
    removed = 0
    for name in names:
        if name.removesuffix(protocol.TRIGGER_SUFFIX) in finished:
            try:
                connection.remove(f"{protocol.OUTBOX}/{name}")
                removed += 1
            except SftpError as error:
                logger.info("leftover OUT/%s not removed: %s", name, error)
    return removed
