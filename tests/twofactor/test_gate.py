"""The gate after the password (flisportal/twofactor/middleware.py): who is sent to enrol, who
to give a code, and which pages stay open meanwhile."""

from __future__ import annotations

import pytest
from django.urls import reverse

from flisportal.audit.models import AuditEntry
from flisportal.twofactor.models import RoleRequirement
from flisportal.twofactor.policy import MFA_SESSION_KEY
from tests.helpers.twofactor import authenticator, force_login_password_only

pytestmark = pytest.mark.django_db

ADMINISTRATOR_PAGES = ["/admin/", "/admin/rq/", "/drift/", "/ruter/", "/daekning/", "/revision/"]


@pytest.mark.parametrize("page", ADMINISTRATOR_PAGES)
def test_an_administrator_without_a_second_factor_reaches_no_administrator_page(
    client, admin_user, page
):
    # Rule: administrators must use two factors; with a password alone they are sent to enrol.
    force_login_password_only(client, admin_user)
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("twofactor:enrol"))
    assert "next=" in response["Location"]


def test_an_administrator_with_an_authenticator_is_asked_for_the_code(client, admin_user):
    # Rule: a user with a device gives its code before the session counts as logged in.
    authenticator(admin_user)
    force_login_password_only(client, admin_user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("twofactor:verify"))


def test_the_enrolment_page_is_open_to_the_administrator_who_must_enrol(client, admin_user):
    force_login_password_only(client, admin_user)
    response = client.get(reverse("twofactor:enrol"))
    assert response.status_code == 200
    assert "Din rolle kræver to-faktor-login" in response.content.decode()


def test_a_vendor_without_a_device_goes_on_with_the_password(client, vendor_a_user):
    # Rule: optional for roles that do not require it.
    force_login_password_only(client, vendor_a_user)
    assert client.get(reverse("deliveries:list")).status_code == 200


def test_a_vendor_who_enrolled_is_asked_for_the_code_too(client, vendor_a_user):
    authenticator(vendor_a_user)
    force_login_password_only(client, vendor_a_user)
    response = client.get(reverse("deliveries:list"))
    assert response["Location"].startswith(reverse("twofactor:verify"))


def test_a_role_can_be_required_by_setting(client, vendor_a_user, settings):
    # Rule: FLISPORTAL_TWO_FACTOR_ROLES adds roles that must enrol.
    settings.FLISPORTAL_TWO_FACTOR_ROLES = ["vendor"]
    force_login_password_only(client, vendor_a_user)
    response = client.get(reverse("deliveries:list"))
    assert response["Location"].startswith(reverse("twofactor:enrol"))


def test_administrators_cannot_be_taken_out_of_the_requirement(client, admin_user, settings):
    settings.FLISPORTAL_TWO_FACTOR_ROLES = []
    force_login_password_only(client, admin_user)
    assert client.get("/drift/")["Location"].startswith(reverse("twofactor:enrol"))


def test_a_user_made_administrator_mid_session_is_asked_at_once(client, vendor_a_user):
    # Rule: the "needs nothing" answer a session remembers holds only for the role it was given.
    force_login_password_only(client, vendor_a_user)
    assert client.get(reverse("deliveries:list")).status_code == 200
    vendor_a_user.is_staff = True
    vendor_a_user.save()
    assert client.get("/drift/")["Location"].startswith(reverse("twofactor:enrol"))


def test_single_sign_on_with_the_providers_second_factor_is_not_asked_again(client, admin_user):
    # Rule: "provider" in auth_mfa_source (set by flisportal/sso) counts as the second factor.
    force_login_password_only(client, admin_user)
    session = client.session
    session[MFA_SESSION_KEY] = "provider"
    session.save()
    assert client.get("/drift/").status_code == 200


def test_an_unknown_mark_in_the_session_does_not_count(client, admin_user):
    force_login_password_only(client, admin_user)
    session = client.session
    session[MFA_SESSION_KEY] = "password"
    session.save()
    assert client.get("/drift/").status_code == 302


def test_logout_stays_open_before_the_second_factor(client, admin_user):
    force_login_password_only(client, admin_user)
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


def test_a_session_without_the_code_cannot_add_an_authenticator(client, admin_user):
    # Rule: with the password alone one cannot enrol a new device past the existing one.
    authenticator(admin_user)
    force_login_password_only(client, admin_user)
    response = client.get(reverse("twofactor:enrol"))
    assert response["Location"].startswith(reverse("twofactor:verify"))


def test_an_administrator_requires_a_role_in_the_admin_and_it_is_audited(
    client, admin_user, vendor_a_user, consultant_user
):
    # Rule: an administrator (not only the operator's setting) can require a second factor of
    # a role; it takes hold at the role's next login, and the change is in the audit log.
    client.force_login(admin_user)  # passed its own second factor (tests/fixtures)
    response = client.post(
        reverse("admin:twofactor_rolerequirement_add"), {"role": "vendor", "required": "on"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.filter(action="twofactor.role_requirement").get()
    assert entry.after["required"] is True and entry.actor == admin_user

    force_login_password_only(client, vendor_a_user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("twofactor:enrol"))
    # Another role is not touched.
    force_login_password_only(client, consultant_user)
    assert client.get("/").status_code == 200


def test_the_operators_setting_is_a_floor_the_admin_cannot_lower(client, vendor_a_user, settings):
    settings.FLISPORTAL_TWO_FACTOR_ROLES = ["administrator", "vendor"]
    RoleRequirement.objects.create(role="vendor", required=False)
    force_login_password_only(client, vendor_a_user)
    assert client.get("/")["Location"].startswith(reverse("twofactor:enrol"))
