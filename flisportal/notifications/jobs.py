"""RQ jobs of the notifications app. Each takes an id (or none, for a sweep)."""

from __future__ import annotations


def send_mail(mail_id: int) -> str | None:
    """Sends one queued mail; a mail no longer pending is left alone (a duplicate job)."""
    from flisportal.notifications.services import mail_send

    return mail_send(mail_id=mail_id)


def send_digests() -> int:
    """RQ cron (daily, DIGEST_CRON): one mail per person with everything waiting for them."""
    from flisportal.notifications.services import digests_send

    return digests_send()


def warn_expiring_keys() -> int:
    """RQ cron (daily): administrators hear of SSH keys expiring within 30 days, once per key."""
    from flisportal.notifications.services import notify_expiring_keys

    return notify_expiring_keys()


def requeue_mails() -> int:
    """RQ cron (every MAIL_REQUEUE_SECONDS): mails whose send job was lost are queued again."""
    from flisportal.notifications.services import mails_requeue

    return mails_requeue()
