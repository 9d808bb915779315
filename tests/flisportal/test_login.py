"""Login, role landing pages, logout, language switch and error pages."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("persona", "password", "heading"),
    [
        # The administrator's login passes a second factor first:
        # tests/twofactor/test_verify.py::test_administrator_lands_on_the_start_page_after_the_code
        ("vendor_a_user", "pw-vendor-a-1234", "Forside for Leverandør A"),
        ("consultant_user", "pw-konsulent-1234", "Forside for kommunekonsulenter"),
    ],
)
def test_each_role_lands_on_its_danish_start_page(client, request, persona, password, heading):
    user = request.getfixturevalue(persona)
    response = client.post(
        reverse("login"), {"username": user.username, "password": password}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("front:start")
    assert heading in response.content.decode()
    assert response.wsgi_request.user == user


def test_wrong_password_gives_a_danish_message_and_no_session(client, vendor_a_user):
    response = client.post(reverse("login"), {"username": "vendor-a", "password": "forkert"})
    assert response.status_code == 200
    assert "Indtast venligst korrekt brugernavn og adgangskode" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_start_page_needs_login(client):
    response = client.get(reverse("front:start"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_user_without_role_is_told_to_ask_an_administrator(client, django_user_model):
    user = django_user_model.objects.create_user("ingen", password="pw-ingen-1234")
    client.force_login(user)
    assert "Du har ingen rolle endnu" in client.get(reverse("front:start")).content.decode()


def test_logout_is_a_post_and_ends_the_session(client, vendor_a_user):
    client.force_login(vendor_a_user)
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


def test_language_switch_shows_english(client, vendor_a_user):
    client.force_login(vendor_a_user)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = client.get(reverse("front:start")).content.decode()
    assert '<html lang="en">' in page


def test_unknown_page_is_a_danish_404(client, vendor_a_user):
    client.force_login(vendor_a_user)
    response = client.get("/findes-ikke/")
    assert response.status_code == 404
    assert "Siden findes ikke" in response.content.decode()


def test_password_change_page_renders_with_crispy(client, vendor_a_user):
    client.force_login(vendor_a_user)
    response = client.get(reverse("password_change"))
    assert response.status_code == 200
    assert 'name="new_password1"' in response.content.decode()
    assert "form-control" in response.content.decode()


def test_danish_by_default_even_for_an_english_browser(client):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="da">' in page.content.decode()
    assert "Brugernavn" in page.content.decode()


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert "onchange=" not in response.content.decode()  # no inline handlers
