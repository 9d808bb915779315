"""Writing and verifying the audit log. `audit_record` is the one way a row is added.

Writers are serialised so the chain never forks: two rows must never name the same previous
row. On PostgreSQL a transaction-scoped advisory lock does it (a `SELECT … FOR UPDATE` on the
last row would not hold back the very first two writers of an empty table); on SQLite the
portal's IMMEDIATE transactions already take the database's one write lock at BEGIN.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from flisportal.audit.models import AuditCheckpoint, AuditEntry
from flisportal.lib.periods import local_time_text
from flisportal.notifications.services import administrators, notify

# The previous hash of the first row.
GENESIS = "0" * 64
# Any 64-bit number of our own: the advisory lock that serialises audit writers (PostgreSQL).
_ADVISORY_LOCK = 0x464C4953_41554449  # "FLISAUDI"

WORKER_LABEL = "baggrundsjob"


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


def compute_hash(entry: AuditEntry) -> str:
    canonical = json.dumps(
        content_of(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256((canonical + entry.prev_hash).encode("utf-8")).hexdigest()


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


def audit_verify(*, checkpoint: bool = True) -> VerifyResult:
    """Walks the chain in order and checks each row's hash, its link to the previous row, that
    no number is missing, and that the last verified head is still there. With `checkpoint`,
    an intact chain moves the checkpoint to its current head."""
    result = VerifyResult()
    prev_hash = GENESIS
    expected_seq = 1
    last: AuditEntry | None = None
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
        if compute_hash(entry) != entry.hash:
            result.problems.append(f"#{entry.seq}: indholdet passer ikke med hash (ændret?)")
        prev_hash = entry.hash
        expected_seq = entry.seq + 1
        last = entry
    mark = AuditCheckpoint.objects.order_by("-seq").first()
    if mark is not None:
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
    if checkpoint and result.ok and last is not None and (mark is None or last.seq > mark.seq):
        AuditCheckpoint.objects.create(seq=last.seq, hash=last.hash)
    return result


def audit_verify_and_alert() -> VerifyResult:
    """The periodic check: on a break, administrators are mailed (once a day per break)."""
    result = audit_verify()
    if not result.ok:
        notify(
            kind="audit_broken",
            recipients=administrators(),
            context={"problems": result.problems[:20], "count": len(result.problems)},
            key=f"audit_broken:{timezone.localdate().isoformat()}:{result.problems[0][:40]}",
        )
    return result
