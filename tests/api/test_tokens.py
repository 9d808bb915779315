"""The API-nøgler page and the token rules: shown once, stored as a digest, a required and
capped expiry, revocation, last use, audit rows."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from deliveries.api.models import ApiToken
from deliveries.api.services import TokenRefused, api_token_authenticate
from flisportal.audit.models import AuditEntry
from routes.models import User
from tests.helpers.api import ApiWorld, token_for

PAGE = "api:tokens"


def _logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_new_token_is_shown_once_and_only_its_digest_is_kept(api_world: ApiWorld) -> None:
    """Rule: the token is shown on the page after the POST and never again; the database
    holds its SHA-256, and the audit row holds neither."""
    client = _logged_in(api_world.vendor_user)

    made = client.post(reverse(PAGE), {"name": "Fagsystem X", "days": 30})
    first = client.get(reverse(PAGE)).content.decode()
    second = client.get(reverse(PAGE)).content.decode()

    assert made.status_code == 302
    token = ApiToken.objects.get(user=api_world.vendor_user)
    secret = first.split('<code class="d-block user-select-all p-2 bg-light border">')[1]
    secret = secret.split("</code>")[0]
    assert secret.startswith(f"flis_{token.key_id}_")
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in second
    assert token.name == "Fagsystem X"
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    audit = AuditEntry.objects.get(action="api_token.create")
    assert audit.actor == api_world.vendor_user
    assert "digest" not in audit.after
    assert secret not in str(audit.after)


@pytest.mark.parametrize("days", ["", "0", "366"])
def test_the_expiry_is_required_and_at_most_the_setting(api_world: ApiWorld, days: str) -> None:
    """Rule: every token expires, within API_TOKEN_MAX_DAYS (365 by default)."""
    response = _logged_in(api_world.vendor_user).post(reverse(PAGE), {"name": "x", "days": days})

    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_revoking_stops_the_token_at_once_and_is_audited(api_world: ApiWorld) -> None:
    secret = token_for(api_world.vendor_user)
    token = ApiToken.objects.get()
    client = _logged_in(api_world.vendor_user)

    response = client.post(reverse("api:token_revoke", args=[token.pk]))
    used = Client().get(reverse("api:deliveries"), HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert used.status_code == 401
    assert used.json()["code"] == "token_revoked"
    assert AuditEntry.objects.filter(action="api_token.revoke", object_id=str(token.pk)).exists()


def test_another_persons_token_cannot_be_revoked(api_world: ApiWorld) -> None:
    """Rule: the page acts on the person's own tokens only; another's is 404."""
    token_for(api_world.vendor_user)
    token = ApiToken.objects.get()

    response = _logged_in(api_world.consultant).post(reverse("api:token_revoke", args=[token.pk]))

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_page_is_for_people_with_a_role_and_revoking_is_post_only(
    api_world: ApiWorld,
) -> None:
    nobody = User.objects.create_user("ingen-rolle")
    token_for(api_world.vendor_user)
    token = ApiToken.objects.get()

    assert _logged_in(nobody).get(reverse(PAGE)).status_code == 404
    assert Client().get(reverse(PAGE)).status_code == 302  # to the login page
    revoke = reverse("api:token_revoke", args=[token.pk])
    assert _logged_in(api_world.vendor_user).get(revoke).status_code == 405


def test_last_use_is_written_at_most_once_a_minute(api_world: ApiWorld) -> None:
    """Rule: a system polling every second does not write on every request."""
    secret = token_for(api_world.vendor_user)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api_token_authenticate(secret)
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        api_token_authenticate(secret)
    assert ApiToken.objects.get().last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        api_token_authenticate(secret)
    assert ApiToken.objects.get().last_used_at == start + timedelta(seconds=61)


def test_a_token_stops_at_its_expiry(api_world: ApiWorld) -> None:
    secret = token_for(api_world.vendor_user, days=1)
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1), tick=False):
        with pytest.raises(TokenRefused) as refused:
            api_token_authenticate(secret)
    assert refused.value.reason == "expired"


def test_a_closed_account_s_token_opens_nothing(api_world: ApiWorld) -> None:
    secret = token_for(api_world.vendor_user)
    User.objects.filter(pk=api_world.vendor_user.pk).update(is_active=False)

    response = Client().get(reverse("api:deliveries"), HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 401
    assert response.json()["code"] == "token_inactive"


def test_the_account_menu_leads_to_the_token_page(api_world: ApiWorld) -> None:
    """Rule: the page is in the account menu for people with a role (and not for others)."""
    link = f'href="{reverse(PAGE)}"'
    nobody = User.objects.create_user("ingen-rolle")

    vendor_page = _logged_in(api_world.vendor_user).get(reverse("front:start")).content.decode()
    nobody_page = _logged_in(nobody).get(reverse("front:start")).content.decode()

    assert link in vendor_page
    assert link not in nobody_page
