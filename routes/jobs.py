"""RQ jobs of the registry."""

from __future__ import annotations

from routes.notify import notify_expiring_keys


def warn_expiring_keys() -> int:
    """RQ cron (daily): administrators hear of SSH keys expiring within 30 days, once per key."""
    return notify_expiring_keys()
