"""The Hent side: fetch what the Serviceplatform has put in a recipient's IN/ folder.

For each `IN/<name>.metadata` of a recipient SFTP user (FLIS, or a kommune's own LIS):

1. read and parse the metadata file (root `FileMetadata`, or `Trigger` from older clients);
2. check that the sender and the route are known and that the route names this recipient;
3. stream `IN/<name>` to a temporary file while computing its SHA-256, then into storage;
4. check the size against `SizeInBytes` and, when `SendersFileId` is a delivery of this
   portal, the SHA-256 against the one recorded at upload (end-to-end integrity);
5. record a `Receipt` (and move its delivery to `fetched`) in one short transaction;
6. only then remove `<name>` and `<name>.metadata` from IN/.

A crash between 5 and 6 leaves the files in IN/; the next round finds the Receipt by its
idempotency key and only removes them. A crash between 3 and 5 leaves a stored copy that no
Receipt names; the round that records the transfer removes such copies, and retention's nightly
sweep (deliveries/services/retention.py) those it does not see. Files that fail a check are
stored and recorded all the same, with the verdict saying why (quarantined): nothing leaves
IN/ unrecorded.

Any sender with a route to the recipient names its data file and fills its metadata, so every
value that becomes a path, a storage key or a column is checked first, no more is downloaded
than SizeInBytes allows, and one bad pair never stops the round (issue #14; "Hostile senders"
in docs/design/fetcher.md).

All SFTP work happens outside database transactions (STYLE: no network I/O inside atomic).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import get_valid_filename

from deliveries import protocol
from deliveries.lifecycle.states import AWAITING_FETCH, DeliveryStatus
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.messages import Text, stored_as, text
from deliveries.models import Delivery, Receipt, ReceiptVerdict
from deliveries.services import soon
from deliveries.services.sftp_login import sftp_login_as
from deliveries.sftp import SftpConnection, SftpError, SftpTooLarge, open_for_endpoint
from flisportal.lib.periods import (
    local_time_text,
    period_from_compact,
    period_of,
    period_shift,
)
from routes.models import DataArea, ITSystem, KeyState, Kommune, Route, SftpUser
from routes.validators import AUTHORITY_PREFIX

logger = logging.getLogger(__name__)

FETCHER = "hent"
# Derived ids (no FileTransferUUID in the file) are UUIDv5 in this namespace: stable, so that
# the same file fetched twice gets the same id.
_DERIVED_NAMESPACE = uuid.UUID("6f1c2b4e-9d0a-4c53-8f7e-2a1b3c4d5e6f")
# `<SFTPUSER>_<AREA>_<KOMMUNE>_<YYYYMM>_<id>.<ext>` (protocol.wire_file_name): the period of a
# file from another sender is read from its name when the name follows the convention.
_PERIOD_IN_NAME = re.compile(r"_(20\d{2}(?:0[1-9]|1[0-2]))_")
# The month folder received files are kept in (`_storage_name`).
_MONTH_FOLDER = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
# A FileTransferUUID becomes a storage key and a varchar(36) column: only the canonical form of
# a UUID is one (uuid.UUID() would also take braces, "urn:uuid:" and 32 bare hex digits).
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Bytes a data file may have beyond its SizeInBytes and still be downloaded (and then recorded
# as the wrong size); anything larger is refused unread, so a sender cannot fill the disk.
DOWNLOAD_MARGIN = 64 * 1024
# How long a `<x>.metadata` with no `<x>` beside it that is not the platform's metadata of <x>
# may wait for a metadata file of its own (it may be a sender's data file of that name): the
# platform writes a metadata file seconds after its data file.
ORPHAN_GRACE_SECONDS = 3600
# The largest value a BigIntegerField (Receipt.declared_size, .size) holds; SizeInBytes is an
# xs:unsignedLong and may be larger.
_MAX_RECORDED_SIZE = 2**63 - 1
# Characters no name from IN/ may carry: a path separator would reach outside IN/, a control
# character (NUL above all) cannot be stored in a PostgreSQL text column.
_UNSAFE_IN_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


@dataclass
class FetchSummary:
    """What one round for one recipient did, for the job result and the logs."""

    sftp_user: str
    recorded: list[str] = field(default_factory=list)  # FileTransferUUIDs of new receipts
    already_recorded: list[str] = field(default_factory=list)  # cleaned up after a crash
    verdicts: dict[str, int] = field(default_factory=dict)
    # Names of pairs left in IN/ this round (gone meanwhile, unreadable, or an unexpected
    # fault): the round went on with the next pair; the next round looks at them again.
    skipped: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class _Checked:
    """What the metadata file says and what the checks found, before the download."""

    metadata_xml: str
    key: str
    derived: bool
    metadata: protocol.FileMetadata | None = None
    verdict: str = ReceiptVerdict.OK
    said: Text | None = None  # why it failed its checks (stored in Danish, with its code)
    route: Route | None = None
    sender_system: ITSystem | None = None
    data_area: DataArea | None = None
    kommune: Kommune | None = None
    delivery: Delivery | None = None

    def fail(self, verdict: str, said: Text) -> None:
        # The first failed check is the verdict; later ones only add to the explanation.
        if self.verdict == ReceiptVerdict.OK:
            self.verdict = verdict
        self.said = (
            said
            if self.said is None
            else text("fetch.and", first=self.said.as_param(), then=said.as_param())
        )


def recipients_to_fetch() -> list[int]:
    """Ids of the recipient SFTP users the portal can log in as (an active key)."""
    return list(
        SftpUser.objects.filter(
            it_system__is_recipient=True, keys__state=KeyState.ACTIVE
        ).values_list("pk", flat=True)
    )


def receipts_fetch_soon(*, sftp_user_id: int) -> FetchSummary | None:
    """An extra fetch round for one recipient, asked for after a delivery to it was distributed
    (the RQ job `fetch_receipts_soon`; deliveries/services/soon.py). Within the login bound it
    fetches, then asks for the next round while a delivery routed to it is still not fetched.
    None when the round waits for the login bound or the user is gone."""
    if not soon.round_begin(soon.FETCH, sftp_user_id=sftp_user_id):
        return None
    sftp_user = SftpUser.objects.filter(pk=sftp_user_id).first()
    if sftp_user is None:
        return None
    summary = receipts_fetch(sftp_user_id=sftp_user_id)
    soon.fetch_round_again(sftp_user=sftp_user)
    return summary


def receipts_fetch(*, sftp_user_id: int) -> FetchSummary:
    """One fetch round for one recipient SFTP user; see the module docstring."""
    if transaction.get_connection().in_atomic_block:
        # Files leave IN/ once their receipt is committed; inside an outer transaction that
        # moment would come only after the files are gone.
        raise RuntimeError("receipts_fetch must not run inside a transaction")
    sftp_user = SftpUser.objects.select_related("endpoint", "it_system").get(pk=sftp_user_id)
    summary = FetchSummary(sftp_user=sftp_user.username)
    try:
        login = sftp_login_as(sftp_user=sftp_user)
    except SftpError as exc:
        # No active key, or one that cannot be decrypted: this recipient's round ends here
        # with the reason (the job result and the log say it); other recipients' rounds are
        # jobs of their own and go on.
        logger.warning("fetch for %s not started: %s", sftp_user.username, exc)
        summary.error = str(exc)
        return summary
    try:
        with open_for_endpoint(
            sftp_user=login.sftp_user, private_key=login.private_key
        ) as connection:
            for data_name, data_present in _pairs(connection.listdir(protocol.INBOX)):
                _fetch_pair(
                    connection,
                    sftp_user=sftp_user,
                    data_name=data_name,
                    data_present=data_present,
                    summary=summary,
                )
    except SftpError as exc:
        # Nothing half-done is recorded: what was not committed stays in IN/ for the next round.
        logger.warning("fetch for %s stopped: %s", sftp_user.username, exc)
        summary.error = str(exc)
    receipts_catch_up()
    return summary


def _pairs(names: list[str]) -> list[tuple[str, bool]]:
    """(data file name, whether it is there) for each metadata file in a listing of IN/.

    Any sender names its own data file, so `a.metadata` may be a data file whose metadata is
    `a.metadata.metadata`: a name whose own metadata file lies beside it is a data file, never
    taken for the platform's metadata of `a`."""
    present = set(names)
    pairs = []
    for name in names:
        if not name.endswith(protocol.METADATA_SUFFIX):
            continue
        if f"{name}{protocol.METADATA_SUFFIX}" in present:
            continue
        data_name = name.removesuffix(protocol.METADATA_SUFFIX)
        pairs.append((data_name, data_name in present))
    return pairs


