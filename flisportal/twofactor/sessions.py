"""The list of a user's sessions (UserSession), kept up to date cheaply, and ending sessions.

Each session carries `SESSION_TRACK_KEY`: the hash of the key it was recorded under and when
its row was last touched. A request writes nothing while that is under a minute old, so the
list costs no query on most requests; at most once a minute it moves "last seen" (and the
session's own expiry with it, since the session is saved).

Ending a session deletes Django's session row, so it ends at once, not at the next minute.
The table holds only hashes of session keys, so the live keys are hashed to find it: ending is
rare and hashing a few thousand keys takes milliseconds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from flisportal.audit.services import audit_record
from flisportal.lib.clientaddr import client_address
from flisportal.twofactor.models import UserSession, digest

SESSION_TRACK_KEY = "twofactor_tracked"
TOUCH_SECONDS = 60


def _now_seconds() -> float:
    return timezone.now().timestamp()


def session_touch(request: HttpRequest) -> None:
    """Records or refreshes the request's session in the user's list (at most once a minute)."""
    session = request.session
    user = request.user
    assert user.is_authenticated
    if session.session_key is None:
        # A session just made by login() has no key until saved; its row needs one.
        session.save()
    key_hash = digest(session.session_key or "")
    tracked = session.get(SESSION_TRACK_KEY) or {}
    if tracked.get("hash") == key_hash and _now_seconds() - tracked.get("at", 0) < TOUCH_SECONDS:
        return
    now = timezone.now()
    # Django gives a session a new key when the password changes (cycle_key): the row follows.
    previous = tracked.get("hash") or key_hash
    updated = UserSession.objects.filter(key_hash=previous, user=user).update(
        key_hash=key_hash, last_seen=now
    )
    if not updated:
        UserSession.objects.update_or_create(
            key_hash=key_hash,
            defaults={
                "user": user,
                "last_seen": now,
                "user_agent": request.META.get("HTTP_USER_AGENT", "")[:255],
                "address": client_address(request)[:45],
            },
        )
    session[SESSION_TRACK_KEY] = {"hash": key_hash, "at": now.timestamp()}


def sessions_of(user: Any) -> QuerySet[UserSession]:
    """The user's sessions that can still be alive (seen within the session lifetime)."""
    alive_since = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    return UserSession.objects.filter(user=user, last_seen__gte=alive_since)


def current_key_hash(request: HttpRequest) -> str:
    return digest(request.session.session_key or "")


def _delete_django_sessions(key_hashes: set[str]) -> None:
    live = Session.objects.filter(expire_date__gt=timezone.now()).values_list(
        "session_key", flat=True
    )
    keys = [key for key in live.iterator() if digest(key) in key_hashes]
    Session.objects.filter(session_key__in=keys).delete()


def session_end(*, tracked: UserSession, actor: Any) -> None:
    """Ends one session: it is logged out at its next request."""
    _delete_django_sessions({tracked.key_hash})
    audit_record(
        action="session.ended",
        obj=tracked.user,
        actor=actor,
        after={"address": tracked.address, "user_agent": tracked.user_agent},
    )
    tracked.delete()


def sessions_end_all(*, user: Any) -> int:
    """Ends every session of the user; returns how many were listed."""
    rows = UserSession.objects.filter(user=user)
    hashes = set(rows.values_list("key_hash", flat=True))
    _delete_django_sessions(hashes)
    rows.delete()
    return len(hashes)


def user_offboard(*, user: Any, actor: Any) -> int:
    """An administrator's one step when someone leaves: the account is deactivated (no new
    login) and every session ended (no old one goes on). Returns the sessions ended."""
    user.is_active = False
    user.save(update_fields=["is_active"])
    ended = sessions_end_all(user=user)
    audit_record(
        action="user.offboarded",
        obj=user,
        actor=actor,
        before={"is_active": True},
        after={"is_active": False, "sessions_ended": ended},
    )
    return ended


def session_forget(request: HttpRequest) -> None:
    """At logout: the session's row goes with it."""
    if request.session.session_key:
        UserSession.objects.filter(key_hash=current_key_hash(request)).delete()
