"""Writing and verifying the audit log. `audit_record` is the one way a row is added.

Writers are serialised so the chain never forks: two rows must never name the same previous
row. On PostgreSQL a transaction-scoped advisory lock does it (a `SELECT … FOR UPDATE` on the
last row would not hold back the very first two writers of an empty table); on SQLite the
portal's IMMEDIATE transactions already take the database's one write lock at BEGIN.

The chain is keyed (HMAC-SHA256 with settings.AUDIT_HMAC_KEY, held outside the database), and
each day's head is exported where the database's users cannot rewrite it (`audit_export_head`):
what each defends is in docs/design/audit-log.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from flisportal.audit.models import AuditCheckpoint, AuditEntry, AuditHeadExport, AuditKeyStart
from flisportal.lib.periods import local_time_text
from flisportal.notifications.services import administrators, notify

# The previous hash of the first row.
GENESIS = "0" * 64
# Any 64-bit number of our own: the advisory lock that serialises audit writers (PostgreSQL).
_ADVISORY_LOCK = 0x464C4953_41554449  # "FLISAUDI"

WORKER_LABEL = "baggrundsjob"

# The exported heads go to the log stream under this name, whatever else receives them.
logger = logging.getLogger("flisportal.audit")


def _jsonable(value: Any) -> Any:
    """A JSON-native copy (dates, decimals, UUIDs as text), so what is hashed is exactly what
    the JSONField gives back when the row is read again."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def snapshot(instance: models.Model, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """The concrete fields of a row as JSON-safe values (foreign keys as ids). Secrets and
    file contents are left out by `exclude`; binary fields are never included."""
    data: dict[str, Any] = {}
    for f in instance._meta.concrete_fields:
        if f.name in exclude or isinstance(f, models.BinaryField):
            continue
        value = getattr(instance, f.attname)
        if isinstance(value, Decimal):
            value = str(value)
        if isinstance(f, models.FileField):
            value = value.name if value else ""
        data[f.attname] = value
    return _jsonable(data)


def content_of(entry: AuditEntry) -> dict[str, Any]:
    at = entry.at.astimezone(UTC)
    return {
        "seq": entry.seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "kommune_id": entry.kommune_id,
        "before": entry.before,
        "after": entry.after,
    }


def compute_hash(entry: AuditEntry, *, keyed: bool = True) -> str:
    """The row's HMAC-SHA256 under the audit key; `keyed=False` gives the plain SHA-256 the
    rows before `AuditKeyStart` were written with (and which anyone can recompute)."""
    message = (
        json.dumps(content_of(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        + entry.prev_hash
    ).encode("utf-8")
    if not keyed:
        return hashlib.sha256(message).hexdigest()
    key = settings.AUDIT_HMAC_KEY.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])


def audit_record(
    *,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    before: Any = None,
    after: Any = None,
    actor: Any = None,
    actor_label: str = "",
    kommune_id: int | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Appends one row to the chain (in the caller's transaction if there is one: the entry
    exists exactly when the change it records does)."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-seq").only("seq", "hash").first()
        at = at or timezone.now()
        entry = AuditEntry(
            seq=(last.seq + 1) if last else 1,
            at=at,
            actor=actor,
            actor_label=actor_label or (actor.get_username() if actor else WORKER_LABEL),
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            object_repr=object_repr[:255],
            kommune_id=kommune_id,
            before=_jsonable(before),
            after=_jsonable(after),
            prev_hash=last.hash if last else GENESIS,
        )
        entry.hash = compute_hash(entry)
        entry.save(force_insert=True)
    return entry


@dataclass
class VerifyResult:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ExportedHead:
    """One line of the heads file: the chain's head as it stood when it was exported."""

    seq: int
    hash: str
    exported_at: datetime
    keyed_from: int


class HeadsFileError(Exception):
    """The heads file cannot be read; the message says where and what to do."""


def first_keyed_seq() -> int:
    """The number of the chain's first keyed row: 1 unless the chain began unkeyed."""
    start = AuditKeyStart.objects.order_by("first_keyed_seq").first()
    return start.first_keyed_seq if start else 1


