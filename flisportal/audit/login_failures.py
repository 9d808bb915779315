"""Failed logins in the audit log, without letting whoever fails decide how much is written.

A failed login is anonymous: the user name was typed by a stranger, so it is never the actor
(`ANONYMOUS_LABEL` is), and it is stored only with its hidden characters written as codes and
cut to `USERNAME_LIMIT` (flisportal/lib/visible.py). Repeats are counted, not written: per
window (the lockout's cool-off, AXES_COOLOFF_MINUTES) an address and tried user name give one
`auth.login_failed` row at the first failure, and, if there were more, one
`auth.login_failed_repeated` row with their count once the window has closed (the periodic
`login_failures_summarise`). An address that tries more user names in a window than its lockout
allows (FLISPORTAL_LOGIN_FAILURES_PER_ADDRESS) has the rest counted together, so spraying
names does not write a row per name either.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from flisportal.audit.models import AuditEntry, LoginFailureTally
from flisportal.audit.services import audit_record
from flisportal.lib.visible import visible_text

ANONYMOUS_LABEL = "anonym"
USERNAME_LIMIT = 80
# How a window's "further user names" tally is shown (its stored username is empty).
FURTHER_USERNAMES = "(flere brugernavne)"
# Windows are counted from a fixed instant, so every process cuts them at the same times.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def window_width() -> timedelta:
    return settings.AXES_COOLOFF_TIME


def window_start(at: datetime) -> datetime:
    width = window_width()
    return _EPOCH + width * ((at - _EPOCH) // width)


def _count(source: str, username: str, start: datetime) -> bool:
    """Adds one failure to the tally; True if it is the window's first (the tally is new)."""
    tally = LoginFailureTally.objects.filter(source=source, username=username, window_start=start)
    if tally.update(failures=F("failures") + 1):
        return False
    try:
        with transaction.atomic():
            LoginFailureTally.objects.create(source=source, username=username, window_start=start)
    except IntegrityError:
        # Another process created it between our update and insert: theirs was the first.
        tally.update(failures=F("failures") + 1)
        return False
    return True


def _subject(source: str, username: str) -> tuple[str, dict[str, object]]:
    if username:
        return username, {"source": source, "username": username}
    return FURTHER_USERNAMES, {"source": source, "further_usernames": True}


def login_failure_record(
    *, source: str, username: str, at: datetime | None = None
) -> AuditEntry | None:
    """Counts one failed login; returns the audit row written, or None when it was only
    counted (an earlier failure of the same address and user name in this window has its row)."""
    at = at or timezone.now()
    start = window_start(at)
    name = visible_text(username, limit=USERNAME_LIMIT) if username else "?"
    same_window = LoginFailureTally.objects.filter(source=source, window_start=start)
    with transaction.atomic():
        if (
            not same_window.filter(username=name).exists()
            and same_window.count() >= settings.FLISPORTAL_LOGIN_FAILURES_PER_ADDRESS
        ):
            name = ""
        if not _count(source, name, start):
            return None
        shown, after = _subject(source, name)
        return audit_record(
            action="auth.login_failed",
            object_type="routes.user",
            object_repr=shown,
            actor_label=ANONYMOUS_LABEL,
            after=after,
            at=at,
        )


def login_failures_summarise(*, now: datetime | None = None) -> int:
    """Closes the tallies of windows that have ended: one `auth.login_failed_repeated` row for
    each with failures beyond its first, then the tally is deleted. Returns the rows written."""
    now = now or timezone.now()
    closed = LoginFailureTally.objects.filter(window_start__lte=now - window_width())
    written = 0
    for tally in closed.order_by("window_start", "pk"):
        with transaction.atomic():
            # Whoever deletes the tally writes its row: two summarisers never write it twice.
            deleted, _ = LoginFailureTally.objects.filter(pk=tally.pk).delete()
            if not deleted or tally.failures <= 1:
                continue
            shown, after = _subject(tally.source, tally.username)
            audit_record(
                action="auth.login_failed_repeated",
                object_type="routes.user",
                object_repr=shown,
                actor_label=ANONYMOUS_LABEL,
                after={
                    **after,
                    "further_failures": tally.failures - 1,
                    "window_start": tally.window_start.isoformat(),
                    "window_end": (tally.window_start + window_width()).isoformat(),
                },
            )
            written += 1
    return written
