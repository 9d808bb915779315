"""The login lockout: django-axes' limit per user name and address, plus a limit per address.

django-axes counts failures per row of (user name, address, user agent) and locks when the
rows matching the configured parameters reach one limit. With the portal's parameters
(username + address) a single address can try any number of user names, a few times each. This
handler adds a second, higher limit on the address alone, in which each user name counts at most
AXES_FAILURE_LIMIT times: a colleague hammering their own locked account behind the kommune's NAT
adds no more than their lock did, while spraying many user names from one address is stopped.

It lives in the project package, not in `flisportal.lib`, because it is django-axes' handler and
the lockout page: wiring, not a leaf helper.
"""

from __future__ import annotations

import math
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import Sum, Value
from django.db.models.functions import Least
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from flisportal.lib.clientaddr import client_address

LOCKOUT_TEMPLATE = "registration/locked_out.html"


def address_failures(request: HttpRequest) -> int:
    """Failed logins from the request's address within the cool-off, each user name (and user
    agent) counted at most AXES_FAILURE_LIMIT times."""
    address = getattr(request, "axes_ip_address", None) or client_address(request)
    per_name = settings.AXES_FAILURE_LIMIT
    total = AccessAttempt.objects.filter(
        ip_address=address, attempt_time__gte=get_cool_off_threshold(request)
    ).aggregate(total=Sum(Least("failures_since_start", Value(per_name))))["total"]
    return total or 0


def address_locked(request: HttpRequest) -> bool:
    return address_failures(request) >= settings.FLISPORTAL_LOGIN_FAILURES_PER_ADDRESS


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler with the per-address limit added (AXES_HANDLER)."""

    def is_locked(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> bool:
        if super().is_locked(request, credentials):
            return True
        return address_locked(request)

    def user_login_failed(
        self,
        sender: Any,
        credentials: dict[str, Any],
        request: HttpRequest | None = None,
        **kwargs: Any,
    ) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or getattr(request, "axes_locked_out", False):
            return
        if self.is_whitelisted(request, credentials):
            return
        # The failure just counted may be the one that reaches the address's limit: this very
        # answer is then the lockout page, as django-axes does for its own limit.
        if address_locked(request):
            request.axes_locked_out = True  # type: ignore[attr-defined]
            request.axes_credentials = credentials  # type: ignore[attr-defined]
            user_locked_out.send(
                "axes",
                request=request,
                username=get_client_username(request, credentials),
                ip_address=request.axes_ip_address,  # type: ignore[attr-defined]
            )


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The Danish lockout page (AXES_LOCKOUT_CALLABLE): which lock holds, for how long, and
    what to do. An address lock names the whole network, so it says who can lift it."""
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else 0
    context = {"minutes": minutes, "address_locked": address_locked(request)}
    return render(request, LOCKOUT_TEMPLATE, context, status=settings.AXES_HTTP_RESPONSE_CODE)
