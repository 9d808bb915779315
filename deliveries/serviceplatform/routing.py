"""What the stand-in does with a completed trigger upload: check it, then distribute or refuse.

This is plain synchronous code (files and the ORM); the SFTP server calls it in a worker thread
once `OUT/<name>.trigger` has been closed by its uploader. The checks follow DESIGN §3:

1. the trigger itself: size cap, well-formed XML without DTD/entities, KOMBIT's schema;
2. who sends: `Sender` is the logged-in SFTP user, `SenderIt-system` that user's IT-system;
3. a SendersFileId already distributed for this sender is answered with the first receipt;
4. the data file: a safe name, present in OUT/, exactly `SizeInBytes` long;
5. routing: the InfRef is known, an *established* route exists for (InfRef, sender system,
   sender authority, recipient authority[, recipient system]) on this endpoint, and every
   recipient system has an SFTP user here (a simple transfer names SFTP users directly);
6. no recipient already has a file of that name waiting in IN/.

Every decision is one structured log line and one `PlatformDecision` row.

A distribution is written ahead, so that a crash (SIGKILL, power) at any point of it ends, after
the restart, as if there had been none — the real platform answers every trigger exactly once:

1. the data file is copied out of OUT/ into the root's `.staging/` before the checks decide;
2. the decision row is written with outcome DISTRIBUTING, holding everything needed to finish:
   the FileTransferUUID, the recipients, the metadata file's and the receipt's bytes, and the
   name of the staged copy (now kept until the decision is final);
3. each recipient gets the data file and then the metadata file, and is noted on the row;
4. the data file is removed from the sender's OUT/ and the receipt placed in its IN/;
5. the row becomes DISTRIBUTED and the staged copy is deleted.

A row left in DISTRIBUTING is completed (`_distribution_complete`: only what is missing, the same
files and FileTransferUUID) when the stand-in starts, before it accepts logins
(`distributions_resume`), by `trigger_recover`, by a new trigger with the same SendersFileId, and
instead of refusing a trigger whose processing failed half-way (`trigger_refuse_internal`): once
a recipient may have the file, the sender must not be told it was refused.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import IntegrityError

from deliveries import protocol
from deliveries.serviceplatform.errors import PlatformError
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from flisportal.lib.periods import local_time_text
from routes.models import DataArea, Route, SftpUser

logger = logging.getLogger("deliveries.serviceplatform")

# One stand-in process distributes one trigger at a time, from the duplicate check until its
# decision is final: two triggers with the same SendersFileId, or two files of the same name for
# the same recipient, must not both pass their checks before either lands, and a distribution
# being completed after a crash must not race the trigger that asks for it again. (Across
# processes on one database, the unique constraint on in-progress and distributed SendersFileIds
# stops the second before it places anything.)
_distribution_lock = threading.Lock()

# Endings the platform gives its own files: a data file may not wear them.
_RESERVED_SUFFIXES = (protocol.METADATA_SUFFIX, protocol.RECEIPT_SUFFIX, protocol.TRIGGER_SUFFIX)

# Kept copies of data files being distributed, in the stand-in's root (no user's home).
STAGING = ".staging"
_PROTOCOL_KIND_TO_ERROR = {
    protocol.ProtocolError.TOO_LARGE: PlatformError.TRIGGER_TOO_LARGE,
    protocol.ProtocolError.MALFORMED: PlatformError.XML_MALFORMED,
    protocol.ProtocolError.FORBIDDEN: PlatformError.XML_FORBIDDEN,
    protocol.ProtocolError.SCHEMA: PlatformError.SCHEMA_INVALID,
}


@dataclass(frozen=True)
class Refusal:
    # The one kind of stored text that does not go through the portal's catalogue
    # (deliveries.messages.stored_as): these are the platform's words, not the portal's. The
    # stand-in plays KOMBIT's Serviceplatform, which writes them into the receipt's
    # ErrorMessage, Danish with the English after it, and keeps them in PlatformDecision.message
    # for whoever runs the stand-in; the portal reads them from the receipt like any other
    # platform's words. A catalogue text here would make the stand-in speak with the portal's
    # voice and tie it to the portal's vocabulary.
    error: PlatformError
    detail_da: str
    detail_en: str

    def as_error_message(self) -> protocol.ErrorMessage:
        return protocol.ErrorMessage(
            code=self.error.code,
            code_description=self.error.danish,
            description=f"{self.detail_da} (English: {self.detail_en})",
        )


@dataclass
class _Checked:
    """What the checks found out about one trigger."""

    trigger: protocol.Trigger | None = None
    sender_ok: bool = False
    refusals: list[Refusal] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)  # SFTP user names

    def refuse(self, error: PlatformError, detail_da: str, detail_en: str) -> None:
        self.refusals.append(Refusal(error, detail_da, detail_en))


def home_of(root: Path, username: str) -> Path:
    """`<root>/<username>/` with its OUT/ and IN/, created on first use."""
    home = root / username
    for folder in (protocol.OUTBOX, protocol.INBOX):
        (home / folder).mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def trigger_process(
    *, endpoint_id: int, username: str, root: Path, trigger_name: str
) -> PlatformDecision | None:
    """Act on `<root>/<username>/OUT/<trigger_name>`, whose upload has just completed.

    Returns the decision row, or None when the trigger was gone before it could be read (the
    sender removed or replaced it; nothing to answer).
    """
    home = home_of(root, username)
    trigger_path = home / protocol.OUTBOX / trigger_name
    stem = trigger_name.removesuffix(protocol.TRIGGER_SUFFIX)
    try:
        identity, data = _read_trigger(trigger_path)
    except FileNotFoundError:
        return None
    checked = _check(endpoint_id=endpoint_id, username=username, home=home, data=data)
    staging: Path | None = None
    try:
        if not checked.refusals:
            assert checked.trigger is not None
            # Copied out of OUT/ before anything is decided, so that what lands in the
            # recipients' IN/ is exactly what was checked, even if the sender writes on.
            staging = _stage(root, home / protocol.OUTBOX / checked.trigger.descriptor.file_name)
            if staging.stat().st_size != checked.trigger.descriptor.size_in_bytes:
                checked.refuse(
                    PlatformError.SIZE_MISMATCH,
                    "Datafilen ændrede sig, mens den blev modtaget.",
                    "The data file changed while it was being received.",
                )
        with _distribution_lock:
            decision = _decide(
                endpoint_id=endpoint_id,
                username=username,
                root=root,
                home=home,
                trigger_name=trigger_name,
                stem=stem,
                checked=checked,
                staging=staging,
            )
    finally:
        if staging is not None:
            staging.unlink(missing_ok=True)
    _remove_if_unchanged(trigger_path, identity)
    _log(decision)
    return decision


def trigger_recover(
    *, endpoint_id: int, username: str, root: Path, trigger_name: str
) -> PlatformDecision | None:
    """Act on a trigger found in OUT/ when the stand-in starts: one whose upload was closed
    while no stand-in was running, or that a crash left unanswered.

    The real platform answers every complete trigger, also after a restart of its own; so does
    the stand-in, once:

    - a trigger whose distribution a crash cut off (decision DISTRIBUTING) is completed: the
      recipients get what they are missing, the sender the receipt of that distribution;
    - a trigger that already has a decision row newer than the file was answered before the
      crash (only its removal was lost): it is removed, nothing is sent again;
    - a trigger that is not well-formed XML is taken for an upload cut off mid-way (no client
      closed it) and left alone, as it would have been without the restart;
    - everything else is processed exactly as if its upload had just been closed.
    """
    trigger_path = home_of(root, username) / protocol.OUTBOX / trigger_name
    completed = _complete_pending_trigger(
        endpoint_id=endpoint_id, username=username, root=root, trigger_name=trigger_name
    )
    if completed is not None:
        logger.info(
            "distribution of OUT/%s of %s, cut off before the restart, completed",
            trigger_name,
            username,
        )
        return completed
    try:
        identity, data = _read_trigger(trigger_path)
    except FileNotFoundError:
        return None
    modified = _modified(identity)
    answered = PlatformDecision.objects.filter(
        endpoint_id=endpoint_id,
        sender_username=username,
        trigger_name=trigger_name,
        at__gte=modified,
    ).exists()
    if answered:
        logger.info("OUT/%s of %s was answered before the restart: removed", trigger_name, username)
        _remove_if_unchanged(trigger_path, identity)
        return None
    try:
        protocol.parse_trigger(data)
    except protocol.ProtocolError as exc:
        if exc.kind == protocol.ProtocolError.MALFORMED:
            logger.info(
                "OUT/%s of %s is not well-formed (an interrupted upload?): not processed",
                trigger_name,
                username,
            )
            return None
    return trigger_process(
        endpoint_id=endpoint_id, username=username, root=root, trigger_name=trigger_name
    )


def distributions_resume(*, endpoint_id: int, root: Path) -> list[PlatformDecision]:
    """Complete every distribution of this endpoint that a crash left in progress, and delete
    staged copies that no distribution in progress needs (a crash between copying a data file
    and deciding on it leaves one behind; its trigger is processed again).

    Run when the stand-in starts, before it accepts logins: a recipient must not fetch and
    remove a file that the completion would then find missing and place a second time."""
    done: list[PlatformDecision] = []
    with _distribution_lock:
        pending = PlatformDecision.objects.filter(
            endpoint_id=endpoint_id, outcome=PlatformOutcome.DISTRIBUTING
        ).order_by("at", "pk")
        for decision in pending:
            try:
                done.append(_distribution_complete(decision, root=root))
            except Exception:
                # Left in progress, with its staged copy, for the next attempt.
                logger.exception(
                    "distribution of OUT/%s of %s could not be completed",
                    decision.trigger_name,
                    decision.sender_username,
                )
        needed = set(
            PlatformDecision.objects.filter(outcome=PlatformOutcome.DISTRIBUTING).values_list(
                "staged_name", flat=True
            )
        )
        try:
            staged = list(os.scandir(root / STAGING))
        except FileNotFoundError:
            staged = []
        for entry in staged:
            if entry.name not in needed:
                Path(entry.path).unlink(missing_ok=True)
    for decision in done:
        logger.info(
            "distribution of OUT/%s of %s, cut off by a crash, completed",
            decision.trigger_name,
            decision.sender_username,
        )
        _log(decision)
    return done


def triggers_waiting(root: Path, usernames: list[str]) -> list[tuple[str, str]]:
    """(user, trigger name) of every trigger file directly in a user's OUT/, oldest first."""
    found: list[tuple[int, str, str]] = []
    for username in usernames:
        folder = root / username / protocol.OUTBOX
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.name.endswith(protocol.TRIGGER_SUFFIX) and entry.is_file(
                follow_symlinks=False
            ):
                found.append((entry.stat(follow_symlinks=False).st_mtime_ns, username, entry.name))
    return [(username, name) for _, username, name in sorted(found)]