def _fetch_pair(
    connection: SftpConnection,
    *,
    sftp_user: SftpUser,
    data_name: str,
    data_present: bool,
    summary: FetchSummary,
) -> None:
    """One pair, whatever it holds: one bad pair never stops the round (issue #14)."""
    try:
        _fetch_one(
            connection,
            sftp_user=sftp_user,
            data_name=data_name,
            data_present=data_present,
            summary=summary,
        )
    except SftpError as exc:
        if not exc.permanent:
            raise  # the connection is gone: stop this round
        # This pair only (gone meanwhile, or not readable): nothing was recorded for it, so
        # whatever is still in IN/ is looked at again next round.
        logger.warning("fetch of IN/%s skipped: %s", _shown(data_name), exc)
        summary.skipped.append(_shown(data_name))
    except OSError:
        # The portal's own disk or storage: every pair would fail the same way, so the round
        # stops once, with the fault, instead of failing each pair in turn.
        raise
    except Exception:
        # A fault no check foresaw (the checks in `_check` and `_fetch_one` are meant to leave
        # none a sender can cause): logged with its traceback, the pair stays in IN/ and the
        # round goes on with the next one.
        logger.exception("fetch of IN/%s failed; the round goes on", _shown(data_name))
        summary.skipped.append(_shown(data_name))


