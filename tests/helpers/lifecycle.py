"""Moving a delivery through its statuses as the portal does: by the one status writer, one
event row per step."""

from __future__ import annotations

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.models import Delivery

S = DeliveryStatus

# From `received` to `distributed`, the way a good delivery goes.
DISTRIBUTED = (S.VALIDATING, S.VALID, S.PUSHING, S.SENT, S.DISTRIBUTED)


def walk_to(delivery: Delivery, *statuses: str) -> None:
    """Moves a delivery through `statuses` by the one service that changes status."""
    old = delivery.status
    for new in statuses:
        assert delivery_transition(delivery_id=delivery.pk, old=old, new=new)
        old = new
    delivery.refresh_from_db()
