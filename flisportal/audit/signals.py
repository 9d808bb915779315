"""Login successes and failures into the audit log (see AuditConfig.ready for why signals)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from flisportal.audit.services import audit_record


def _source(request: HttpRequest | None) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


@receiver(user_logged_in, dispatch_uid="audit_login")
def record_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(
        action="auth.login",
        obj=user,
        actor=user,
        after={"source": _source(request)},
    )


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def record_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Only the username tried: Django has already replaced the password with asterisks, and
    # it is not stored in any form.
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        action="auth.login_failed",
        object_type="routes.user",
        object_repr=username,
        actor_label=username or "?",
        after={"source": _source(request), "username": username},
    )
