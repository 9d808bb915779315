"""Intake: an uploaded extract becomes a stored file and a delivery with its first event.

The file is stored through the storage API first and the rows are written in one short
transaction afterwards, so nothing is stored unregistered and no I/O happens inside it.
"""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.db import transaction

from deliveries.messages import stored_as, text
from deliveries.models import (
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    delivery_upload_to,
)
from deliveries.services import VALIDATE_JOB
from deliveries.uploads import PreparedFile
from flisportal.audit.services import audit_record, snapshot
from flisportal.lib.queues import VALIDATION, enqueue_on_commit
from routes.models import Route, User


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
            enqueue_on_commit(VALIDATION, VALIDATE_JOB, delivery.pk)
    except Exception:
        default_storage.delete(stored_name)
        raise
    return delivery
