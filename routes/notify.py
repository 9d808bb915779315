"""What the portal tells administrators about the registry: SSH keys about to expire."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from flisportal.notifications.services import administrators, notify
from routes.models import KEY_EXPIRY_WARNING, KeyState, SftpKey


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
