"""The gate after the password: one middleware decides whether a logged-in session may go on.

- A session that has passed a second factor (flisportal/twofactor/policy.py) goes on.
- A user with an authenticator is sent to give a code, whatever their role.
- A user whose role requires a second factor and who has none is sent to enrol one.
- Anyone else goes on (and the session remembers it, so later requests ask nothing).

Until then only the pages needed to get through are open: the second-factor pages, logout,
the language switch and the health check. Every other page – the Django admin, the queue
dashboard, /drift/, the registry – is closed, so no administrator page is reachable with a
password alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve
from django.utils.http import urlencode

from flisportal.lib.roles import user_role
from flisportal.twofactor.policy import (
    EXEMPT_ROLE_KEY,
    has_second_factor,
    role_requires_second_factor,
    session_verified,
)
from flisportal.twofactor.sessions import session_touch

# URL names open to a session that has not passed its second factor yet.
OPEN_URL_NAMES = frozenset(
    {
        "twofactor:verify",
        "twofactor:enrol",
        "twofactor:recovery_codes_shown",
        "twofactor:securitykey_register_begin",
        "twofactor:securitykey_register_finish",
        "twofactor:securitykey_login_begin",
        "twofactor:securitykey_login_finish",
        "login",
        "logout",
        # Single sign-on (flisportal/sso): its logout is the portal's logout form for everyone,
        # and a new sign-on may replace the session.
        "sso:logout",
        "sso:start",
        "sso:callback",
        "set_language",
        "front:healthz",
        "password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
    }
)


def _url_name(request: HttpRequest) -> str:
    try:
        return resolve(request.path_info).view_name
    except Resolver404:
        return ""


def _to(request: HttpRequest, name: str) -> HttpResponse:
    target = redirect(name)
    if request.method == "GET":
        target["Location"] += "?" + urlencode({"next": request.get_full_path()})
    return target


class SecondFactorMiddleware:
    """Sends a logged-in session to the second factor before any page but the open ones."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        gate = self._gate(request)
        return gate if gate is not None else self.get_response(request)

    def _gate(self, request: HttpRequest) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or session_verified(request.session):
            return None
        if request.session.get(EXEMPT_ROLE_KEY) == user_role(user):
            return None
        if _url_name(request) in OPEN_URL_NAMES:
            return None
        if has_second_factor(user):
            return _to(request, "twofactor:verify")
        if role_requires_second_factor(user):
            return _to(request, "twofactor:enrol")
        request.session[EXEMPT_ROLE_KEY] = user_role(user).value
        return None


class SessionListMiddleware:
    """Keeps the logged-in user's session in their list of sessions (at most a write a minute)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # After the view: a login has by now given the session its user, a logout taken it away.
        # Only a session that holds a login is listed: a token-authenticated API request also
        # has a user by now (REST framework sets it), but no logged-in session to list, and
        # touching one would create a session per request.
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session and request.user.is_authenticated:
            session_touch(request)
        return response
