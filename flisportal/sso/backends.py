"""Local passwords switched off: for the users of a provider that says so, or for everyone
but superusers when SSO_PASSWORD_LOGIN is off."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.translation import gettext as _

from flisportal.sso.models import IdentityProvider
from routes.models import User


def password_refused_by(user: User) -> str | None:
    """Why `user` may not log in with a password, or None if they may: the name of the
    provider they must use, or "" when passwords are off for everyone. Superusers keep their
    password when passwords are off globally: the way in when the provider is down."""
    provider = (
        IdentityProvider.objects.filter(links__user=user, password_login_disabled=True)
        .order_by("name")
        .first()
    )
    if provider is not None:
        return provider.name
    if not settings.SSO_PASSWORD_LOGIN and not user.is_superuser:
        return ""
    return None


class PasswordGateBackend:
    """Sits before ModelBackend. Raising PermissionDenied stops Django trying the next
    backend, so the password is refused even when it is right. The user is told why only when
    the password was right: a wrong guess learns nothing about how the account logs in.

    Deliberately no get_user(): Django (and the test client's force_login) would otherwise
    record this backend on sessions and then load nobody with it."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if username is None or password is None:
            return None
        user = User.objects.filter(username=username).first()
        if user is None or not user.check_password(password):
            return None
        refused_by = password_refused_by(user)
        if refused_by is None:
            return None
        if request is not None:
            if refused_by:
                text = _(
                    "Din bruger logger ind med %(name)s, ikke med adgangskode. "
                    "Brug knappen «Log ind med %(name)s»."
                ) % {"name": refused_by}
            else:
                text = _(
                    "Portalen bruger ikke adgangskoder. Log ind med din organisations "
                    "login-knap nedenfor."
                )
            messages.error(request, text)
        raise PermissionDenied
