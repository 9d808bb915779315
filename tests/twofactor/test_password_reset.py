"""«Glemt adgangskode»: a single-use, short-lived link by mail, the same answer whether or not
the address has an account, and links that start with the portal's own address."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db


@pytest.fixture
def known(vendor_a_user):
    vendor_a_user.email = "lene@leverandoer-a.example"
    vendor_a_user.save()
    return vendor_a_user


def _ask(client, address):
    return client.post(reverse("password_reset"), {"email": address})


def _link(settings) -> str:
    body = mail.outbox[-1].body
    found = re.search(re.escape(settings.PORTAL_BASE_URL) + r"(/konto/reset/\S+/)", body)
    assert found, body
    return found.group(1)


def test_the_answer_is_the_same_for_an_unknown_address(client, known):
    # Rule: the page does not tell whether an address has an account.
    for_known = _ask(client, known.email)
    for_unknown = _ask(client, "ingen@example.invalid")
    assert for_known["Location"] == for_unknown["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    page = client.get(reverse("password_reset_done")).content.decode()
    assert "Hvis adressen hører til en konto" in page


def test_the_mail_is_danish_and_links_from_the_portal_address(client, known, settings):
    settings.PORTAL_BASE_URL = "https://flis.example.dk"
    _ask(client, known.email)
    message = mail.outbox[0]
    assert message.subject == "FLIS-portalen: nulstil din adgangskode"
    assert message.to == [known.email]
    assert "virker én gang og i 60 minutter" in message.body
    assert _link(settings).startswith("/konto/reset/")


def test_the_link_works_once(client, known, settings):
    _ask(client, known.email)
    link = _link(settings)
    form_page = client.get(link, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    response = client.post(
        set_url, {"new_password1": "Helt-ny-kode-2026", "new_password2": "Helt-ny-kode-2026"}
    )
    assert response["Location"] == reverse("password_reset_complete")
    known.refresh_from_db()
    assert known.check_password("Helt-ny-kode-2026")
    again = client.get(link, follow=True).content.decode()
    assert "Linket er allerede brugt, eller det er udløbet" in again


def test_the_link_expires(client, known, settings):
    # Rule: short-lived: FLISPORTAL_PASSWORD_RESET_MINUTES (60 by default).
    asked_at = timezone.now()
    with time_machine.travel(asked_at, tick=False):
        _ask(client, known.email)
    link = _link(settings)
    with time_machine.travel(asked_at + timedelta(minutes=61), tick=False):
        page = client.get(link, follow=True).content.decode()
    assert "Linket er allerede brugt, eller det er udløbet" in page


def test_a_short_new_password_is_refused_with_the_reason(client, known, settings):
    _ask(client, known.email)
    set_url = client.get(_link(settings), follow=True).redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": "Kort-1", "new_password2": "Kort-1"})
    assert response.status_code == 200
    assert "mindst 12 tegn" in response.content.decode()


def test_the_login_page_links_to_it(client):
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()
