"""The one writer of a delivery's status and of its events.

`delivery_transition` changes the status: a conditional update, so two workers can never both
claim the same delivery. `delivery_event_record` writes the event row and its audit row in one
transaction; the status change, a delivery's first event (its upload) and a step that changes
no status (the reconciler's overdue receipt) all go through it, so every event on the timeline
has its audit row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deliveries.lifecycle.states import INITIAL, REACHED_RECIPIENT, can_transition
from deliveries.messages import Text, stored_as
from deliveries.models import Delivery, DeliveryEvent
from deliveries.services.expected import expected_delivery_mark_met
from deliveries.services.notify import notify_delivery_status
from flisportal.audit.services import audit_record, snapshot
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
    now = timezone.now()
    rows = Delivery.objects.filter(pk=delivery_id, status=old)
    if where is not None:
        rows = rows.filter(where)
    with transaction.atomic():
        changed = rows.update(status=new, status_changed_at=now, **fields)
        if changed != 1:
            return False
        delivery = Delivery.objects.only("route_id", "period", "kommune_id", "uuid").get(
            pk=delivery_id
        )
        delivery_event_record(
            delivery=delivery,
            old=old,
            new=new,
            actor=actor,
            actor_label=actor_label,
            message=message,
            at=now,
            changed=fields,
        )
        if new in REACHED_RECIPIENT:
            # The period this extract was for is met: said here, where the status changes,
            # so the dashboard does not wait for the next scan.
            expected_delivery_mark_met(route_id=delivery.route_id, period=delivery.period)
        # Mails are recorded with the event and sent by a worker once this commits.
        notify_delivery_status(delivery_id=delivery_id, old=old, new=new)
    return True


def delivery_event_record(
    *,
    delivery: Delivery,
    old: str,
    new: str,
    at: datetime,
    actor: User | None = None,
    actor_label: str = "",
    message: Text | str = "",
    changed: dict[str, Any] | None = None,
) -> DeliveryEvent:
    """Writes one event of `delivery` and its audit row, in one transaction.

    Three kinds of event, told apart by `old` and `new`:

    - the first (`old` is "", `new` the initial status): the upload; its audit row is
      `delivery.create` with the whole row as written;
    - a status change (`old` ≠ `new`), written only by `delivery_transition` after its claim
      has moved the row; audit row `delivery.status`;
    - a step that changes no status (`old` = `new`, e.g. the reconciler flagging an overdue
      receipt); audit row `delivery.event`.

    `changed` are the delivery's fields the caller wrote with this event; the audit row keeps
    them. `delivery` needs `uuid`, `period` and `kommune_id` (all fields for the first event).
    With no person acting, the actor is `actor_label`, else "worker".
    """
    if old == "":
        if new != INITIAL:
            raise ValueError(f"a delivery starts as {INITIAL}, not {new}")
    elif old != new and not can_transition(old, new):
        raise ValueError(f"a delivery cannot go from {old} to {new}")
    stored = stored_as("message", message)
    label = actor_label or ("" if actor else WORKER)
    # No savepoint of its own: inside the caller's transaction the two rows simply join it
    # (and a failure of either undoes the caller's change too); alone, this is the transaction.
    with transaction.atomic(savepoint=False):
        event = DeliveryEvent.objects.create(
            delivery_id=delivery.pk,
            old_status=old,
            new_status=new,
            actor=actor,
            actor_label=label,
            **stored,
            at=at,
        )
        if old == "":
            audit_record(
                action="delivery.create",
                obj=delivery,
                after=snapshot(delivery),
                actor=actor,
                actor_label=actor_label,
                kommune_id=delivery.kommune_id,
                at=at,
            )
        else:
            audit_record(
                action="delivery.status" if old != new else "delivery.event",
                object_type="deliveries.delivery",
                object_id=delivery.pk,
                object_repr=f"{delivery.uuid} ({delivery.period})",
                before={"status": old},
                after={"status": new, "message": stored["message"], **(changed or {})},
                actor=actor,
                actor_label=label,
                kommune_id=delivery.kommune_id,
                at=at,
            )
    return event