def _shown(value: str, limit: int = 255) -> str:
    """A value from the platform as it may be shown, logged and stored: control characters
    (NUL cannot be stored in PostgreSQL) replaced, and cut to `limit` characters."""
    cleaned = re.sub(r"[\x00-\x1f\x7f]", "\ufffd", value)
    return cleaned if len(cleaned) <= limit else f"{cleaned[: limit - 1]}…"


def receipts_catch_up() -> int:
    """Moves to `fetched` the deliveries whose good receipt is recorded but which were not yet
    `sent` when it was (the push job records `sent` after the platform may already have
    distributed the file). Returns how many moved."""
    moved = 0
    pending = (
        Receipt.objects.filter(verdict=ReceiptVerdict.OK, delivery__status__in=AWAITING_FETCH)
        .select_related("recipient_system", "recipient_sftp_user", "delivery")
        .order_by("fetched_at")
    )
    for receipt in pending:
        assert receipt.delivery is not None
        moved += _mark_fetched(receipt, old=receipt.delivery.status)
    return moved


def _mark_fetched(receipt: Receipt, *, old: str) -> int:
    if old not in AWAITING_FETCH or receipt.delivery_id is None:
        return 0
    fields: dict[str, Any] = {}
    if old == DeliveryStatus.SENT and not receipt.uuid_derived:
        # Fetched before the receipts job read the platform's technical receipt: record the
        # transfer's id now, so that job recognises that receipt as already accounted for
        # instead of keeping it aside as one that matches no transfer.
        fields["file_transfer_uuid"] = receipt.filetransfer_uuid
    return int(
        delivery_transition(
            delivery_id=receipt.delivery_id,
            old=old,
            new=DeliveryStatus.FETCHED,
            actor_label=FETCHER,
            **fields,
            message=text(
                "event.fetched",
                system=receipt.recipient_system.name,
                user=receipt.recipient_sftp_user.username,
                when=local_time_text(receipt.fetched_at, seconds=False),
                uuid=receipt.filetransfer_uuid,
            ),
        )
    )


