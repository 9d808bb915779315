"""RQ jobs of the registry."""

from __future__ import annotations

from routes.notify import notify_expiring_keys, notify_routes_waiting


def warn_expiring_keys() -> int:
    """RQ cron (daily): administrators hear of SSH keys expiring within 30 days, once per key."""
    return notify_expiring_keys()


def remind_routes_waiting() -> int:
    """RQ cron (daily): administrators hear of routes waiting too long in `ordered`."""
    return notify_routes_waiting()
