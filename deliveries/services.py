"""Delivery workflows: create from an upload, change status, validate, load a contract.

Every status change goes through `delivery_transition`, a conditional update plus its event
row in one transaction, so two workers can never both claim the same delivery.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from deliveries import jobs
from deliveries.datacontracts import contract_problems
from deliveries.models import (
    DataContract,
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    ValidationIssue,
    can_transition,
    delivery_upload_to,
)
from deliveries.uploads import PreparedFile
from deliveries.validation import FILE_RULES, Report, validate_file
from flisportal.queues import VALIDATION, enqueue_on_commit
from routes.models import DataArea, Route, User

logger = logging.getLogger(__name__)

WORKER = "worker"


def delivery_transition(
    *,
    delivery_id: int,
    old: str,
    new: str,
    actor: User | None = None,
    actor_label: str = "",
    message: str = "",
    **fields: Any,
) -> bool:
    """Moves a delivery from `old` to `new` if it is still in `old`; True if this call did it.

    The `WHERE status = old` makes the update a claim: of many workers or requests racing,
    exactly one changes the row and writes the event.
    """
    if not can_transition(old, new):
        raise ValueError(f"a delivery cannot go from {old} to {new}")
    now = timezone.now()
    with transaction.atomic():
        changed = Delivery.objects.filter(pk=delivery_id, status=old).update(
            status=new, status_changed_at=now, **fields
        )
        if changed != 1:
            return False
        DeliveryEvent.objects.create(
            delivery_id=delivery_id,
            old_status=old,
            new_status=new,
            actor=actor,
            actor_label=actor_label or ("" if actor else WORKER),
            message=message,
            at=now,
        )
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
            message = f"Uploadet som «{delivery.original_filename}»"
            if replaces is not None:
                message += f", rettelse af leverance {replaces.uuid}"
            if redelivery_confirmed:
                message += " (genlevering bekræftet)"
            DeliveryEvent.objects.create(
                delivery=delivery,
                old_status="",
                new_status=DeliveryStatus.RECEIVED,
                actor=user,
                message=message + ".",
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
    (polars reads from a path)."""
    try:
        yield Path(default_storage.path(name))
        return
    except NotImplementedError:
        pass
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
        message="Validering startet.",
        rows_checked=0,
        progress_percent=0,
    ):
        return None
    delivery = Delivery.objects.select_related("kommune", "data_area").get(pk=delivery_id)
    contract = DataContract.objects.active().filter(data_area=delivery.data_area).first()
    if contract is None:
        delivery_transition(
            delivery_id=delivery_id,
            old=DeliveryStatus.VALIDATING,
            new=DeliveryStatus.FAILED,
            message=f"Der er ingen aktiv datakontrakt for {delivery.data_area}; en "
            "administrator skal indlæse en.",
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
            message=f"Valideringen stoppede uventet ({type(exc).__name__}); en administrator "
            "kan starte den igen.",
        )
        return DeliveryStatus.FAILED
    return _record_report(delivery, contract, report)


def _record_report(delivery: Delivery, contract: DataContract, report: Report) -> str:
    outcome = DeliveryStatus.VALID if report.is_valid else DeliveryStatus.REJECTED
    if report.is_valid:
        message = f"Godkendt efter kontrakt {contract.version}: {report.rows_checked} rækker."
    elif any(issue.rule in FILE_RULES for issue in report.issues):
        message = f"Afvist: {report.issues[0].message}"
    else:
        message = (
            f"Afvist efter kontrakt {contract.version}: {report.error_count} fejl i "
            f"{report.rows_checked} rækker."
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
            )
            for position, issue in enumerate(report.issues)
        )
        delivery_transition(
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
        )
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
        return DataContract.objects.create(
            data_area=area,
            version=document["version"],
            document=document,
            is_illustrative=bool(document.get("illustrative")),
            is_active=activate,
            loaded_by=user,
            source=source[:255],
        )
