"""Workflows of the portal's mail: deciding who hears of what, recording each mail as an
`OutgoingMail` row, sending it from a worker, retrying failures, and the daily digest.

Mails are rendered when decided, in Danish, from templates/emails/<kind>-subject.txt,
-body.txt and -body.html. Rows are written inside the caller's transaction (so a notice exists
exactly when the change it tells of does) and the send job is enqueued on commit: no SMTP
inside a transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from flisportal.notifications import jobs
from flisportal.notifications.models import (
    Cadence,
    MailStatus,
    NotificationPreference,
    OutgoingMail,
)
from flisportal.queues import DEFAULT, enqueue_in_on_commit, enqueue_on_commit
from routes.models import KeyState, SftpKey, User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    email: str
    # A person with a preference; None for an address only (a vendor's contact mailbox).
    user: User | None = None


def administrators() -> list[Recipient]:
    return [
        Recipient(u.email, u)
        for u in User.objects.filter(is_staff=True, is_active=True).exclude(email="")
    ]


def kommune_consultants(kommune_id: int) -> list[Recipient]:
    return [
        Recipient(u.email, u)
        for u in User.objects.filter(kommuner=kommune_id, is_active=True, is_staff=False).exclude(
            email=""
        )
    ]


def render_mail(*, kind: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, text, html) of a mail kind, in Danish whatever language the caller runs in."""
    context = {"base_url": settings.PORTAL_BASE_URL.rstrip("/"), **context}
    with translation.override("da"):
        subject = render_to_string(f"emails/{kind}-subject.txt", context)
        text = render_to_string(f"emails/{kind}-body.txt", context)
        html = render_to_string(f"emails/{kind}-body.html", context)
    # A header cannot hold a line break.
    return " ".join(subject.split())[:255], text, html


def notify(
    *, kind: str, recipients: Iterable[Recipient], context: dict[str, Any], key: str = ""
) -> list[int]:
    """Records the mail for each address (once per `key` and address) and returns the new
    rows' ids. People who chose the daily digest get it there; the rest get it at once."""
    unique: dict[str, Recipient] = {}
    for recipient in recipients:
        if recipient.email:
            unique.setdefault(recipient.email.lower(), recipient)
    if not unique:
        return []
    user_ids = [r.user.pk for r in unique.values() if r.user is not None]
    digest_users = set(
        NotificationPreference.objects.filter(
            user_id__in=user_ids, cadence=Cadence.DIGEST
        ).values_list("user_id", flat=True)
    )
    subject, text, html = render_mail(kind=kind, context=context)
    created = []
    for recipient in unique.values():
        digest = recipient.user is not None and recipient.user.pk in digest_users
        try:
            # A savepoint: a duplicate key must not spoil the caller's transaction.
            with transaction.atomic():
                mail = OutgoingMail.objects.create(
                    kind=kind,
                    to=recipient.email,
                    user=recipient.user,
                    subject=subject,
                    body_text=text,
                    body_html=html,
                    key=key,
                    status=MailStatus.DIGEST if digest else MailStatus.PENDING,
                )
        except IntegrityError:
            continue  # this notice was already made for this address
        created.append(mail.pk)
        if not digest:
            enqueue_on_commit(DEFAULT, jobs.send_mail, mail.pk)
    return created


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=settings.MAIL_RETRY_SECONDS * 2 ** max(0, attempts - 1))


