"""A person's retry of a failed delivery, from the delivery page."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.messages import text
from deliveries.models import Delivery
from deliveries.services import PUSH_JOB, VALIDATE_JOB
from flisportal.lib.queues import SFTP, VALIDATION, enqueue_on_commit
from routes.models import User


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
                enqueue_on_commit(SFTP, PUSH_JOB, delivery_id)
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
            enqueue_on_commit(VALIDATION, VALIDATE_JOB, delivery_id)
        return DeliveryStatus.RECEIVED if moved else None
