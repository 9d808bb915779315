"""What the portal tells about the registry: administrators of SSH keys about to expire, a
kommune's consultants (by their choice) of its routes' order steps."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from flisportal.notifications.models import ConsultantEvent
from flisportal.notifications.services import administrators, kommune_consultants, notify
from routes.models import KEY_EXPIRY_WARNING, KeyState, Route, RouteStatus, SftpKey


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
