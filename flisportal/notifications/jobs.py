"""RQ jobs of the notifications app. Each takes an id (or none, for a sweep)."""

from __future__ import annotations

from flisportal.notifications.services import digests_send, mail_send, mails_requeue


def send_mail(mail_id: int) -> str | None:
    """Sends one queued mail; a mail no longer pending is left alone (a duplicate job)."""
    return mail_send(mail_id=mail_id)


def send_digests() -> int:
    """RQ cron (daily, DIGEST_CRON): one mail per person with everything waiting for them."""
    return digests_send()


def requeue_mails() -> int:
    """RQ cron (every MAIL_REQUEUE_SECONDS): mails whose send job was lost are queued again."""
    return mails_requeue()
