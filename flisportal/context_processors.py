from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from flisportal.lib.roles import Role, user_role


def portal(request: HttpRequest) -> dict[str, Any]:
    """The current user's role, for navigation by role."""
    role = user_role(request.user)
    return {"role": role, "Role": Role}
