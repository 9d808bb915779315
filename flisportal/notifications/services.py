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
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.template.loader import render_to_string
from django.utils import timezone, translation

from flisportal.lib.backoff import backoff_seconds
from flisportal.lib.queues import DEFAULT, enqueue_in_on_commit, enqueue_on_commit
from flisportal.notifications.models import (
    Cadence,
    ConsultantEvent,
    EventChoice,
    MailStatus,
    NotificationKommuneChoice,
    NotificationPreference,
    OutgoingMail,
)

logger = logging.getLogger(__name__)

# Enqueued by dotted name: the jobs module imports this one, not the other way round.
SEND_MAIL_JOB = "flisportal.notifications.jobs.send_mail"


@dataclass(frozen=True)
class Recipient:
    email: str
    # A person with a preference; None for an address only (a vendor's contact mailbox).
    user: Any = None  # the portal's user model (AUTH_USER_MODEL)
    # Immediate or digest as decided for this notice (a consultant's choice for one event);
    # None: the person's general choice.
    cadence: str | None = None


def administrators() -> list[Recipient]:
    return [
        Recipient(u.email, u)
        for u in get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
    ]


def kommune_consultants(kommune_id: int, event: ConsultantEvent | None = None) -> list[Recipient]:
    """The consultants of one kommune who are to hear of a notice, each with how.

    The one place that decides which consultant hears what: with an `event`, each consultant's
    choice for it in this kommune (a NotificationKommuneChoice), else their general choice
    (NotificationPreference.event_choice: off, immediate or digest, with its defaults); without
    one (due soon, not fetched), every consultant at their general cadence. Only active people
    with an address, who act as consultants (not administrators or vendor staff, who see the
    kommune for other reasons), of this kommune."""
    people = (
        get_user_model()
        .objects.filter(kommuner=kommune_id, is_active=True, is_staff=False, vendor__isnull=True)
        .exclude(email="")
        .select_related("notification_preference")
        .order_by("pk")
    )
    if event is not None:
        # The kommune's own choice read in the same query as the people: no query per
        # recipient, and none more per event than before.
        people = people.annotate(
            kommune_choice=Subquery(
                NotificationKommuneChoice.objects.filter(
                    user=OuterRef("pk"), kommune_id=kommune_id, event=event
                ).values("choice")[:1]
            )
        )
    recipients = []
    for person in people:
        preference = getattr(person, "notification_preference", None) or NotificationPreference()
        if event is None:
            recipients.append(Recipient(person.email, person))
            continue
        choice = getattr(person, "kommune_choice", None) or preference.event_choice(event)
        if choice != EventChoice.OFF:
            recipients.append(Recipient(person.email, person, cadence=choice))
    return recipients


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
        if recipient.cadence is not None:
            digest = recipient.cadence == Cadence.DIGEST
        else:
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
            enqueue_on_commit(DEFAULT, SEND_MAIL_JOB, mail.pk)
    return created


def _retry_delay(attempts: int) -> timedelta:
    # Doubling from MAIL_RETRY_SECONDS without a cap: MAIL_MAX_ATTEMPTS ends the series.
    return timedelta(seconds=backoff_seconds(attempts, base=settings.MAIL_RETRY_SECONDS))


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
        enqueue_in_on_commit(DEFAULT, _retry_delay(mail.attempts), SEND_MAIL_JOB, mail.pk)
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
            enqueue_on_commit(DEFAULT, SEND_MAIL_JOB, pk)
    return len(lost)


def mail_retry(*, mail_id: int) -> bool:
    """An administrator's "send again" of a failed mail, with a fresh allowance of attempts."""
    with transaction.atomic():
        changed = OutgoingMail.objects.filter(pk=mail_id, status=MailStatus.FAILED).update(
            status=MailStatus.PENDING, attempts=0
        )
        if changed:
            enqueue_on_commit(DEFAULT, SEND_MAIL_JOB, mail_id)
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
            enqueue_on_commit(DEFAULT, SEND_MAIL_JOB, digest.pk)
        sent += 1
    return sent
