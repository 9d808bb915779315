"""Who must use a second factor, and whether this session has passed one.

A session has passed when `request.session["auth_mfa_source"]` names how: "totp", "recovery"
(set here after a local check) or "provider" (set by single sign-on when the identity provider
did the second factor; flisportal/sso). Django's login() starts a new session, so a password
login never inherits the mark of an earlier one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django_otp.plugins.otp_totp.models import TOTPDevice

from flisportal.lib.roles import Role, user_role
from flisportal.twofactor.models import RoleRequirement, SecurityKey

MFA_SESSION_KEY = "auth_mfa_source"
SOURCE_TOTP = "totp"
SOURCE_RECOVERY = "recovery"
SOURCE_WEBAUTHN = "webauthn"
SOURCE_PROVIDER = "provider"
VERIFIED_SOURCES = frozenset({SOURCE_TOTP, SOURCE_RECOVERY, SOURCE_WEBAUTHN, SOURCE_PROVIDER})
# The role of a user found, at an earlier request of this session, to need no second factor:
# saves looking for devices on every request. Kept with the role so a user made administrator
# mid-session is asked at once.
EXEMPT_ROLE_KEY = "twofactor_exempt_role"


def required_roles() -> frozenset[Role]:
    """The roles that must use a second factor: administrators always (they reach every
    kommune's data and the registry), the roles of FLISPORTAL_TWO_FACTOR_ROLES (the operator's
    floor), and the roles an administrator requires it of in the admin (RoleRequirement)."""
    roles = {Role(name) for name in settings.FLISPORTAL_TWO_FACTOR_ROLES}
    roles |= {
        Role(name)
        for name in RoleRequirement.objects.filter(required=True).values_list("role", flat=True)
    }
    return frozenset(roles | {Role.ADMINISTRATOR})


def role_requires_second_factor(user: Any) -> bool:
    return user_role(user) in required_roles()


def has_second_factor(user: Any) -> bool:
    """Has the user an enrolled (confirmed) authenticator app or a security key? Recovery codes
    alone do not count: they are the way back to one, issued with it."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or SecurityKey.objects.filter(user=user).exists()
    )


def session_verified(session: SessionBase) -> bool:
    return session.get(MFA_SESSION_KEY) in VERIFIED_SOURCES


def mark_session_verified(session: SessionBase, source: str) -> None:
    if source not in VERIFIED_SOURCES:
        raise ValueError(f"unknown second-factor source {source!r}")
    session[MFA_SESSION_KEY] = source
    session.pop(EXEMPT_ROLE_KEY, None)