def _read_trigger(path: Path) -> tuple[tuple[int, int], bytes]:
    # O_NOFOLLOW: the stand-in never follows a link a user might have planted in OUT/.
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        # Read one byte past the cap so that an oversized file is recognised without reading
        # (or holding) all of it.
        data = handle.read(protocol.MAX_XML_BYTES + 1)
    return (info.st_ino, info.st_mtime_ns), data


def _modified(identity: tuple[int, int]) -> datetime:
    return datetime.fromtimestamp(identity[1] / 1e9, tz=UTC)


def _remove_if_unchanged(path: Path, identity: tuple[int, int]) -> None:
    """Remove the processed trigger, unless the sender has already uploaded a new one."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if (info.st_ino, info.st_mtime_ns) == identity:
        path.unlink(missing_ok=True)


def _check(*, endpoint_id: int, username: str, home: Path, data: bytes) -> _Checked:
    checked = _Checked()
    try:
        trigger = protocol.parse_trigger(data)
    except protocol.ProtocolError as exc:
        checked.refuse(_PROTOCOL_KIND_TO_ERROR[exc.kind], exc.message_da, exc.message_en)
        return checked
    checked.trigger = trigger
    descriptor = trigger.descriptor

    sender = (
        SftpUser.objects.select_related("it_system")
        .filter(endpoint_id=endpoint_id, username=username)
        .first()
    )
    checked.sender_ok = True
    if descriptor.sender != username or sender is None:
        checked.sender_ok = False
        checked.refuse(
            PlatformError.SENDER_MISMATCH,
            f"Sender er '{descriptor.sender}', men du er logget ind som '{username}'.",
            f"Sender is '{descriptor.sender}' but you are logged in as '{username}'.",
        )
    elif trigger.routing and trigger.routing.sender_it_system != sender.it_system.uuid:
        checked.sender_ok = False
        checked.refuse(
            PlatformError.SENDER_SYSTEM_MISMATCH,
            f"SenderIt-system er {trigger.routing.sender_it_system}, men SFTP-brugeren "
            f"'{username}' hører til it-systemet {sender.it_system.uuid}.",
            f"SenderIt-system is {trigger.routing.sender_it_system} but SFTP user "
            f"'{username}' belongs to IT-system {sender.it_system.uuid}.",
        )

    _check_data_file(checked, home=home, descriptor=descriptor)
    if trigger.routing is not None:
        # A route looked up under another system's UUID says nothing about this sender.
        if not any(r.error == PlatformError.SENDER_SYSTEM_MISMATCH for r in checked.refusals):
            _check_route(checked, endpoint_id=endpoint_id, trigger=trigger)
    else:
        _check_simple_recipients(
            checked, endpoint_id=endpoint_id, username=username, descriptor=descriptor
        )
    return checked


def _check_data_file(checked: _Checked, *, home: Path, descriptor: protocol.FileDescriptor) -> None:
    name = descriptor.file_name
    if not protocol.is_safe_file_name(name):
        checked.refuse(
            PlatformError.UNSAFE_FILE_NAME,
            f"FileName {name!r} må ikke indeholde / \\ eller kontroltegn eller være længere "
            "end 255 tegn.",
            f"FileName {name!r} must not contain / \\ or control characters or be longer than "
            "255 characters.",
        )
        return
    if name.endswith(_RESERVED_SUFFIXES):
        # Placed in a recipient's IN/, such a file would pass for the platform's own metadata
        # file or receipt (or, in OUT/, start a transfer of its own).
        checked.refuse(
            PlatformError.RESERVED_FILE_NAME,
            f"FileName {name!r} må ikke ende på {', '.join(_RESERVED_SUFFIXES)}.",
            f"FileName {name!r} must not end in {', '.join(_RESERVED_SUFFIXES)}.",
        )
        return
    try:
        info = (home / protocol.OUTBOX / name).lstat()
    except FileNotFoundError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        checked.refuse(
            PlatformError.DATA_FILE_MISSING,
            f"OUT/{name} findes ikke. Upload datafilen først og triggerfilen bagefter.",
            f"OUT/{name} does not exist. Upload the data file first, then the trigger file.",
        )
    elif info.st_size != descriptor.size_in_bytes:
        checked.refuse(
            PlatformError.SIZE_MISMATCH,
            f"OUT/{name} er {info.st_size} bytes, men SizeInBytes er "
            f"{descriptor.size_in_bytes}. Blev uploaden afbrudt?",
            f"OUT/{name} is {info.st_size} bytes but SizeInBytes is "
            f"{descriptor.size_in_bytes}. Was the upload interrupted?",
        )


def _check_route(checked: _Checked, *, endpoint_id: int, trigger: protocol.Trigger) -> None:
    routing = trigger.routing
    assert routing is not None
    if trigger.descriptor.recipients != (protocol.ROUTING_RECIPIENT,):
        checked.refuse(
            PlatformError.RECIPIENTS_INVALID,
            f"En rutebaseret trigger skal have præcis én Recipients med "
            f"{protocol.ROUTING_RECIPIENT}; fik {', '.join(trigger.descriptor.recipients)}.",
            f"A route-based trigger needs exactly one Recipients with "
            f"{protocol.ROUTING_RECIPIENT}; got {', '.join(trigger.descriptor.recipients)}.",
        )
        return
    area = DataArea.objects.filter(infref=routing.infref).first()
    if area is None:
        checked.refuse(
            PlatformError.UNKNOWN_INFREF,
            f"InfRef '{routing.infref}' kendes ikke.",
            f"InfRef '{routing.infref}' is not known.",
        )
        return
    key_da = (
        f"InfRef {routing.infref}, afsendersystem {routing.sender_it_system}, "
        f"afsender {routing.sender_authority}, modtager {routing.recipient_authority}"
    )
    route = Route.objects.for_routing(
        endpoint_id=endpoint_id,
        data_area=area,
        sender_system_uuid=routing.sender_it_system,
        sender_authority=routing.sender_authority,
        recipient_authority=routing.recipient_authority,
    ).first()
    if route is None:
        checked.refuse(
            PlatformError.NO_ROUTE,
            f"Ingen etableret rute for {key_da}.",
            f"No established route for {key_da}.",
        )
        return
    systems = list(route.recipient_systems.all())
    if routing.recipient_it_system is not None:
        systems = [s for s in systems if s.uuid == routing.recipient_it_system]
        if not systems:
            checked.refuse(
                PlatformError.NO_ROUTE,
                f"Ruten for {key_da} leverer ikke til modtagersystemet "
                f"{routing.recipient_it_system}.",
                f"The route for {key_da} does not deliver to recipient system "
                f"{routing.recipient_it_system}.",
            )
            return
    users = {
        user.it_system_id: user.username
        for user in SftpUser.objects.filter(endpoint_id=endpoint_id, it_system__in=systems)
    }
    missing = [s for s in systems if s.pk not in users]
    if missing or not systems:
        names = ", ".join(f"{s.name} ({s.uuid})" for s in missing) or "-"
        checked.refuse(
            PlatformError.UNKNOWN_RECIPIENT,
            f"Modtagersystemer uden SFTP-bruger på denne Serviceplatform: {names}.",
            f"Recipient systems without an SFTP user on this Serviceplatform: {names}.",
        )
        return
    checked.recipients = sorted(users[s.pk] for s in systems)


def _check_simple_recipients(
    checked: _Checked, *, endpoint_id: int, username: str, descriptor: protocol.FileDescriptor
) -> None:
    names = list(dict.fromkeys(descriptor.recipients))
    if protocol.ROUTING_RECIPIENT in names:
        checked.refuse(
            PlatformError.RECIPIENTS_INVALID,
            f"Recipients er {protocol.ROUTING_RECIPIENT}, men FileContentDescriptor har "
            "ingen SFTPDynamicRoutingInfo.",
            f"Recipients is {protocol.ROUTING_RECIPIENT} but FileContentDescriptor has no "
            "SFTPDynamicRoutingInfo.",
        )
        return
    known = set(
        SftpUser.objects.filter(endpoint_id=endpoint_id, username__in=names).values_list(
            "username", flat=True
        )
    )
    unknown = [name for name in names if name not in known]
    if unknown:
        checked.refuse(
            PlatformError.UNKNOWN_RECIPIENT,
            f"Ukendte modtagere (SFTP-brugere): {', '.join(unknown)}.",
            f"Unknown recipients (SFTP users): {', '.join(unknown)}.",
        )
        return
    # A routing platform delivers only where a route connects the two systems: a simple
    # transfer names its recipients, but must not reach an SFTP user no route leads to.
    routed = _routed_users(endpoint_id, username)
    unrouted = [name for name in names if name not in routed]
    if unrouted:
        checked.refuse(
            PlatformError.NO_SIMPLE_ROUTE,
            f"Ingen etableret rute fra dit it-system til: {', '.join(unrouted)}.",
            f"No established route from your IT-system to: {', '.join(unrouted)}.",
        )
        return
    checked.recipients = names


def _routed_users(endpoint_id: int, username: str) -> set[str]:
    """The SFTP users whose IT-system an established route of this endpoint leads to from
    `username`'s IT-system."""
    systems = Route.objects.established().filter(
        endpoint_id=endpoint_id,
        sender_system__sftp_users__endpoint_id=endpoint_id,
        sender_system__sftp_users__username=username,
    )
    return set(
        SftpUser.objects.filter(
            endpoint_id=endpoint_id, it_system__in=systems.values("recipient_systems")
        ).values_list("username", flat=True)
    )


