"""The sessions a user sees and ends, and an administrator's one-step offboarding."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from flisportal.audit.models import AuditEntry
from flisportal.twofactor.models import UserSession, digest
from routes.models import User
from tests.helpers.api import token_for

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (Windows NT 10.0) Firefox/133.0"


def _logged_in(user, password) -> Client:
    client = Client(HTTP_USER_AGENT=BROWSER, REMOTE_ADDR="192.0.2.7")
    response = client.post(reverse("login"), {"username": user.username, "password": password})
    assert response.status_code == 302
    return client


def test_a_login_is_listed_with_browser_address_and_times(vendor_a_user):
    client = _logged_in(vendor_a_user, "pw-vendor-a-1234")
    row = UserSession.objects.get(user=vendor_a_user)
    assert row.key_hash == digest(client.session.session_key)
    assert (row.user_agent, row.address) == (BROWSER, "192.0.2.7")
    page = client.get(reverse("twofactor:sessions")).content.decode()
    assert BROWSER in page and "192.0.2.7" in page and "Denne session" in page


def test_last_seen_moves_at_most_once_a_minute(vendor_a_user):
    # Rule: the list costs no write on most requests.
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client = _logged_in(vendor_a_user, "pw-vendor-a-1234")
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client.get(reverse("twofactor:sessions"))
    assert UserSession.objects.get().last_seen == start
    with time_machine.travel(start + timedelta(seconds=90), tick=False):
        client.get(reverse("twofactor:sessions"))
    assert UserSession.objects.get().last_seen == start + timedelta(seconds=90)


def test_ending_another_session_logs_it_out_at_once(vendor_a_user):
    laptop = _logged_in(vendor_a_user, "pw-vendor-a-1234")
    phone = _logged_in(vendor_a_user, "pw-vendor-a-1234")
    other = UserSession.objects.get(key_hash=digest(phone.session.session_key))
    assert laptop.get(reverse("twofactor:session_end", args=[other.pk])).status_code == 405
    laptop.post(reverse("twofactor:session_end", args=[other.pk]))
    assert phone.get(reverse("deliveries:list"))["Location"].startswith(reverse("login"))
    assert laptop.get(reverse("deliveries:list")).status_code == 200
    assert AuditEntry.objects.get(action="session.ended").actor == vendor_a_user


def test_another_users_session_cannot_be_ended(vendor_a_user, vendor_b_user):
    _logged_in(vendor_a_user, "pw-vendor-a-1234")
    theirs = UserSession.objects.get(user=vendor_a_user)
    intruder = _logged_in(vendor_b_user, "pw-vendor-b-1234")
    response = intruder.post(reverse("twofactor:session_end", args=[theirs.pk]))
    assert response.status_code == 404
    assert UserSession.objects.filter(pk=theirs.pk).exists()


def test_logging_out_removes_the_row(vendor_a_user):
    client = _logged_in(vendor_a_user, "pw-vendor-a-1234")
    client.post(reverse("logout"))
    assert not UserSession.objects.filter(user=vendor_a_user).exists()


def test_an_administrator_deactivates_and_ends_every_session_in_one_step(
    admin_client, admin_user, vendor_a_user
):
    # Rule: when someone leaves, one step closes the account and every session it has.
    sessions = [_logged_in(vendor_a_user, "pw-vendor-a-1234") for _ in range(2)]
    page = admin_client.get(reverse("twofactor:user_sessions", args=[vendor_a_user.pk]))
    assert BROWSER in page.content.decode()
    url = reverse("twofactor:user_offboard", args=[vendor_a_user.pk])
    assert admin_client.get(url).status_code == 405
    admin_client.post(url)
    vendor_a_user.refresh_from_db()
    assert vendor_a_user.is_active is False
    for session in sessions:
        assert session.get(reverse("deliveries:list")).status_code == 302
    entry = AuditEntry.objects.get(action="user.offboarded")
    assert entry.actor == admin_user
    assert entry.after == {"is_active": False, "sessions_ended": 2}


def test_only_administrators_offboard(client, vendor_a_user, vendor_b_user):
    client.force_login(vendor_b_user)
    url = reverse("twofactor:user_offboard", args=[vendor_a_user.pk])
    assert client.post(url).status_code == 404
    assert (
        client.get(reverse("twofactor:user_sessions", args=[vendor_a_user.pk])).status_code == 404
    )
    assert User.objects.get(pk=vendor_a_user.pk).is_active


def test_the_admins_session_list_leads_to_the_offboarding_page(admin_client, vendor_a_user):
    _logged_in(vendor_a_user, "pw-vendor-a-1234")
    page = admin_client.get("/admin/twofactor/usersession/").content.decode()
    assert reverse("twofactor:user_sessions", args=[vendor_a_user.pk]) in page


def test_an_api_token_request_makes_no_session(vendor_a_user):
    # Rule: only a logged-in session is listed; a token request has a user but no session, and
    # listing it would write a session and a row per API call.
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(vendor_a_user)}")
    assert client.get(reverse("api:routes")).status_code == 200
    assert not UserSession.objects.exists()
    assert not Session.objects.exists()