def _fetch_one(
    connection: SftpConnection,
    *,
    sftp_user: SftpUser,
    data_name: str,
    data_present: bool,
    summary: FetchSummary,
) -> None:
    if _UNSAFE_IN_NAME.search(data_name) or data_name in ("", ".", ".."):
        _record_unsafe_name(sftp_user=sftp_user, data_name=data_name, summary=summary)
        return
    metadata_path = f"{protocol.INBOX}/{data_name}{protocol.METADATA_SUFFIX}"
    data_path = f"{protocol.INBOX}/{data_name}"
    raw = _read_metadata(connection, metadata_path)
    checked = _check(raw, sftp_user=sftp_user, data_name=data_name)
    if (
        not data_present
        and not _describes(checked, data_name)
        and time.time() - connection.remote_mtime(metadata_path) < ORPHAN_GRACE_SECONDS
    ):
        # Alone, and not the platform's metadata of a file of that name: perhaps a sender's
        # data file called `<x>.metadata` whose own metadata file is not written yet. Left for
        # a later round rather than taken for metadata and removed; once it has lain alone for
        # the grace period it is recorded (and removed) like any unreadable metadata file, so
        # it is not read again every round for ever.
        logger.info("IN/%s left alone: no data file beside it", _shown(metadata_path))
        summary.skipped.append(_shown(data_name))
        return

    existing = _recorded(sftp_user, checked.key).first()
    if existing is not None:
        # Recorded in an earlier round that did not get to remove the files (a crash, a lost
        # connection): the receipt and the stored file are safe, so only clean up.
        summary.already_recorded.append(checked.key)
        _drop_unrecorded_copies(existing)
        _remove(connection, data_path if data_present else None, metadata_path)
        return

    if data_present:
        fetched = _fetch_data(connection, checked, sftp_user=sftp_user, data_name=data_name)
        if fetched is None:
            # A round beside this one recorded the same transfer while this copy was being
            # written, and removed it as one of the copies it does not keep.
            summary.already_recorded.append(checked.key)
            _remove(connection, data_path, metadata_path)
            return
        stored_name, size, sha256 = fetched
    else:
        stored_name, size, sha256 = "", 0, ""
        checked.fail(
            ReceiptVerdict.SIZE_MISMATCH,
            text("fetch.data_missing", name=data_name),
        )

    _record_fetched(
        checked,
        sftp_user=sftp_user,
        data_name=data_name,
        stored=(stored_name, size, sha256),
        summary=summary,
    )
    _remove(connection, data_path if data_present else None, metadata_path)


def _describes(checked: _Checked, data_name: str) -> bool:
    return checked.metadata is not None and checked.metadata.descriptor.file_name == data_name


def _fetch_data(
    connection: SftpConnection, checked: _Checked, *, sftp_user: SftpUser, data_name: str
) -> tuple[str, int, str] | None:
    """Downloads and stores the data file: (stored name, size, SHA-256), or None when another
    round recorded the same transfer meanwhile. A file larger than its metadata allows is
    refused unread: ("", its size, "") with the verdict saying why."""
    data_path = f"{protocol.INBOX}/{data_name}"
    limit = _download_limit(checked)
    remote_size = connection.remote_size(data_path)
    if remote_size > limit:
        _refuse_too_large(checked, size=remote_size, limit=limit)
        return "", min(remote_size, _MAX_RECORDED_SIZE), ""
    with tempfile.TemporaryFile(prefix="flis-fetch-") as spool:
        # Through a temporary file: memory stays flat whatever the size, and the storage
        # folder (quarantine or not) is known only once the checks have run.
        try:
            size, sha256 = connection.download(data_path, spool, limit=limit)
        except SftpTooLarge as exc:
            # It grew between the look at its size and the download.
            _refuse_too_large(checked, size=exc.size, limit=limit)
            return "", exc.size, ""
        _check_file(checked, size=size, sha256=sha256)
        spool.seek(0)
        try:
            stored_name = default_storage.save(
                _storage_name(sftp_user, checked, data_name), File(spool)
            )
        except FileNotFoundError:
            if not _recorded(sftp_user, checked.key).exists():
                raise
            return None
    return stored_name, size, sha256


