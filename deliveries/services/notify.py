"""What the portal tells whom about deliveries: the uploader of a rejected or failed extract,
administrators of a route whose push fails, consultants and the vendor of a period that is due
or overdue or a file nobody fetched, and consultants (by their choice) of a rejected, refused
or fetched extract for their kommune. The mails themselves are the notifications app's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, ExpectedDelivery, ValidationIssue
from deliveries.rules import RuleWords
from flisportal.notifications.models import ConsultantEvent
from flisportal.notifications.services import (
    Recipient,
    administrators,
    kommune_consultants,
    notify,
)

# The delivery mails a kommune's consultants may choose to have (for their kommuner).
_CONSULTANT_EVENTS = {
    "validation_failed": ConsultantEvent.REJECTED,
    "push_failed": ConsultantEvent.REFUSED,
    "fetched": ConsultantEvent.FETCHED,
}


def notify_delivery_status(*, delivery_id: int, old: str, new: str) -> None:
    """Called by `delivery_transition` inside its transaction, for every status change."""

    S = DeliveryStatus
    kinds: dict[tuple[str, str], str] = {
        (S.VALIDATING, S.REJECTED): "validation_failed",
        (S.PUSHING, S.FAILED): "push_failed",
        (S.SENT, S.REFUSED): "push_failed",
        (S.FAILED, S.REFUSED): "push_failed",
    }
    kind = kinds.get((old, new)) or {S.DISTRIBUTED: "distributed", S.FETCHED: "fetched"}.get(S(new))
    if kind is None:
        return
    delivery = Delivery.objects.select_related(
        "uploaded_by", "kommune", "data_area", "it_system__vendor", "route", "contract"
    ).get(pk=delivery_id)
    context: dict[str, Any] = {"delivery": delivery}
    if kind == "validation_failed":
        # Where and which rule only: a cell value (a CPR number, a name) and the message that
        # quotes it stay in the portal, behind its login; mail travels and is kept elsewhere.
        issues = (
            ValidationIssue.objects.filter(delivery=delivery)
            .order_by("position")
            .values_list("row", "column", "rule")[: settings.NOTIFY_FIRST_ERRORS]
        )
        # The rule in words from the contract alone (deliveries.rules), so it says what was
        # asked without quoting what the cell held.
        words = RuleWords(delivery.contract.document if delivery.contract else None)
        context["errors"] = [
            {"row": row, "column": column, "rule": rule, "words": words(column, rule)}
            for row, column, rule in issues
        ]
    recipients = []
    uploader = delivery.uploaded_by
    if uploader is not None and uploader.email and uploader.is_active:
        recipients.append(Recipient(uploader.email, uploader))
    event = _CONSULTANT_EVENTS.get(kind)
    if event is not None:
        # The kommune's consultants who chose to hear of this (or have it by default).
        recipients += kommune_consultants(delivery.kommune_id, event)
    notify(kind=kind, recipients=recipients, context=context, key=f"{kind}:{delivery.pk}:{new}")
    if (old, new) == (S.PUSHING, S.FAILED):
        # Pushes give up only after their retries or on a permanent fault: the route needs a
        # person (a key, a host key, a route at KOMBIT).
        notify(
            kind="route_push_failing",
            recipients=administrators(),
            context=context,
            key=f"route_push_failing:{delivery.pk}",
        )


def notify_expected(*, expected_id: int, kind: str) -> None:
    """Due soon / overdue: to the kommune's consultants and the vendor's contact. Called by the
    scanner in the transaction that claims the state change."""

    expected = ExpectedDelivery.objects.select_related(
        "route__kommune", "route__data_area", "route__sender_system__vendor"
    ).get(pk=expected_id)
    route = expected.route
    # Overdue is a consultant's choice; due soon reaches every consultant (their general cadence).
    event = ConsultantEvent.OVERDUE if kind == "overdue" else None
    recipients = kommune_consultants(route.kommune_id, event)
    vendor = route.sender_system.vendor
    if vendor is not None and vendor.contact_email:
        recipients.append(Recipient(vendor.contact_email))
    notify(
        kind=kind,
        recipients=recipients,
        context={"expected": expected, "route": route, "vendor": vendor},
        key=f"{kind}:{expected.pk}",
    )


def notify_not_fetched(*, now: datetime) -> int:
    """Distributed files the recipient has not fetched within NOTIFY_NOT_FETCHED_HOURS: to the
    kommune's consultants and the vendor's contact, once per delivery. Looks back a week past
    the limit only, so the scan stays small and a portal that was down still catches up."""

    cutoff = now - timedelta(hours=settings.NOTIFY_NOT_FETCHED_HOURS)
    stale = Delivery.objects.filter(
        status=DeliveryStatus.DISTRIBUTED,
        status_changed_at__lte=cutoff,
        status_changed_at__gt=cutoff - timedelta(days=7),
    ).select_related("kommune", "data_area", "it_system__vendor")
    count = 0
    for delivery in stale:
        recipients = kommune_consultants(delivery.kommune_id)
        vendor = delivery.it_system.vendor
        if vendor is not None and vendor.contact_email:
            recipients.append(Recipient(vendor.contact_email))
        with transaction.atomic():
            count += bool(
                notify(
                    kind="not_fetched",
                    recipients=recipients,
                    context={"delivery": delivery, "hours": settings.NOTIFY_NOT_FETCHED_HOURS},
                    key=f"not_fetched:{delivery.pk}",
                )
            )
    return count
