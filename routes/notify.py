"""What the portal tells about the registry: administrators of SSH keys about to expire and of
routes that have waited too long in `ordered`, a kommune's consultants (by their choice) of its
routes' order steps."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from flisportal.lib.periods import local_date
from flisportal.notifications.models import ConsultantEvent, OutgoingMail
from flisportal.notifications.services import administrators, kommune_consultants, notify
from routes.models import KEY_EXPIRY_WARNING, KeyState, OrderedWait, Route, RouteStatus, SftpKey


def notify_expiring_keys(*, now: datetime | None = None) -> int:
    """Administrators hear once per key that an active SSH key expires within 30 days."""

    now = now or timezone.now()
    keys = SftpKey.objects.filter(
        state=KeyState.ACTIVE, expires_at__isnull=False, expires_at__lte=now + KEY_EXPIRY_WARNING
    ).select_related("sftp_user__it_system", "sftp_user__endpoint")
    count = 0
    for key in keys.defer("encrypted_private_key"):
        with transaction.atomic():
            count += bool(
                notify(
                    kind="key_expiring",
                    recipients=administrators(),
                    context={"key": key, "expired": key.is_expired(now)},
                    key=f"key_expiring:{key.pk}",
                )
            )
    return count


# The kind of the reminder mail; its newest row is also the record of the last reminder.
ORDERED_REMINDER_KIND = "routes_waiting"


def routes_waiting_too_long(*, now: datetime) -> list[tuple[Route, OrderedWait]]:
    """Routes still `ordered` for ORDERED_REMINDER_DAYS or more, longest waiting first, each with
    its wait. One query."""
    days = settings.ORDERED_REMINDER_DAYS
    routes = (
        Route.objects.filter(status=RouteStatus.ORDERED)
        .with_ordered_since()
        .select_related("kommune", "data_area", "sender_system__vendor", "endpoint")
        .order_by("pk")
    )
    waiting = []
    for route in routes:
        wait = route.ordered_wait(now)
        if wait is not None and wait.days >= days:
            waiting.append((route, wait))
    return sorted(waiting, key=lambda item: (item[1].since_date, item[0].pk))


def _step_day(wait: OrderedWait) -> date:
    """The day the route's latest reminder step was reached: the reminder comes after
    ORDERED_REMINDER_DAYS days of waiting and again after each further period as long."""
    days = settings.ORDERED_REMINDER_DAYS
    return wait.since_date + timedelta(days=(wait.days // days) * days)


def notify_routes_waiting(*, now: datetime | None = None) -> int:
    """One mail to the administrators listing every route waiting too long in `ordered`, sent
    when at least one of them has reached a reminder step (14, 28, 42 … days by default) since
    the last reminder. Returns the number of mails made.

    Steps are whole days in Denmark, so every route that reaches a step on a day has reached it
    at that day's start: a reminder made on a day covers all of that day's steps, and the next
    day's run looks only for steps after the day of the newest reminder mail. The mail's key is
    the day, so two runs on one day (the schedule and «Kør nu») make one mail per address."""
    now = now or timezone.now()
    waiting = routes_waiting_too_long(now=now)
    last = OutgoingMail.objects.filter(kind=ORDERED_REMINDER_KIND).aggregate(at=Max("created_at"))
    last_day = local_date(last["at"]) if last["at"] else None
    new = [route.pk for route, wait in waiting if last_day is None or _step_day(wait) > last_day]
    if not new:
        return 0
    today = local_date(now)
    return len(
        notify(
            kind=ORDERED_REMINDER_KIND,
            recipients=administrators(),
            context={
                "waiting": waiting,
                "new": new,
                "days": settings.ORDERED_REMINDER_DAYS,
                "today": today,
            },
            key=f"{ORDERED_REMINDER_KIND}:{today.isoformat()}",
        )
    )


def notify_route_change(*, route: Route, old: str, new: str, note: str = "") -> list[int]:
    """A route of a kommune was ordered, established, rejected or retired: to the kommune's
    consultants who chose route changes. Called by `route_transition` inside its transaction,
    so the notice exists exactly when the step does; once per route and step."""

    return notify(
        kind="route_changed",
        recipients=kommune_consultants(route.kommune_id, ConsultantEvent.ROUTE_CHANGED),
        context={
            "route": route,
            "old": RouteStatus(old).label,
            "new": RouteStatus(new).label,
            "note": note,
        },
        key=f"route_changed:{route.pk}:{new}",
    )
