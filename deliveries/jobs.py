"""RQ jobs of the deliveries app. Each takes an id and calls one service."""

from __future__ import annotations


def validate_delivery(delivery_id: int) -> str | None:
    """Validates one delivery; a delivery that is no longer `received` is left alone, so a
    job that runs twice (a retry, a re-enqueue by the reconciler) does nothing the second time.
    """
    from deliveries.services import delivery_validate  # services import this module

    return delivery_validate(delivery_id=delivery_id)
