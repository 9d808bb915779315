"""Push: a valid delivery goes to its route's endpoint on the Serviceplatform, the data file
to `OUT/<wire name>` and then its trigger file. Transient faults are retried with backoff;
permanent ones and the last try end in `failed`.

No SFTP happens inside a transaction: the claim commits, the bytes move, and the result is
recorded in a second short transaction.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import IO, Any, cast

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from deliveries import access, protocol, sftp
from deliveries.datacontracts import needs_conversion, send_encoding
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.messages import stored_as, text
from deliveries.models import Delivery
from deliveries.services import PUSH_JOB, soon
from deliveries.services.sftp_login import SftpLogin, sftp_login
from deliveries.sftp import SftpError
from flisportal.lib.periods import COPENHAGEN, local_time_text, period_compact
from flisportal.lib.queues import SFTP, enqueue_in_on_commit
from flisportal.lib.storage import open_stored
from routes.models import Route, RouteStatus, SftpUser
from routes.validators import authority_urn

logger = logging.getLogger(__name__)


PUSH_HEARTBEAT_SECONDS = 10.0


class _HeartbeatReader:
    """Reads the stored file for the upload and, every few seconds, tells the database the push
    is alive (one small UPDATE outside any transaction)."""

    def __init__(self, source: IO[bytes], beat: Callable[[], None]) -> None:
        self._source = source
        self._beat = beat
        self._last = time.monotonic()

    def read(self, size: int = -1) -> bytes:
        self.beat()
        return self._source.read(size)

    def beat(self) -> None:
        """Tell the database, unless it was told less than PUSH_HEARTBEAT_SECONDS ago."""
        now = time.monotonic()
        if now - self._last >= PUSH_HEARTBEAT_SECONDS:
            self._last = now
            self._beat()

    def close(self) -> None:
        self._source.close()


def _wire_name_for(delivery: Delivery, sftp_user: SftpUser) -> str:
    return protocol.wire_file_name(
        sftp_user=sftp_user.username,
        area_code=delivery.data_area.code,
        kommune_code=delivery.kommune.code,
        period=period_compact(delivery.period),
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
                size_in_bytes=delivery.wire_size,
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
        "route__data_area",
        "route__sender_system__vendor",
        "data_area",
        "kommune",
        "endpoint",
        "it_system",
        "contract",
    ).get(pk=delivery_id)
    try:
        _check_still_open(delivery)
        login = sftp_login(it_system=delivery.it_system, endpoint=delivery.endpoint)
        if not delivery.wire_name:
            delivery.wire_name = _wire_name_for(delivery, login.sftp_user)
            delivery.transaction_id = uuid.uuid4()
            Delivery.objects.filter(pk=delivery_id).update(
                wire_name=delivery.wire_name, transaction_id=delivery.transaction_id
            )
        _sent_file_prepare(delivery, where=mine)
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
    return _push_sent(delivery, login=login, attempt=attempt)


def _push_sent(delivery: Delivery, *, login: SftpLogin, attempt: int) -> str | None:
    """Records the finished push as `sent`, if the delivery is still this try's, and asks for
    the receipt round that looks for the platform's answer."""
    mine = Q(push_attempts=attempt)
    if not delivery_transition(
        delivery_id=delivery.pk,
        old=DeliveryStatus.PUSHING,
        new=DeliveryStatus.SENT,
        where=mine,
        message=text(
            "event.sent",
            endpoint=str(delivery.endpoint),
            wire_name=delivery.wire_name,
            size=delivery.wire_size,
            infref=delivery.route.data_area.infref,
        ),
        sent_at=timezone.now(),
        **stored_as("last_error", ""),
        heartbeat_at=None,
        receipt_overdue_at=None,
    ):
        logger.warning("delivery %s was taken from push attempt %s meanwhile", delivery.pk, attempt)
        return None
    # The platform answers within seconds: look for the receipt soon, not at the next cron round.
    soon.receipt_round_soon(sftp_user_id=login.sftp_user.pk)
    return DeliveryStatus.SENT


def _check_still_open(delivery: Delivery) -> None:
    """Raises a permanent SftpError when the route is no longer established or the agreement no
    longer signed. Both were true at upload, but a push can come days later (retries, a
    person's «Prøv igen», a reconciled job): the rules hold at the moment the file leaves."""
    state = (
        Route.objects.filter(pk=delivery.route_id)
        .annotate(signed=access.signed_agreement())
        .values_list("status", "signed")
        .first()
    )
    status, signed = state if state is not None else ("", False)
    route = delivery.route
    if status != RouteStatus.ESTABLISHED:
        label = RouteStatus(status).label if status in RouteStatus.values else status
        raise SftpError(
            text("push.route_closed", route=str(route), status=str(label)), permanent=True
        )
    if not signed:
        raise SftpError(
            text(
                "push.agreement_not_signed",
                vendor=str(route.sender_system.vendor),
                kommune=str(delivery.kommune),
            ),
            permanent=True,
        )