def mail_send(*, mail_id: int) -> str | None:
    """Sends one pending mail; on failure it goes back to pending with a later retry, or to
    failed after MAIL_MAX_ATTEMPTS (shown to administrators in the admin)."""
    claimed = OutgoingMail.objects.filter(pk=mail_id, status=MailStatus.PENDING).update(
        status=MailStatus.SENDING, attempts=F("attempts") + 1, last_attempt_at=timezone.now()
    )
    if claimed != 1:
        return None
    mail = OutgoingMail.objects.get(pk=mail_id)
    message = EmailMultiAlternatives(mail.subject, mail.body_text, to=[mail.to])
    if mail.body_html:
        message.attach_alternative(mail.body_html, "text/html")
    try:
        message.send()
    except Exception as exc:  # SMTP, DNS, socket: all are a failed send to record
        error = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "mail %s to %s failed (attempt %s): %s", mail.pk, mail.to, mail.attempts, error
        )
        if mail.attempts >= settings.MAIL_MAX_ATTEMPTS:
            OutgoingMail.objects.filter(pk=mail.pk).update(
                status=MailStatus.FAILED, last_error=error
            )
            return MailStatus.FAILED
        OutgoingMail.objects.filter(pk=mail.pk).update(status=MailStatus.PENDING, last_error=error)
        enqueue_in_on_commit(DEFAULT, _retry_delay(mail.attempts), jobs.send_mail, mail.pk)
        return MailStatus.PENDING
    OutgoingMail.objects.filter(pk=mail.pk).update(
        status=MailStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return MailStatus.SENT


def mails_requeue(*, now: datetime | None = None) -> int:
    """Puts mails whose job was lost back on the queue: pending ones untouched for
    MAIL_STUCK_MINUTES (Redis flushed, or a retry whose scheduled job vanished) and ones stuck
    in `sending` that long (the worker died mid-send: a mail twice beats an alert lost). A
    duplicate job is harmless, since sending starts with a conditional claim."""
    now = now or timezone.now()
    stale = now - timedelta(minutes=settings.MAIL_STUCK_MINUTES)
    with transaction.atomic():
        OutgoingMail.objects.filter(status=MailStatus.SENDING, last_attempt_at__lte=stale).update(
            status=MailStatus.PENDING
        )
        lost = list(
            OutgoingMail.objects.filter(status=MailStatus.PENDING, created_at__lte=stale)
            .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lte=stale))
            .values_list("pk", flat=True)
        )
        for pk in lost:
            enqueue_on_commit(DEFAULT, jobs.send_mail, pk)
    return len(lost)


def mail_retry(*, mail_id: int) -> bool:
    """An administrator's "send again" of a failed mail, with a fresh allowance of attempts."""
    with transaction.atomic():
        changed = OutgoingMail.objects.filter(pk=mail_id, status=MailStatus.FAILED).update(
            status=MailStatus.PENDING, attempts=0
        )
        if changed:
            enqueue_on_commit(DEFAULT, jobs.send_mail, mail_id)
    return changed == 1


def digests_send() -> int:
    """One mail per address with every notice waiting for its digest; returns how many."""
    waiting = list(
        OutgoingMail.objects.filter(status=MailStatus.DIGEST).order_by("to", "created_at", "pk")
    )
    groups: dict[str, list[OutgoingMail]] = {}
    for mail in waiting:
        groups.setdefault(mail.to.lower(), []).append(mail)
    sent = 0
    for items in groups.values():
        subject, text, html = render_mail(kind="digest", context={"items": items})
        with transaction.atomic():
            digest = OutgoingMail.objects.create(
                kind="digest",
                to=items[0].to,
                user=items[0].user,
                subject=subject,
                body_text=text,
                body_html=html,
            )
            OutgoingMail.objects.filter(
                pk__in=[m.pk for m in items], status=MailStatus.DIGEST
            ).update(status=MailStatus.DIGESTED, digest=digest)
            enqueue_on_commit(DEFAULT, jobs.send_mail, digest.pk)
        sent += 1
    return sent


# --- what the portal tells whom ---------------------------------------------------------------


def notify_delivery_status(*, delivery_id: int, old: str, new: str) -> None:
    """Called by `delivery_transition` inside its transaction, for every status change."""
    from deliveries.models import Delivery, DeliveryStatus, ValidationIssue

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
        "uploaded_by", "kommune", "data_area", "it_system__vendor", "route"
    ).get(pk=delivery_id)
    context: dict[str, Any] = {"delivery": delivery}
    if kind == "validation_failed":
        context["errors"] = list(
            ValidationIssue.objects.filter(delivery=delivery).order_by("position")[
                : settings.NOTIFY_FIRST_ERRORS
            ]
        )
    uploader = delivery.uploaded_by
    if uploader is not None and uploader.email and uploader.is_active:
        notify(
            kind=kind,
            recipients=[Recipient(uploader.email, uploader)],
            context=context,
            key=f"{kind}:{delivery.pk}:{new}",
        )
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
    from deliveries.models import ExpectedDelivery

    expected = ExpectedDelivery.objects.select_related(
        "route__kommune", "route__data_area", "route__sender_system__vendor"
    ).get(pk=expected_id)
    route = expected.route
    recipients = kommune_consultants(route.kommune_id)
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
    from deliveries.models import Delivery, DeliveryStatus

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


def notify_expiring_keys(*, now: datetime | None = None) -> int:
    """Administrators hear once per key that an active SSH key expires within 30 days."""
    from routes.models import KEY_EXPIRY_WARNING

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
