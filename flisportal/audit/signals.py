"""Login successes and failures into the audit log (see AuditConfig.ready for why signals)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from flisportal.audit.login_failures import login_failure_record
from flisportal.audit.services import audit_record
from flisportal.lib.clientaddr import client_address


def _source(request: HttpRequest | None) -> str:
    # The same address the lockout counts (behind proxies: the client's, not the proxy's).
    return client_address(request) if request is not None else ""


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
    # it is not stored in any form. Counted per address and name, not one row per attempt.
    login_failure_record(
        source=_source(request), username=str(credentials.get("username", "") or "")
    )
