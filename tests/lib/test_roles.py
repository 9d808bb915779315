"""flisportal/lib/roles.py: the one role a user acts in, decided from the user alone."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from flisportal.lib.roles import Role, user_role
from tests import factories


def test_each_persona_has_its_role(admin_user, vendor_a_user, consultant_user):
    assert user_role(admin_user) == Role.ADMINISTRATOR
    assert user_role(vendor_a_user) == Role.VENDOR
    assert user_role(consultant_user) == Role.CONSULTANT


def test_anonymous_and_a_user_without_vendor_or_kommune_have_no_role(db):
    assert user_role(AnonymousUser()) == Role.NONE
    assert user_role(factories.consultant(username="ingen")) == Role.NONE


def test_administrators_win_over_a_vendor_and_a_vendor_over_kommuner(vendor_a, kommune_kbh):
    staff = factories.vendor_staff(vendor_a, "drift", is_staff=True)
    assert user_role(staff) == Role.ADMINISTRATOR
    both = factories.vendor_staff(vendor_a, "begge")
    both.kommuner.add(kommune_kbh)
    assert user_role(both) == Role.VENDOR


def test_the_role_is_decided_once_per_user_object(consultant_user, django_assert_num_queries):
    # Pages ask for the role many times per request; only the first asks the database.
    with django_assert_num_queries(1):
        assert user_role(consultant_user) == Role.CONSULTANT
        assert user_role(consultant_user) == Role.CONSULTANT
