"""The one writer of a delivery's status: a conditional update, its event row and its audit row
in one transaction, so two workers can never both claim the same delivery."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deliveries.lifecycle.states import REACHED_RECIPIENT, can_transition
from deliveries.messages import Text, stored_as
from deliveries.models import Delivery, DeliveryEvent
from deliveries.services.expected import expected_delivery_mark_met
from deliveries.services.notify import notify_delivery_status
from flisportal.audit.services import audit_record
from routes.models import User

WORKER = "worker"

RECONCILER = "reconciler"


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
        if new in REACHED_RECIPIENT:
            # The period this extract was for is met: said here, where the status changes,
            # so the dashboard does not wait for the next scan.
            expected_delivery_mark_met(route_id=delivery.route_id, period=delivery.period)
        # Mails are recorded with the event and sent by a worker once this commits.
        notify_delivery_status(delivery_id=delivery_id, old=old, new=new)
    return True
