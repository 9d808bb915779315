"""Adaptive polling (issue #18): look for an answer soon when one is expected, less often while
it does not come, and not at all when nothing is expected.

- After a push ends `sent`, its sender's IN/ is looked at after POLL_SOON_SECONDS for the
  technical receipt (`receipt_round_soon`).
- After a receipt moves a delivery to `distributed`, the IN/ of each recipient on its route is
  looked at after POLL_SOON_SECONDS (`fetch_rounds_soon`).
- A round that finds the answer still missing asks for the next one after a step that doubles
  with the age of the newest delivery it waits for (flisportal/lib/backoff.py), until the step
  reaches the cron interval: from there the cron round (RECEIPT_POLL_SECONDS,
  FETCH_POLL_SECONDS) is as often as this would be, and it stays as the safety net.

The rounds are RQ jobs put on the queue by name, one pending per SFTP user and kind
(`enqueue_soon_on_commit`), so a burst of pushes by one sender makes one round. Each login they
make counts against SFTP_MAX_LOGINS_PER_MINUTE for that SFTP user; a round over the bound waits
for the next minute.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from deliveries.services import FETCH_ROUND_JOB, RECEIPT_ROUND_JOB
from flisportal.lib.backoff import backoff_seconds
from flisportal.lib.queues import SFTP, enqueue_soon_on_commit, login_allowed, soon_started
from routes.models import KeyState, SftpUser

logger = logging.getLogger(__name__)

RECEIPTS = "receipts"
FETCH = "fetch"


def _key(kind: str, sftp_user_id: int) -> str:
    return f"{kind}:{sftp_user_id}"


def next_step(age: float, *, interval: int) -> float | None:
    """Seconds to the next look for an answer expected since `age` seconds, or None when the
    cron round (every `interval` seconds) looks as often. The step is about as long as the wait
    so far (1, 1, 2, 4, 8, … × POLL_SOON_SECONDS): backoff by the answer's age, so a round needs
    no count of the rounds before it, and a new push starts the steps again."""
    base = settings.POLL_SOON_SECONDS
    attempt = max(1, int(max(0.0, age) // base).bit_length())
    step = backoff_seconds(attempt, base=base)
    return step if step < interval else None


def receipt_round_soon(*, sftp_user_id: int, delay: float | None = None) -> None:
    """Asks for a receipt round for one sender SFTP user after `delay` (POLL_SOON_SECONDS)."""
    if settings.ADAPTIVE_POLL:
        enqueue_soon_on_commit(
            SFTP,
            settings.POLL_SOON_SECONDS if delay is None else delay,
            RECEIPT_ROUND_JOB,
            sftp_user_id,
            key=_key(RECEIPTS, sftp_user_id),
        )


def fetch_round_soon(*, sftp_user_id: int, delay: float | None = None) -> None:
    """Asks for a fetch round for one recipient SFTP user after `delay` (POLL_SOON_SECONDS)."""
    if settings.ADAPTIVE_POLL:
        enqueue_soon_on_commit(
            SFTP,
            settings.POLL_SOON_SECONDS if delay is None else delay,
            FETCH_ROUND_JOB,
            sftp_user_id,
            key=_key(FETCH, sftp_user_id),
        )


def fetch_rounds_soon(*, delivery_id: int) -> None:
    """A delivery was distributed: a fetch round soon for each recipient on its route that the
    portal fetches for (an SFTP user on the same endpoint with an active key)."""
    if not settings.ADAPTIVE_POLL:
        return
    delivery = Delivery.objects.only("route_id", "endpoint_id").get(pk=delivery_id)
    recipients = (
        SftpUser.objects.filter(
            endpoint_id=delivery.endpoint_id,
            it_system__is_recipient=True,
            it_system__received_routes=delivery.route_id,
            keys__state=KeyState.ACTIVE,
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    for sftp_user_id in recipients:
        fetch_round_soon(sftp_user_id=sftp_user_id)


def round_begin(kind: str, *, sftp_user_id: int) -> bool:
    """Called by a soon round as it starts: True when it may log in now. The pending mark is
    cleared first, so work that arrives during this round asks for a round after it. Over the
    login bound, the round is asked for again when the minute is over, and False returned."""
    soon_started(SFTP, _key(kind, sftp_user_id))
    wait = login_allowed(SFTP, str(sftp_user_id), per_minute=settings.SFTP_MAX_LOGINS_PER_MINUTE)
    if not wait:
        return True
    logger.info("%s round for SFTP user %s waits %.0f s: login bound", kind, sftp_user_id, wait)
    ask = receipt_round_soon if kind == RECEIPTS else fetch_round_soon
    ask(sftp_user_id=sftp_user_id, delay=wait)
    return False


def receipt_round_again(*, sftp_user: SftpUser) -> float | None:
    """After a receipt round: the next one for this sender while a sent delivery still awaits
    its receipt and the step is shorter than RECEIPT_POLL_SECONDS. Returns the step."""
    newest = Delivery.objects.filter(
        it_system_id=sftp_user.it_system_id,
        endpoint_id=sftp_user.endpoint_id,
        status=DeliveryStatus.SENT,
    ).aggregate(newest=Max("sent_at"))["newest"]
    step = _step_since(newest, interval=settings.RECEIPT_POLL_SECONDS)
    if step is not None:
        receipt_round_soon(sftp_user_id=sftp_user.pk, delay=step)
    return step


def fetch_round_again(*, sftp_user: SftpUser) -> float | None:
    """After a fetch round: the next one for this recipient while a delivery routed to it is
    distributed and not fetched, and the step is shorter than FETCH_POLL_SECONDS."""
    newest = Delivery.objects.filter(
        endpoint_id=sftp_user.endpoint_id,
        route__recipient_systems=sftp_user.it_system_id,
        status=DeliveryStatus.DISTRIBUTED,
    ).aggregate(newest=Max("receipt_at"))["newest"]
    step = _step_since(newest, interval=settings.FETCH_POLL_SECONDS)
    if step is not None:
        fetch_round_soon(sftp_user_id=sftp_user.pk, delay=step)
    return step


def _step_since(since: datetime | None, *, interval: int) -> float | None:
    if since is None:
        return None  # nothing expected: no extra round, the cron round is the floor
    return next_step((timezone.now() - since).total_seconds(), interval=interval)