def _sent_file_prepare(delivery: Delivery, *, where: Q) -> None:
    """Settles which bytes go to the recipients and records their size and SHA-256 on the
    delivery, before anything is sent: the upload as it is, or, when it is in another encoding
    than its contract's `sendEncoding`, a converted copy stored next to it. The upload itself is
    kept unchanged (it is what the vendor sent, and what the download gives back).

    A retry finds the copy of the earlier try and sends the same bytes again."""
    if delivery.sent_sha256:
        return
    target = send_encoding(delivery.contract.document if delivery.contract else None)
    if not needs_conversion(delivery.encoding, send=target):
        fields: dict[str, Any] = {
            "sent_encoding": delivery.encoding,
            "sent_size": delivery.size,
            "sent_sha256": delivery.sha256,
        }
    else:
        name, size, sha256 = _store_converted(delivery, target)
        fields = {
            "sent_file": name,
            "sent_encoding": target,
            "sent_size": size,
            "sent_sha256": sha256,
        }
    Delivery.objects.filter(where, pk=delivery.pk).update(**fields)
    for field, value in fields.items():
        setattr(delivery, field, value)


def _store_converted(delivery: Delivery, target: str) -> tuple[str, int, str]:
    """Converts the stored upload from its encoding to `target` in chunks (memory stays flat
    for a large file) and stores the copy beside it: (stored name, size, SHA-256). Line breaks
    and every character are kept; only their bytes change. The validator has already read the
    whole file in its encoding, so a character that cannot be decoded here is a changed file."""
    source_name = str(delivery.file.name)
    decoder = codecs.getincrementaldecoder(delivery.encoding)("strict")
    encoder = codecs.getincrementalencoder(target)("strict")
    digest = hashlib.sha256()
    size = 0
    try:
        source = open_stored(source_name)
    except FileNotFoundError:
        raise SftpError(text("push.file_missing", name=source_name), permanent=True) from None
    with source, tempfile.TemporaryFile() as spool:
        try:
            while chunk := source.read(1024 * 1024):
                encoded = encoder.encode(decoder.decode(chunk))
                digest.update(encoded)
                size += spool.write(encoded)
            encoded = encoder.encode(decoder.decode(b"", final=True), final=True)
        except UnicodeError as exc:
            raise SftpError(
                text(
                    "push.conversion_failed",
                    source=delivery.encoding,
                    target=target,
                    error=str(exc),
                ),
                permanent=True,
            ) from None
        digest.update(encoded)
        size += spool.write(encoded)
        spool.seek(0)
        stem = source_name.removesuffix(".csv")
        name = default_storage.save(f"{stem}.sendt-{target}.csv", File(spool))
    return name, size, digest.hexdigest()


def _send(delivery: Delivery, login: SftpLogin, *, beat_while: Q) -> None:
    """The network part of a push; raises SftpError. No database transaction is open here."""
    remote = f"{protocol.OUTBOX}/{delivery.wire_name}"

    def beat() -> None:
        try:
            Delivery.objects.filter(
                beat_while, pk=delivery.pk, status=DeliveryStatus.PUSHING
            ).update(heartbeat_at=timezone.now())
        except DatabaseError:
            # Best effort: a busy database must not break an upload that is going well; a
            # missed beat or two only matters after RECONCILE_STUCK_MINUTES of them.
            logger.warning("heartbeat of delivery %s not written", delivery.pk, exc_info=True)

    sending = str(delivery.sent_file.name or delivery.file.name)
    try:
        stored = open_stored(sending)
    except FileNotFoundError:
        raise SftpError(text("push.file_missing", name=sending), permanent=True) from None

    def connect() -> AbstractContextManager[sftp.SftpConnection]:
        return sftp.open_for_endpoint(sftp_user=login.sftp_user, private_key=login.private_key)

    reader = _HeartbeatReader(stored, beat)

    def open_part(start: int) -> IO[bytes]:
        # The first part reads through the heartbeat; the others (in threads of their own,
        # without a database connection) each open the stored file at their own offset.
        return cast(IO[bytes], reader) if start == 0 else open_stored(sending, start=start)

    connections = delivery.endpoint.parallel_connections
    with stored, connect() as connection:
        if len(sftp.part_ranges(delivery.wire_size, connections)) > 1:
            sftp.upload_in_parts(
                connection,
                open_connection=connect,
                open_source=open_part,
                remote_path=remote,
                size=delivery.wire_size,
                connections=connections,
                waiting=reader.beat,
            )
        else:
            connection.upload(cast(IO[bytes], reader), remote, size=delivery.wire_size)
        arrived = connection.remote_size(remote)
        if arrived != delivery.wire_size:
            raise SftpError(
                text(
                    "push.size_mismatch",
                    where=connection.where,
                    arrived=arrived,
                    remote=remote,
                    size=delivery.wire_size,
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
                    when=local_time_text(when),
                ),
                **_last_error(error),
                next_attempt_at=when,
                heartbeat_at=None,
            )
            if moved:
                enqueue_in_on_commit(SFTP, timedelta(seconds=delay), PUSH_JOB, delivery.pk)
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
