"""Administrators may not reuse one of their last passwords (AUTH_PASSWORD_VALIDATORS).

Django calls a validator's `password_changed` after every password change that is saved
(`AbstractBaseUser.save`), so the history is kept by the same hook that checks it, whichever
page or command changed the password. Every user's history is kept, so a user made
administrator is held to their earlier passwords too.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from flisportal.lib.roles import Role, user_role
from flisportal.twofactor.models import PasswordHistory


class RecentPasswordValidator:
    """Refuses an administrator's new password when it is their current one or one of their
    last FLISPORTAL_PASSWORD_HISTORY passwords."""

    def _count(self) -> int:
        return settings.FLISPORTAL_PASSWORD_HISTORY

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None or user_role(user) != Role.ADMINISTRATOR:
            return
        earlier = list(
            PasswordHistory.objects.filter(user=user).values_list("password", flat=True)[
                : self._count()
            ]
        )
        current = (
            get_user_model().objects.filter(pk=user.pk).values_list("password", flat=True).first()
        )
        for encoded in [current, *earlier]:
            if encoded and check_password(password, encoded):
                raise ValidationError(
                    _(
                        "Du har brugt denne adgangskode for nylig. Vælg en, du ikke har brugt "
                        "som en af dine seneste %(count)d adgangskoder."
                    ),
                    code="password_recently_used",
                    params={"count": self._count()},
                )

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None or not user.password:
            return
        PasswordHistory.objects.create(user=user, password=user.password)
        stale = PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[
            self._count() :
        ]
        PasswordHistory.objects.filter(pk__in=list(stale)).delete()

    def get_help_text(self) -> str:
        return _("Administratorer kan ikke genbruge en af deres seneste adgangskoder.")
