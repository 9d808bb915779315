"""Password rules: at least 12 characters and not a common password for everyone; an
administrator cannot go back to one of their last passwords."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from flisportal.twofactor.models import PasswordHistory
from routes.management.commands.demodata import PEOPLE
from routes.models import User

pytestmark = pytest.mark.django_db


def _change(client, old, new):
    return client.post(
        reverse("password_change"),
        {"old_password": old, "new_password1": new, "new_password2": new},
    )


def test_eleven_characters_are_too_few(vendor_a_user):
    with pytest.raises(ValidationError) as refused:
        validate_password("Kort-kode-1", vendor_a_user)
    assert "password_too_short" in {error.code for error in refused.value.error_list}
    validate_password("Lang-nok-kode-12", vendor_a_user)


def test_a_common_password_is_refused_however_long(vendor_a_user):
    with pytest.raises(ValidationError) as refused:
        validate_password("administrator", vendor_a_user)
    assert "password_too_common" in {error.code for error in refused.value.error_list}


@pytest.mark.parametrize(("username", "password"), [(row[0], row[1]) for row in PEOPLE])
def test_the_demo_passwords_still_satisfy_the_rules(username, password):
    # Rule: the README's demo logins keep working under the rules (no change needed).
    validate_password(password, User(username=username))


def test_an_administrator_cannot_reuse_a_recent_password(client, admin_user, settings):
    settings.FLISPORTAL_PASSWORD_HISTORY = 3
    client.force_login(admin_user)
    passwords = ["pw-admin-1234", "Forste-nye-kode-1", "Anden-nye-kode-22", "Tredje-nye-kode-3"]
    for old, new in itertools.pairwise(passwords):
        assert _change(client, old, new).status_code == 302
        client.force_login(User.objects.get(pk=admin_user.pk))
    refused = _change(client, passwords[-1], passwords[1])
    assert refused.status_code == 200
    assert "Du har brugt denne adgangskode for nylig" in refused.content.decode()
    # The current one counts too.
    assert _change(client, passwords[-1], passwords[-1]).status_code == 200
    # Only the last three are kept (and so refused): the first may come back.
    assert PasswordHistory.objects.filter(user=admin_user).count() == 3
    assert _change(client, passwords[-1], passwords[0]).status_code == 302


def test_others_may_reuse_a_password(client, vendor_a_user):
    client.force_login(vendor_a_user)
    assert _change(client, "pw-vendor-a-1234", "En-helt-ny-kode-1").status_code == 302
    client.force_login(User.objects.get(pk=vendor_a_user.pk))
    assert _change(client, "En-helt-ny-kode-1", "pw-vendor-a-1234").status_code == 302