def _download_limit(checked: _Checked) -> int:
    declared = checked.metadata.descriptor.size_in_bytes if checked.metadata else None
    if declared is None or declared > _MAX_RECORDED_SIZE:
        # Nothing to trust about the size: no more than the portal takes in an upload.
        return int(settings.MAX_UPLOAD_BYTES)
    return declared + DOWNLOAD_MARGIN


def _refuse_too_large(checked: _Checked, *, size: int, limit: int) -> None:
    if checked.metadata is not None and checked.metadata.descriptor.size_in_bytes <= limit:
        said = text(
            "fetch.too_large", size=size, declared=checked.metadata.descriptor.size_in_bytes
        )
    else:
        said = text("fetch.too_large_unknown", size=size, limit=limit)
    checked.fail(ReceiptVerdict.SIZE_MISMATCH, said)


def _record_fetched(
    checked: _Checked,
    *,
    sftp_user: SftpUser,
    data_name: str,
    stored: tuple[str, int, str],
    summary: FetchSummary,
) -> None:
    stored_name, size, sha256 = stored
    try:
        receipt = _record(
            checked,
            sftp_user=sftp_user,
            data_name=data_name,
            stored_name=stored_name,
            size=size,
            sha256=sha256,
        )
    except BaseException:
        # Not recorded: no stored copy may outlive it (the pair is fetched again next round).
        if stored_name:
            default_storage.delete(stored_name)
        raise
    if receipt is None:
        # Another worker recorded the same transfer meanwhile; its copy is the one kept.
        if stored_name:
            default_storage.delete(stored_name)
        summary.already_recorded.append(checked.key)
    else:
        summary.recorded.append(checked.key)
        summary.verdicts[receipt.verdict] = summary.verdicts.get(receipt.verdict, 0) + 1
        _drop_unrecorded_copies(receipt)


def _record_unsafe_name(*, sftp_user: SftpUser, data_name: str, summary: FetchSummary) -> None:
    """A name that is no plain file name (a path separator, a control character, `..`): the
    fetcher opens and removes nothing by it, since `IN/<name>` could lead outside IN/. It is
    recorded once, so the inbox shows it; later rounds pass it by."""
    checked = _Checked(
        metadata_xml="",
        key=_derived_key("unsafe-name", str(sftp_user.pk), data_name),
        derived=True,
    )
    if _recorded(sftp_user, checked.key).exists():
        return
    checked.fail(
        ReceiptVerdict.MALFORMED_METADATA, text("fetch.unsafe_name", name=_shown(data_name))
    )
    _record_fetched(
        checked, sftp_user=sftp_user, data_name=data_name, stored=("", 0, ""), summary=summary
    )


def _recorded(sftp_user: SftpUser, key: str) -> QuerySet[Receipt]:
    return Receipt.objects.filter(recipient_system_id=sftp_user.it_system_id, filetransfer_uuid=key)


def _read_metadata(connection: SftpConnection, path: str) -> bytes:
    # A metadata file is a few hundred bytes; anything past the protocol's cap is not one and
    # is not read further (it is recorded as malformed, see `_check`).
    if connection.remote_size(path) > protocol.MAX_XML_BYTES:
        return b""
    buffer = io.BytesIO()
    connection.download(path, buffer)
    return buffer.getvalue()


def _derived_key(*parts: str) -> str:
    return str(uuid.uuid5(_DERIVED_NAMESPACE, "\x1f".join(parts)))


