"""An SSO login's claims against the administrator's mappings (flisportal/sso/services.py):
roles come only from mappings, are taken back when the claims stop mapping, leave hand-given
roles alone, and every login and mapped change is an audit row."""

from __future__ import annotations

import pytest

from flisportal.audit.models import AuditEntry
from flisportal.lib.roles import Role
from flisportal.sso.models import RoleMapping, SsoLink
from flisportal.sso.services import sso_login
from routes.models import User
from tests.helpers.sso import identity_provider, mapping

pytestmark = pytest.mark.django_db

ISSUER = "https://idp.example.invalid"


def claims(sub: str = "sub-1", **more: object) -> dict[str, object]:
    return {"iss": ISSUER, "sub": sub, "email": "lene@example.dk", **more}


def test_unmapped_new_user_gets_an_account_without_a_role_and_a_pending_row():
    provider = identity_provider()
    result = sso_login(provider=provider, claims=claims(groups=["ukendt"]))
    assert result.created and not result.has_role
    assert result.user.role == Role.NONE
    assert not result.user.has_usable_password()
    link = SsoLink.objects.get()
    assert (link.issuer, link.subject, link.user) == (ISSUER, "sub-1", result.user)
    entry = AuditEntry.objects.get(action="sso.login_pending")
    assert entry.after["sub"] == "sub-1" and entry.after["new_user"] is True


def test_mapped_group_gives_the_vendor_role_and_audits_the_change(vendor_a):
    provider = identity_provider()
    mapping(provider, "lev-a-staff", RoleMapping.Grant.VENDOR, vendor=vendor_a)
    result = sso_login(provider=provider, claims=claims(groups=["lev-a-staff", "andet"]))
    assert result.has_role and result.user.role == Role.VENDOR
    assert result.user.vendor == vendor_a
    change = AuditEntry.objects.get(action="sso.role_mapped")
    assert change.before["vendor"] is None and change.after["vendor"] == vendor_a.pk
    assert AuditEntry.objects.filter(action="sso.login", object_id=str(result.user.pk)).exists()


def test_role_is_lost_at_the_next_login_when_the_claims_no_longer_map(kommune_kbh):
    provider = identity_provider()
    mapping(provider, "kbh-konsulenter", RoleMapping.Grant.CONSULTANT, kommune=kommune_kbh)
    mapping(provider, "flis-admins", RoleMapping.Grant.ADMINISTRATOR)
    first = sso_login(provider=provider, claims=claims(groups=["kbh-konsulenter", "flis-admins"]))
    assert first.user.is_staff and list(first.user.kommuner.all()) == [kommune_kbh]

    second = sso_login(provider=provider, claims=claims(groups=[]))
    user = User.objects.get(pk=first.user.pk)
    assert not user.is_staff and not user.kommuner.exists()
    assert not second.has_role
    lost = AuditEntry.objects.filter(action="sso.role_mapped").order_by("seq").last()
    assert lost is not None
    assert lost.before["is_staff"] is True and lost.after["is_staff"] is False
    assert lost.after["kommuner"] == []


def test_a_role_given_by_hand_survives_a_login_whose_claims_map_nothing(vendor_a):
    """An administrator approved the user by hand: mappings only take back what they gave."""
    provider = identity_provider()
    user = sso_login(provider=provider, claims=claims()).user
    user.vendor = vendor_a
    user.save()
    result = sso_login(provider=provider, claims=claims(groups=["ukendt"]))
    assert result.has_role and User.objects.get(pk=user.pk).vendor == vendor_a
    assert not AuditEntry.objects.filter(action="sso.role_mapped").exists()


def test_users_are_matched_by_issuer_and_subject_not_by_email():
    provider = identity_provider()
    first = sso_login(provider=provider, claims=claims(sub="a")).user
    same_mail = sso_login(provider=provider, claims=claims(sub="b")).user
    again = sso_login(provider=provider, claims=claims(sub="a")).user
    assert first != same_mail and first == again
    other_issuer = sso_login(provider=provider, claims={**claims(sub="a"), "iss": "https://x"})
    assert other_issuer.user != first


@pytest.mark.parametrize(
    ("token_claims", "acr_values", "expected"),
    [
        ({"amr": ["pwd", "mfa"]}, "", True),
        ({"amr": ["hwk"]}, "", True),
        ({"amr": ["pwd"]}, "", False),
        ({}, "", False),
        ({"acr": "https://data.gov.dk/concept/core/nsis/Substantial"}, "", False),
        (
            {"acr": "https://data.gov.dk/concept/core/nsis/Substantial"},
            "https://data.gov.dk/concept/core/nsis/Substantial",
            True,
        ),
    ],
)
def test_provider_mfa_comes_from_amr_or_a_configured_acr(token_claims, acr_values, expected):
    """The agreed interface with the twofactor middleware (docs/operations/sso.md)."""
    provider = identity_provider(mfa_acr_values=acr_values)
    assert sso_login(provider=provider, claims=claims(**token_claims)).mfa_by_provider is expected
