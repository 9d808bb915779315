"""`for_user()` is the one place rows are scoped by user."""

import pytest

from routes.models import (
    ITSystem,
    Kommune,
    ProcessingAgreement,
    Route,
    Vendor,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def route_a(system_a, flis_system, kommune_kbh):
    return factories.route(sender_system=system_a, kommune=kommune_kbh, recipients=[flis_system])


def test_vendor_staff_see_only_their_own_vendor(
    vendor_a_user, vendor_a, vendor_b, system_b, route_a
):
    assert list(Vendor.objects.for_user(vendor_a_user)) == [vendor_a]
    assert list(ITSystem.objects.for_user(vendor_a_user)) == [route_a.sender_system]
    assert list(Route.objects.for_user(vendor_a_user)) == [route_a]


def test_other_vendor_sees_none_of_it(vendor_b_user, route_a, system_b):
    assert route_a not in Route.objects.for_user(vendor_b_user)
    assert route_a.sender_system not in ITSystem.objects.for_user(vendor_b_user)


def test_consultant_sees_their_kommuner_and_the_vendors_delivering_there(
    consultant_user, route_a, vendor_b, kommune_aarhus
):
    assert list(Kommune.objects.for_user(consultant_user)) == [route_a.kommune]
    assert list(Vendor.objects.for_user(consultant_user)) == [route_a.sender_system.vendor]
    assert list(Route.objects.for_user(consultant_user)) == [route_a]
    ProcessingAgreement.objects.create(vendor=vendor_b, kommune=kommune_aarhus)
    assert ProcessingAgreement.objects.for_user(consultant_user).count() == 0


def test_administrator_sees_everything(admin_user, route_a, vendor_b):
    assert Vendor.objects.for_user(admin_user).count() == 2
    assert Kommune.objects.for_user(admin_user).count() == 98


def test_user_without_role_sees_nothing(django_user_model, route_a):
    nobody = django_user_model.objects.create_user("nobody")
    assert not Route.objects.for_user(nobody).exists()
    assert not Vendor.objects.for_user(nobody).exists()
    assert not Kommune.objects.for_user(nobody).exists()