def _check(raw: bytes, *, sftp_user: SftpUser, data_name: str) -> _Checked:
    # NUL cannot be stored in a PostgreSQL text column; the XML parser refuses such a file.
    xml = raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    try:
        metadata = protocol.parse_file_metadata(raw) if raw else None
        if metadata is None:
            raise protocol.ProtocolError(
                "Metadatafilen er tom eller for stor.",
                "The metadata file is empty or too large.",
                element="(fil)",
            )
    except protocol.ProtocolError as exc:
        checked = _Checked(
            metadata_xml=xml[:20000],
            key=_derived_key(
                "malformed", str(sftp_user.pk), data_name, hashlib.sha256(raw).hexdigest()
            ),
            derived=True,
        )
        checked.fail(
            ReceiptVerdict.MALFORMED_METADATA,
            text("bilingual", da=exc.message_da, en=exc.message_en),
        )
        return checked

    checked = _keyed(metadata, raw=raw, xml=xml, sftp_user=sftp_user, data_name=data_name)
    descriptor = metadata.descriptor
    if descriptor.size_in_bytes > _MAX_RECORDED_SIZE:
        checked.fail(
            ReceiptVerdict.MALFORMED_METADATA,
            text("fetch.bad_size", declared=descriptor.size_in_bytes),
        )
    if descriptor.file_name != data_name:
        checked.fail(
            ReceiptVerdict.MALFORMED_METADATA,
            text("fetch.misplaced", described=descriptor.file_name, name=data_name),
        )
    _check_route(checked, sftp_user=sftp_user)
    return checked


def _keyed(
    metadata: protocol.FileMetadata, *, raw: bytes, xml: str, sftp_user: SftpUser, data_name: str
) -> _Checked:
    """The checks' record of a readable metadata file, under the transfer's idempotency key.

    The key becomes a storage path and a varchar(36) column, so a FileTransferUUID that is not
    a UUID (`../../x`, 300 characters) is never used: the pair is quarantined under an id
    derived from the file itself, stable across rounds like the other derived ids."""
    descriptor = metadata.descriptor
    claimed = metadata.file_transfer_uuid
    if claimed is None:
        # `Trigger` root: the sender's own id is what identifies the file.
        key = _derived_key(
            "trigger", descriptor.sender, descriptor.senders_file_id or "", descriptor.file_name
        )
        return _Checked(metadata_xml=xml, key=key, derived=True, metadata=metadata)
    if _UUID.fullmatch(claimed):
        return _Checked(metadata_xml=xml, key=claimed.lower(), derived=False, metadata=metadata)
    checked = _Checked(
        metadata_xml=xml,
        key=_derived_key("bad-uuid", str(sftp_user.pk), data_name, hashlib.sha256(raw).hexdigest()),
        derived=True,
        metadata=metadata,
    )
    checked.fail(
        ReceiptVerdict.MALFORMED_METADATA, text("fetch.bad_uuid", value=_shown(claimed, 60))
    )
    return checked


def _check_route(checked: _Checked, *, sftp_user: SftpUser) -> None:
    """Sender and route known, and the route names this recipient (DESIGN §3: readers check
    that Sender is who the route says and that the route matches the metadata)."""
    assert checked.metadata is not None
    descriptor, routing = checked.metadata.descriptor, checked.metadata.routing
    sender = (
        SftpUser.objects.select_related("it_system")
        .filter(endpoint_id=sftp_user.endpoint_id, username=descriptor.sender)
        .first()
    )
    if routing is not None:
        checked.data_area = DataArea.objects.filter(infref=routing.infref).first()
        checked.kommune = Kommune.objects.filter(
            cvr=routing.recipient_authority.removeprefix(AUTHORITY_PREFIX)
        ).first()
        checked.sender_system = ITSystem.objects.filter(uuid=routing.sender_it_system).first()
    if sender is None:
        checked.fail(
            ReceiptVerdict.UNKNOWN_ROUTE,
            text(
                "fetch.unknown_sender", sender=descriptor.sender, endpoint=sftp_user.endpoint.name
            ),
        )
        return
    if routing is None:
        checked.fail(
            ReceiptVerdict.UNKNOWN_ROUTE,
            text("fetch.no_routing"),
        )
        return
    if sender.it_system.uuid != routing.sender_it_system:
        checked.fail(
            ReceiptVerdict.UNKNOWN_ROUTE,
            text(
                "fetch.wrong_system",
                sender=descriptor.sender,
                system=str(sender.it_system.uuid),
                declared=str(routing.sender_it_system),
            ),
        )
        return
    if checked.data_area is None:
        checked.fail(
            ReceiptVerdict.UNKNOWN_ROUTE, text("fetch.unknown_infref", infref=routing.infref)
        )
        return
    route = (
        Route.objects.for_routing(
            endpoint_id=sftp_user.endpoint_id,
            data_area=checked.data_area,
            sender_system_uuid=routing.sender_it_system,
            sender_authority=routing.sender_authority,
            recipient_authority=routing.recipient_authority,
        )
        .filter(recipient_systems=sftp_user.it_system_id)
        .select_related("kommune")
        .first()
    )
    if route is None:
        checked.fail(
            ReceiptVerdict.UNKNOWN_ROUTE,
            text(
                "fetch.no_route",
                infref=routing.infref,
                sender=descriptor.sender,
                sender_authority=routing.sender_authority,
                recipient_authority=routing.recipient_authority,
                recipient=sftp_user.it_system.name,
            ),
        )
        return
    checked.route = route
    checked.kommune = route.kommune
    checked.delivery = _delivery_sent_as(descriptor.senders_file_id, sender_system=sender.it_system)


