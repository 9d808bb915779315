"""An SSO login: the provider's validated claims become a portal user with the roles the
administrator's mappings give (never more), recorded in the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from flisportal.audit.services import audit_record
from flisportal.lib.roles import Role, user_role
from flisportal.sso.models import IdentityProvider, RoleMapping, SsoLink
from routes.models import User


@dataclass(frozen=True)
class SsoLoginResult:
    user: User
    created: bool
    # Without a role the user waits for an administrator; the view does not log them in.
    has_role: bool
    mfa_by_provider: bool


def _wanted_grants(provider: IdentityProvider, claims: dict[str, Any]) -> dict[str, Any]:
    """What the mappings give for these claims: `staff`, a `vendor` id (the first mapping by
    value wins: a user belongs to one vendor) and `kommuner` ids."""
    values = provider.group_values(claims)
    staff = False
    vendor: int | None = None
    kommuner: set[int] = set()
    for mapping in provider.mappings.filter(value__in=values):
        if mapping.role == RoleMapping.Grant.ADMINISTRATOR:
            staff = True
        elif mapping.role == RoleMapping.Grant.VENDOR and vendor is None:
            vendor = mapping.vendor_id
        elif mapping.role == RoleMapping.Grant.CONSULTANT and mapping.kommune_id is not None:
            kommuner.add(mapping.kommune_id)
    return {"staff": staff, "vendor": vendor, "kommuner": sorted(kommuner)}


def _role_snapshot(user: User) -> dict[str, Any]:
    return {
        "is_staff": user.is_staff,
        "vendor": user.vendor_id,
        "kommuner": sorted(user.kommuner.values_list("pk", flat=True)),
    }


def _apply_grants(user: User, before: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Gives what the mappings give now and takes back what they gave last time and no longer
    give. A role an administrator set by hand (not in `before`) is never touched."""
    if wanted["staff"]:
        user.is_staff = True
    elif before.get("staff") and user.is_staff:
        user.is_staff = False
    if wanted["vendor"] is not None:
        user.vendor_id = wanted["vendor"]
    elif before.get("vendor") is not None and user.vendor_id == before["vendor"]:
        user.vendor_id = None
    user.save(update_fields=["is_staff", "vendor"])
    lost = set(before.get("kommuner", [])) - set(wanted["kommuner"])
    if lost:
        user.kommuner.remove(*lost)
    if wanted["kommuner"]:
        user.kommuner.add(*wanted["kommuner"])


def _new_user(provider: IdentityProvider, claims: dict[str, Any]) -> User:
    """An account without a role and without a usable password, named by the provider's slug
    and the subject (a colon, which no local user name here has); a number is added in the
    rare case that name is taken (the same subject under another issuer)."""
    base = f"{provider.slug}:{claims['sub']}"[:140]
    username, number = base, 1
    while User.objects.filter(username=username).exists():
        number += 1
        username = f"{base}-{number}"
    user = User(
        username=username,
        email=str(claims.get("email", ""))[:254],
        first_name=str(claims.get("given_name", ""))[:150],
        last_name=str(claims.get("family_name", ""))[:150],
    )
    user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def sso_login(*, provider: IdentityProvider, claims: dict[str, Any]) -> SsoLoginResult:
    """The user for an ID token's validated `claims` (issuer + `sub`), created without a role
    on first sight, with the roles the provider's mappings give now. Audited: the login, and
    every role change a mapping made."""
    link = (
        SsoLink.objects.select_for_update()
        .select_related("user")
        .filter(issuer=claims["iss"], subject=claims["sub"])
        .first()
    )
    created = link is None
    if link is None:
        link = SsoLink.objects.create(
            provider=provider,
            user=_new_user(provider, claims),
            issuer=claims["iss"],
            subject=claims["sub"],
        )
    user = link.user
    before = _role_snapshot(user)
    _apply_grants(user, link.granted, _wanted_grants(provider, claims))
    link.granted = _wanted_grants(provider, claims)
    link.last_login_at = timezone.now()
    link.save(update_fields=["granted", "last_login_at"])
    user = User.objects.get(pk=user.pk)  # fresh: user_role caches on the instance
    after = _role_snapshot(user)
    if after != before:
        audit_record(
            action="sso.role_mapped",
            obj=user,
            before=before,
            after=after,
            actor_label=f"sso:{provider.slug}",
        )
    has_role = user_role(user) != Role.NONE
    mfa = provider.provider_did_mfa(claims)
    audit_record(
        action="sso.login" if has_role else "sso.login_pending",
        obj=user,
        after={
            "provider": provider.slug,
            "issuer": claims["iss"],
            "sub": claims["sub"],
            "new_user": created,
            "mfa_by_provider": mfa,
        },
        actor=user if has_role else None,
        actor_label=user.get_username(),
    )
    return SsoLoginResult(user=user, created=created, has_role=has_role, mfa_by_provider=mfa)
