"""The three roles a person acts in, decided from the user alone.

A leaf module, so that every app (the audit log's scoping as much as the registry's) asks the
same question the same way without importing the registry: it reads only the user model's
`is_staff`, `vendor_id` and `kommuner`.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("Administrator")
    VENDOR = "vendor", _("Leverandør")
    CONSULTANT = "consultant", _("Kommunekonsulent")
    NONE = "none", _("Ingen rolle")


def user_role(user: Any) -> Role:
    """The one role a user acts in. Administrators win; a user has a vendor or kommuner."""
    if not user.is_authenticated:
        return Role.NONE
    cached: Role | None = getattr(user, "_flis_role", None)
    if cached is not None:
        return cached
    if user.is_staff:
        role = Role.ADMINISTRATOR
    elif user.vendor_id is not None:
        role = Role.VENDOR
    elif user.kommuner.exists():
        role = Role.CONSULTANT
    else:
        role = Role.NONE
    user._flis_role = role  # type: ignore[attr-defined]
    return role