def _delivery_sent_as(senders_file_id: str | None, *, sender_system: ITSystem) -> Delivery | None:
    """The portal's delivery behind a SendersFileId, when the sender is one of the portal's
    systems: the portal's SendersFileIds are UUIDs, anything else is another sender's own."""
    if not senders_file_id:
        # A trigger may carry no SendersFileId at all (uuid.UUID(None) would raise TypeError).
        return None
    try:
        wanted = uuid.UUID(senders_file_id)
    except ValueError:
        return None
    return Delivery.objects.filter(uuid=wanted, it_system=sender_system).first()


def _check_file(checked: _Checked, *, size: int, sha256: str) -> None:
    if checked.metadata is None:
        return
    declared = checked.metadata.descriptor.size_in_bytes
    if size != declared:
        checked.fail(
            ReceiptVerdict.SIZE_MISMATCH,
            text("fetch.size", size=size, declared=declared),
        )
    # The bytes sent, not the upload: a file converted to the contract's encoding before the
    # push differs from the upload by design (Delivery.wire_sha256).
    if checked.delivery is not None and sha256 != checked.delivery.wire_sha256:
        checked.fail(
            ReceiptVerdict.CHECKSUM_MISMATCH,
            text("fetch.checksum", fetched=sha256[:16], uploaded=checked.delivery.wire_sha256[:16]),
        )


def _storage_name(sftp_user: SftpUser, checked: _Checked, data_name: str) -> str:
    # The wire name comes from a remote server: only a cleaned-up form of it goes into the
    # storage path. Files that fail a check go to their own folder (quarantine).
    folder = "receipts" if checked.verdict == ReceiptVerdict.OK else "receipts/quarantine"
    month = period_of(timezone.now())
    return (
        f"{folder}/{get_valid_filename(sftp_user.username)}/{month}/"
        f"{checked.key}_{_storage_safe(data_name)}"
    )


def _storage_safe(data_name: str) -> str:
    """The sender's name reduced to what a storage name may hold, or `fil` when nothing is left
    of it (`+++`, `$`, `(!)`: get_valid_filename then raises instead of returning "")."""
    try:
        safe = get_valid_filename(data_name[:120])
    except SuspiciousFileOperation:
        return "fil"
    # At most 120 bytes: letters outside ASCII take up to four each, and a file system refuses
    # a name over 255 bytes (an OSError, which would stop the round).
    while len(safe.encode()) > 120:
        safe = safe[:-1]
    return safe.rstrip(".") or "fil"


