"""The session list follows logouts (see TwoFactorConfig.ready for why a signal)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from flisportal.twofactor.sessions import session_forget


@receiver(user_logged_out, dispatch_uid="twofactor_session_forget")
def forget_session(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        session_forget(request)