def _stage(root: Path, source: Path) -> Path:
    staging_dir = root / STAGING
    staging_dir.mkdir(exist_ok=True, mode=0o700)
    target = staging_dir / uuid.uuid4().hex
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        with os.fdopen(fd, "rb") as src, target.open("xb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
    except BaseException:
        # A copy cut off here (disk full) is no one's: the caller never learns its name.
        target.unlink(missing_ok=True)
        raise
    return target


def _place(target: Path, *, content: bytes | None = None, source: Path | None = None) -> None:
    """Put a file at `target` atomically: written under a hidden temporary name in the same
    folder, then renamed, so a recipient listing IN/ never sees half a file."""
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        if source is not None:
            try:
                # A hard link costs nothing for a large extract. Safe because users cannot
                # write in IN/ (the SFTP server allows writes in OUT/ only).
                os.link(source, temporary)
            except OSError:
                shutil.copyfile(source, temporary)
        else:
            assert content is not None
            temporary.write_bytes(content)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _remove_partial(folder: Path, name: str) -> None:
    """Remove what a `_place` of `name` cut off by a crash left in `folder`: its hidden
    temporary file (a finally clause does not run on SIGKILL)."""
    pattern = re.compile(re.escape(f".{name}.") + r"[0-9a-f]{8}\.part")
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        if pattern.fullmatch(entry.name):
            Path(entry.path).unlink(missing_ok=True)


def _remove_sent(home: Path, file_name: str) -> None:
    """The data file leaves the sender's OUT/ once every recipient has it."""
    (home / protocol.OUTBOX / file_name).unlink(missing_ok=True)


@dataclass(frozen=True)
class _Answer:
    """Where the sender's receipt goes and what every decision row about this trigger says."""

    receipt_path: Path
    row: dict[str, Any]  # the PlatformDecision fields of every outcome

    @property
    def senders_file_id(self) -> str:
        return str(self.row["senders_file_id"])


def _decide(
    *,
    endpoint_id: int,
    username: str,
    root: Path,
    home: Path,
    trigger_name: str,
    stem: str,
    checked: _Checked,
    staging: Path | None,
) -> PlatformDecision:
    """The answer to a checked trigger, in this order: a SendersFileId already distributed is
    a duplicate (whatever else is wrong with the trigger), then a file name that would clash in
    a recipient's IN/ is one more refusal, and a trigger with any refusal is refused; only a
    trigger with none is distributed. Call it holding `_distribution_lock`."""
    descriptor = checked.trigger.descriptor if checked.trigger else None
    answer = _Answer(
        receipt_path=home / protocol.INBOX / f"{stem}{protocol.RECEIPT_SUFFIX}",
        row={
            "endpoint_id": endpoint_id,
            "sender_username": username,
            "trigger_name": trigger_name,
            "file_name": descriptor.file_name if descriptor else "",
            "senders_file_id": (descriptor.senders_file_id or "") if descriptor else "",
        },
    )
    if checked.sender_ok and answer.senders_file_id:
        first = _first_distribution(
            endpoint_id=endpoint_id,
            username=username,
            senders_file_id=answer.senders_file_id,
            root=root,
        )
        if first is not None:
            return _answer_duplicate(answer, first=first, home=home)
    if not checked.refusals:
        _check_name_clash(checked, root=root)
    if checked.refusals:
        return _refuse(answer, checked=checked)
    assert staging is not None
    return _distribute(answer, checked=checked, root=root, staging=staging)


def _first_distribution(
    *, endpoint_id: int, username: str, senders_file_id: str, root: Path
) -> PlatformDecision | None:
    """The distribution of this sender's SendersFileId, if there is one. One that a crash cut
    off is finished first, so that the trigger that asks again is answered as its duplicate."""
    for pending in PlatformDecision.objects.filter(
        endpoint_id=endpoint_id,
        sender_username=username,
        senders_file_id=senders_file_id,
        outcome=PlatformOutcome.DISTRIBUTING,
    ):
        _log(_distribution_complete(pending, root=root))
    return PlatformDecision.objects.filter(
        endpoint_id=endpoint_id,
        sender_username=username,
        senders_file_id=senders_file_id,
        outcome=PlatformOutcome.DISTRIBUTED,
    ).first()


def _answer_duplicate(answer: _Answer, *, first: PlatformDecision, home: Path) -> PlatformDecision:
    """KOMBIT: a SendersFileId is distributed once; the sender gets the first receipt again,
    and the data file it uploaded anew leaves its OUT/."""
    _place(answer.receipt_path, content=first.receipt_xml.encode())
    file_name = answer.row["file_name"]
    if file_name and protocol.is_safe_file_name(file_name):
        (home / protocol.OUTBOX / file_name).unlink(missing_ok=True)
    return PlatformDecision.objects.create(
        **answer.row,
        file_transfer_uuid=first.file_transfer_uuid,
        outcome=PlatformOutcome.DUPLICATE,
        recipients=first.recipients,
        message=f"Dublet af {first.trigger_name} ({local_time_text(first.at)}).",
        receipt_xml=first.receipt_xml,
    )


def _check_name_clash(checked: _Checked, *, root: Path) -> None:
    """Refuse a file whose name (or its metadata file's) is already waiting in a recipient's
    IN/: placing it would overwrite a file that recipient has not fetched yet."""
    assert checked.trigger is not None
    file_name = checked.trigger.descriptor.file_name
    clashes = sorted(
        {
            name
            for name in checked.recipients
            for suffix in ("", protocol.METADATA_SUFFIX)
            if (root / name / protocol.INBOX / f"{file_name}{suffix}").exists()
        }
    )
    if clashes:
        checked.refuse(
            PlatformError.NAME_CLASH,
            f"{file_name} venter allerede i IN/ hos "
            f"{', '.join(clashes)}. Send filen under et nyt, unikt navn.",
            f"{file_name} is already waiting in IN/ of "
            f"{', '.join(clashes)}. Send the file under a new, unique name.",
        )


def _refuse(answer: _Answer, *, checked: _Checked) -> PlatformDecision:
    """A receipt with every refusal as an ErrorMessage, under a FileTransferUUID of its own."""
    transfer_uuid = str(uuid.uuid4())
    receipt_xml = protocol.build_technical_receipt(
        protocol.TechnicalReceipt(
            file_transfer_uuid=transfer_uuid,
            senders_file_id=answer.senders_file_id or None,
            errors=tuple(refusal.as_error_message() for refusal in checked.refusals),
        )
    )
    _place(answer.receipt_path, content=receipt_xml)
    return PlatformDecision.objects.create(
        **answer.row,
        file_transfer_uuid=transfer_uuid,
        outcome=PlatformOutcome.REFUSED,
        error_codes=[refusal.error.code for refusal in checked.refusals],
        message=" ".join(refusal.detail_da for refusal in checked.refusals),
        receipt_xml=receipt_xml.decode(),
    )


def _distribute(
    answer: _Answer, *, checked: _Checked, root: Path, staging: Path
) -> PlatformDecision:
    """Write the distribution ahead (outcome DISTRIBUTING, with everything needed to finish
    it), then place the files (`_distribution_complete`)."""
    trigger = checked.trigger
    assert trigger is not None
    transfer_uuid = str(uuid.uuid4())
    # Moved to a name the decision row records: from here the staged copy belongs to the
    # decision (trigger_process no longer finds it to delete) until the decision is final.
    kept = staging.with_name(transfer_uuid)
    staging.rename(kept)
    try:
        metadata = protocol.build_file_metadata(
            protocol.FileMetadata(
                file_transfer_uuid=transfer_uuid,
                descriptor=trigger.descriptor,
                routing=trigger.routing,
            )
        )
        receipt_xml = protocol.build_technical_receipt(
            protocol.TechnicalReceipt(
                file_transfer_uuid=transfer_uuid, senders_file_id=answer.senders_file_id or None
            )
        )
    except Exception:
        # No row names the kept copy yet: nothing else would ever delete it.
        kept.unlink(missing_ok=True)
        raise
    try:
        # Written ahead: nothing has been placed yet, and everything needed to finish is here.
        decision = PlatformDecision.objects.create(
            **answer.row,
            file_transfer_uuid=transfer_uuid,
            outcome=PlatformOutcome.DISTRIBUTING,
            recipients=checked.recipients,
            message=f"Under distribution til {', '.join(checked.recipients)}.",
            receipt_xml=receipt_xml.decode(),
            metadata_xml=metadata.decode(),
            staged_name=kept.name,
        )
    except IntegrityError:
        # Only another stand-in process on the same database gets here (this one holds the
        # lock); say so plainly. Nothing has been placed.
        kept.unlink(missing_ok=True)
        logger.exception("SendersFileId %s was distributed twice", answer.senders_file_id)
        raise
    return _distribution_complete(decision, root=root)


def _distribution_complete(decision: PlatformDecision, *, root: Path) -> PlatformDecision:
    """Finish a distribution written ahead (outcome DISTRIBUTING) and mark it DISTRIBUTED.

    Idempotent, so that it can run again after a crash at any point of an earlier run: a
    recipient already noted on the row is skipped (it may have fetched and removed its files
    since), any other gets the data file and then the metadata file unless they are already in
    its IN/ — a file of that name there can only be this distribution's, as the name clash was
    checked under the lock before the row was written and users cannot write in IN/. The same
    metadata bytes and receipt bytes every time, so one FileTransferUUID. Call it holding
    `_distribution_lock`."""
    assert decision.outcome == PlatformOutcome.DISTRIBUTING
    name = decision.file_name
    staged = root / STAGING / decision.staged_name
    for recipient in decision.recipients:
        if recipient in decision.recipients_placed:
            continue
        inbox = home_of(root, recipient) / protocol.INBOX
        metadata_path = inbox / f"{name}{protocol.METADATA_SUFFIX}"
        _remove_partial(inbox, name)
        _remove_partial(inbox, metadata_path.name)
        # The data file first, then its metadata: a recipient that keys on the metadata file
        # never finds it without the data beside it.
        if not (inbox / name).exists():
            _place(inbox / name, source=staged)
        if not metadata_path.exists():
            _place(metadata_path, content=decision.metadata_xml.encode())
        decision.recipients_placed = [*decision.recipients_placed, recipient]
        decision.save(update_fields=["recipients_placed"])
    home = home_of(root, decision.sender_username)
    _remove_sent(home, name)
    receipt_name = (
        decision.trigger_name.removesuffix(protocol.TRIGGER_SUFFIX) + protocol.RECEIPT_SUFFIX
    )
    _remove_partial(home / protocol.INBOX, receipt_name)
    # Placed again if a crash came after it: the same bytes, which the sender's portal records
    # once however often it reads them.
    _place(home / protocol.INBOX / receipt_name, content=decision.receipt_xml.encode())
    decision.outcome = PlatformOutcome.DISTRIBUTED
    decision.message = f"Distribueret til {', '.join(decision.recipients)}."
    decision.staged_name = ""
    decision.save(update_fields=["outcome", "message", "staged_name"])
    # Deleted only now: a crash before the save above finds it for the next attempt; one after
    # leaves an orphan, which the next start deletes.
    staged.unlink(missing_ok=True)
    return decision


def _pending_for_trigger(
    *, endpoint_id: int, username: str, trigger_name: str
) -> PlatformDecision | None:
    return PlatformDecision.objects.filter(
        endpoint_id=endpoint_id,
        sender_username=username,
        trigger_name=trigger_name,
        outcome=PlatformOutcome.DISTRIBUTING,
    ).first()


def _complete_pending_trigger(
    *, endpoint_id: int, username: str, root: Path, trigger_name: str
) -> PlatformDecision | None:
    """If this trigger's distribution is in progress, complete it, remove the trigger (unless
    the sender has uploaded a new one since the decision) and return the decision."""
    with _distribution_lock:
        pending = _pending_for_trigger(
            endpoint_id=endpoint_id, username=username, trigger_name=trigger_name
        )
        if pending is None:
            return None
        decision = _distribution_complete(pending, root=root)
    trigger_path = home_of(root, username) / protocol.OUTBOX / trigger_name
    try:
        identity, _ = _read_trigger(trigger_path)
    except FileNotFoundError:
        pass
    else:
        if _modified(identity) <= decision.at:
            _remove_if_unchanged(trigger_path, identity)
    _log(decision)
    return decision


def _log(decision: PlatformDecision) -> None:
    logger.info(
        "platform_decision %s",
        json.dumps(
            {
                "at": decision.at.isoformat(),
                "sender": decision.sender_username,
                "trigger": decision.trigger_name,
                "file": decision.file_name,
                "senders_file_id": decision.senders_file_id,
                "file_transfer_uuid": decision.file_transfer_uuid,
                "outcome": decision.outcome,
                "error_codes": decision.error_codes,
                "recipients": decision.recipients,
            },
            ensure_ascii=False,
            sort_keys=True,
        ),
    )


def trigger_refuse_internal(
    *, endpoint_id: int, username: str, root: Path, trigger_name: str, reason: str
) -> PlatformDecision:
    """Answer a trigger that could not be processed at all, so the sender is never left
    waiting for a receipt that will not come.

    A trigger whose distribution had begun (an error while placing files) is not refused —
    recipients may already have the file — but completed; if that fails too, the error is
    raised and the distribution stays in progress until the stand-in's next start or a new
    trigger with the same SendersFileId."""
    completed = _complete_pending_trigger(
        endpoint_id=endpoint_id, username=username, root=root, trigger_name=trigger_name
    )
    if completed is not None:
        return completed
    home = home_of(root, username)
    stem = trigger_name.removesuffix(protocol.TRIGGER_SUFFIX)
    trigger_path = home / protocol.OUTBOX / trigger_name
    identity, descriptor = _descriptor_if_readable(trigger_path)
    senders_file_id = descriptor.senders_file_id if descriptor else None
    transfer_uuid = str(uuid.uuid4())
    refusal = Refusal(PlatformError.INTERNAL_ERROR, reason, reason)
    receipt_xml = protocol.build_technical_receipt(
        protocol.TechnicalReceipt(
            file_transfer_uuid=transfer_uuid,
            # The sender's portal matches a receipt to its delivery by this id: without it an
            # internal error would leave the delivery waiting for an answer that came.
            senders_file_id=senders_file_id or None,
            errors=(refusal.as_error_message(),),
        )
    )
    _place(home / protocol.INBOX / f"{stem}{protocol.RECEIPT_SUFFIX}", content=receipt_xml)
    # Answered, so consumed like any refused trigger: left in OUT/ it would be answered a
    # second time at the next start (trigger_recover).
    if identity is not None:
        _remove_if_unchanged(trigger_path, identity)
    decision = PlatformDecision.objects.create(
        endpoint_id=endpoint_id,
        sender_username=username,
        trigger_name=trigger_name,
        file_name=descriptor.file_name if descriptor else "",
        senders_file_id=senders_file_id or "",
        file_transfer_uuid=transfer_uuid,
        outcome=PlatformOutcome.REFUSED,
        error_codes=[PlatformError.INTERNAL_ERROR.code],
        message=reason,
        receipt_xml=receipt_xml.decode(),
    )
    _log(decision)
    return decision


def _descriptor_if_readable(
    path: Path,
) -> tuple[tuple[int, int] | None, protocol.FileDescriptor | None]:
    """The trigger's identity and FileDescriptor, as far as they can still be read: an internal
    error may come from the trigger itself, and its answer must not fail on it again."""
    try:
        identity, data = _read_trigger(path)
    except OSError:
        return None, None
    try:
        return identity, protocol.parse_trigger(data).descriptor
    except Exception:
        return identity, None