def _drop_unrecorded_copies(receipt: Receipt) -> None:
    """Deletes the other stored copies of this receipt's transfer: left by a round whose worker
    was killed after storing the file and before recording it (storage then gave this round's
    copy a name of its own). Safe once this receipt is committed: the idempotency key means no
    other copy of the same transfer can ever be recorded for this recipient.

    Copies are kept in a folder per month (`_storage_name`); a round killed on the last day of
    a month left its copy in that month's folder, so the previous month's is looked in too."""
    if not receipt.file.name:
        return
    folder = receipt.file.name.rpartition("/")[0]
    parent, _, month = folder.rpartition("/")
    folders = [folder]
    if _MONTH_FOLDER.fullmatch(month):
        folders.append(f"{parent}/{period_shift(month, -1)}")
    # Every copy's name starts with the key (`_storage_name`; storage adds a suffix to a taken
    # name, at the end).
    prefix = f"{receipt.filetransfer_uuid}_"
    for place in folders:
        try:
            _, names = default_storage.listdir(place)
        except FileNotFoundError:
            continue  # no such folder (or retention removed it): nothing left over there
        for name in names:
            if name.startswith(prefix) and f"{place}/{name}" != receipt.file.name:
                logger.info("removing unrecorded copy %s/%s", place, name)
                default_storage.delete(f"{place}/{name}")


def _period(checked: _Checked, data_name: str) -> str:
    if checked.delivery is not None:
        return checked.delivery.period
    match = _PERIOD_IN_NAME.search(data_name)
    return period_from_compact(match.group(1)) if match else ""


def _record(
    checked: _Checked,
    *,
    sftp_user: SftpUser,
    data_name: str,
    stored_name: str,
    size: int,
    sha256: str,
) -> Receipt | None:
    """Writes the receipt (and the delivery's move to `fetched`) in one short transaction.
    None when the same transfer was recorded by someone else first."""
    descriptor = checked.metadata.descriptor if checked.metadata else None
    routing = checked.metadata.routing if checked.metadata else None
    receipt = Receipt(
        filetransfer_uuid=checked.key,
        uuid_derived=checked.derived,
        recipient_sftp_user=sftp_user,
        recipient_system=sftp_user.it_system,
        file_name=_shown(data_name),
        declared_size=(
            descriptor.size_in_bytes
            if descriptor and descriptor.size_in_bytes <= _MAX_RECORDED_SIZE
            else None
        ),
        size=size,
        sha256=sha256,
        sender=descriptor.sender[:255] if descriptor else "",
        senders_file_id=(descriptor.senders_file_id or "")[:255] if descriptor else "",
        sender_system=checked.sender_system,
        sender_system_uuid=routing.sender_it_system if routing else "",
        sender_authority=routing.sender_authority if routing else "",
        recipient_authority=routing.recipient_authority if routing else "",
        infref=routing.infref[:255] if routing else "",
        data_area=checked.data_area,
        kommune=checked.kommune,
        period=_period(checked, data_name),
        route=checked.route,
        delivery=checked.delivery,
        verdict=checked.verdict,
        **stored_as("verdict_detail", checked.said if checked.said is not None else ""),
        metadata_xml=checked.metadata_xml,
    )
    receipt.file.name = stored_name
    try:
        with transaction.atomic():
            receipt.save()
            if receipt.verdict == ReceiptVerdict.OK and checked.delivery is not None:
                # Read inside the transaction: the push side may have moved it meanwhile.
                status = (
                    Delivery.objects.filter(pk=checked.delivery.pk)
                    .values_list("status", flat=True)
                    .get()
                )
                _mark_fetched(receipt, old=status)
    except IntegrityError:
        return None
    logger.info(
        "receipt %s %s for %s: %s",
        receipt.filetransfer_uuid,
        receipt.file_name,
        sftp_user.username,
        receipt.verdict,
    )
    return receipt


def _remove(connection: SftpConnection, data_path: str | None, metadata_path: str) -> None:
    """Removes the fetched pair from IN/, data file first: a metadata file left alone is
    fetched again (and recognised); a data file left alone would never be looked at."""
    for path in (data_path, metadata_path):
        if path is None:
            continue
        try:
            connection.remove(path)
        except SftpError as exc:
            if not exc.permanent:
                raise
            # Already gone (another worker was faster) or not ours to remove: the receipt is
            # recorded either way; the next round tries again if the file is still there.
            logger.info("could not remove %s: %s", path, exc)