def audit_verify(
    *, checkpoint: bool = True, heads: Iterable[ExportedHead] | None = None
) -> VerifyResult:
    """Walks the chain in order and checks each row's hash (HMAC from the first keyed row on,
    plain SHA-256 before it), its link to the previous row, that no number is missing, that the
    last verified head is still there, and that every exported head in `heads` is still in the
    database with the same hash. With `checkpoint`, an intact chain moves the checkpoint to
    its current head."""
    result = VerifyResult()
    heads = list(heads or ())
    keyed_from = first_keyed_seq()
    if AuditKeyStart.objects.count() > 1:
        result.problems.append(
            "Der er flere starter på den nøglede kæde: en er lagt til i databasen bagefter"
        )
    last, found = _walk_chain(result, keyed_from=keyed_from, wanted={h.seq for h in heads})
    _check_checkpoint(result)
    _check_heads(result, heads, found, keyed_from=keyed_from)
    if checkpoint and result.ok and last is not None:
        mark = AuditCheckpoint.objects.order_by("-seq").first()
        if mark is None or last.seq > mark.seq:
            AuditCheckpoint.objects.create(seq=last.seq, hash=last.hash)
    return result


def _walk_chain(
    result: VerifyResult, *, keyed_from: int, wanted: set[int]
) -> tuple[AuditEntry | None, dict[int, str]]:
    """Checks every row; returns the last one and the hashes of the rows numbered in `wanted`."""
    prev_hash = GENESIS
    expected_seq = 1
    last: AuditEntry | None = None
    found: dict[int, str] = {}
    keyed_checked = keyed_failed = 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        result.checked += 1
        if entry.seq != expected_seq:
            result.problems.append(
                f"#{expected_seq}–#{entry.seq - 1} mangler (slettet?)"
                if entry.seq > expected_seq
                else f"#{entry.seq} står uden for rækkefølgen"
            )
        if entry.prev_hash != prev_hash:
            result.problems.append(f"#{entry.seq}: forrige hash passer ikke (kæden er brudt)")
        keyed = entry.seq >= keyed_from
        keyed_checked += keyed
        if compute_hash(entry, keyed=keyed) != entry.hash:
            keyed_failed += keyed
            result.problems.append(f"#{entry.seq}: indholdet passer ikke med hash (ændret?)")
        if entry.seq in wanted:
            found[entry.seq] = entry.hash
        prev_hash = entry.hash
        expected_seq = entry.seq + 1
        last = entry
    if keyed_checked > 1 and keyed_failed == keyed_checked:
        # Every keyed row failing at once is more likely a changed key than a changed log.
        result.problems.append(
            "Ingen af de nøglede poster passer med deres hash: er FLISPORTAL_AUDIT_HMAC_KEY den "
            "samme nøgle som da de blev skrevet? Ellers er hele kæden skrevet om."
        )
    return last, found


def _check_checkpoint(result: VerifyResult) -> None:
    mark = AuditCheckpoint.objects.order_by("-seq").first()
    if mark is None:
        return
    at_mark = AuditEntry.objects.filter(seq=mark.seq).values_list("hash", flat=True).first()
    if at_mark is None:
        # In Danish time, like every time a person reads (it showed UTC unmarked).
        verified = local_time_text(mark.verified_at, seconds=False)
        result.problems.append(
            f"#{mark.seq} (kontrolleret {verified}) findes ikke "
            "længere: poster er slettet fra enden af loggen"
        )
    elif at_mark != mark.hash:
        result.problems.append(f"#{mark.seq}: hash er ændret siden sidste kontrol")


def _check_heads(
    result: VerifyResult, heads: list[ExportedHead], found: dict[int, str], *, keyed_from: int
) -> None:
    """The exported heads are the evidence the database cannot rewrite: each must still be
    there, with the hash it had when it left."""
    missing = [head for head in heads if head.seq not in found]
    if missing:
        first = min(missing, key=lambda head: head.seq)
        exported = local_time_text(first.exported_at, seconds=False)
        result.problems.append(
            f"#{first.seq} (eksporteret som hoved {exported}) findes ikke i databasen"
            + (
                f", og {len(missing) - 1} senere eksporterede hoveder heller ikke"
                if len(missing) > 1
                else ""
            )
            + ": poster er slettet fra enden af loggen"
        )
    for head in heads:
        if head.seq in found and found[head.seq] != head.hash:
            exported = local_time_text(head.exported_at, seconds=False)
            result.problems.append(
                f"#{head.seq}: hash afviger fra hovedet eksporteret {exported}: posten er "
                "ændret, eller kæden er skrevet om"
            )
    moved = next((head for head in heads if head.keyed_from != keyed_from), None)
    if moved is not None:
        exported = local_time_text(moved.exported_at, seconds=False)
        result.problems.append(
            f"Kæden er nøglet fra #{keyed_from} i databasen, men fra #{moved.keyed_from} "
            f"ifølge hovedet eksporteret {exported}: starten på den nøglede kæde er flyttet"
        )


def read_heads(path: Path) -> list[ExportedHead]:
    """The heads in a heads file, or in lines copied from the log stream (the JSON after the
    log's own prefix). Raises HeadsFileError on a file that cannot be read or a line that is
    not a head: a damaged copy of the evidence is reported, not skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HeadsFileError(
            f"Filen med eksporterede hoveder findes ikke: {path}. Angiv den fil, driften gemmer "
            "hovederne i (FLISPORTAL_AUDIT_HEADS_FILE), eller en kopi af den."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HeadsFileError(f"Filen {path} kan ikke læses ({exc}).") from None
    heads: list[ExportedHead] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            data = json.loads(line[line.index("{") :])
            heads.append(
                ExportedHead(
                    seq=int(data["seq"]),
                    hash=str(data["hash"]),
                    exported_at=datetime.fromisoformat(data["exported_at"]),
                    keyed_from=int(data["keyed_from"]),
                )
            )
        except (TypeError, ValueError, KeyError):
            raise HeadsFileError(
                f"Linje {number} i {path} er ikke et eksporteret hoved: {line[:80]!r}. Brug "
                "den uændrede fil (eller kopi) fra driften; en beskadiget kopi er ikke bevis."
            ) from None
    return heads


def audit_export_head(*, path: Path | None = None) -> AuditHeadExport | None:
    """Copies the chain's head (number, hash, time) out of the database: to the log stream
    (logger flisportal.audit) and appended to the heads file. None on an empty chain."""
    path = Path(path or settings.AUDIT_HEADS_FILE)
    head = AuditEntry.objects.order_by("-seq").only("seq", "hash", "at").first()
    if head is None:
        logger.info("audit head: the audit log is empty, no head to export")
        return None
    exported_at = timezone.now()
    line = json.dumps(
        {
            "seq": head.seq,
            "hash": head.hash,
            "at": head.at.astimezone(UTC).isoformat(),
            "exported_at": exported_at.astimezone(UTC).isoformat(),
            "keyed_from": first_keyed_seq(),
        },
        separators=(",", ":"),
    )
    # The log stream first: it leaves the machine even when the file cannot be written.
    logger.info("audit head %s", line)
    try:
        _append_line(path, line)
    except OSError:
        logger.exception("audit head could not be appended to %s", path)
        raise
    return AuditHeadExport.objects.create(
        seq=head.seq, hash=head.hash, at=head.at, exported_at=exported_at, destination=str(path)
    )


def _append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND and never a rewrite: the portal only ever adds to this file (an operator may
    # also make it append-only for everyone, chattr +a), and fsync so a crash keeps the line.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def audit_verify_and_alert() -> VerifyResult:
    """The periodic check, against the heads file too when there is one; on a break,
    administrators are mailed (once a day per break)."""
    path = Path(settings.AUDIT_HEADS_FILE)
    heads: list[ExportedHead] | None = None
    unreadable = ""
    if path.exists():
        try:
            heads = read_heads(path)
        except HeadsFileError as exc:
            unreadable = str(exc)
    # With the evidence unreadable, an intact-looking chain proves less: no new checkpoint.
    result = audit_verify(heads=heads, checkpoint=not unreadable)
    if unreadable:
        result.problems.append(unreadable)
    if not result.ok:
        notify(
            kind="audit_broken",
            recipients=administrators(),
            context={"problems": result.problems[:20], "count": len(result.problems)},
            key=f"audit_broken:{timezone.localdate().isoformat()}:{result.problems[0][:40]}",
        )
    return result
