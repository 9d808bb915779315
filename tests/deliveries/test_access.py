"""deliveries.access: who may upload and to which routes, said once for the upload form, the
start page, the pages and the intake service.

Personas (tests/fixtures/personas.py): vendor A's staff deliver through System A and have a
signed databehandleraftale with København (`upload_route`); vendor B's staff deliver for nobody
here; the consultant reads København; the administrator may upload for any vendor.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from deliveries import access
from routes.models import AgreementStatus, ProcessingAgreement, Route, RouteStatus

pytestmark = pytest.mark.django_db


def test_who_may_upload_at_all(admin_user, vendor_a_user, consultant_user, django_user_model):
    without_role = django_user_model.objects.create_user("ingen-rolle")
    assert access.may_upload(admin_user) and access.may_upload(vendor_a_user)
    assert not access.may_upload(consultant_user) and not access.may_upload(without_role)
    assert access.upload_url_for(vendor_a_user) == reverse("deliveries:upload")
    assert access.upload_url_for(consultant_user) == ""


def test_uploadable_routes_per_persona(
    upload_route, admin_user, vendor_a_user, vendor_b_user, consultant_user
):
    assert list(access.uploadable_routes(vendor_a_user)) == [upload_route]
    assert list(access.uploadable_routes(admin_user)) == [upload_route]
    assert not access.uploadable_routes(vendor_b_user).exists()
    # The consultant sees the route (Route.objects.for_user) but does not upload.
    assert Route.objects.for_user(consultant_user).filter(pk=upload_route.pk).exists()
    assert not access.uploadable_routes(consultant_user).exists()
    assert access.upload_refusal(vendor_a_user, upload_route) is None
    assert access.upload_refusal(admin_user, upload_route) is None
    assert access.upload_refusal(vendor_b_user, upload_route) is not None


@pytest.mark.parametrize(
    "status", [RouteStatus.REQUESTED, RouteStatus.ORDERED, RouteStatus.RETIRED]
)
def test_only_established_routes(upload_route, vendor_a_user, status):
    upload_route.status = status
    upload_route.save()
    assert not access.sender_routes(vendor_a_user).exists()
    assert "ikke en etableret rute" in str(access.upload_refusal(vendor_a_user, upload_route))


def test_only_sending_systems(upload_route, vendor_a_user):
    # A system is a sender, a recipient or both; one that no longer sends delivers nothing.
    upload_route.sender_system.is_sender = False
    upload_route.sender_system.is_recipient = True
    upload_route.sender_system.save()
    assert not access.sender_routes(vendor_a_user).exists()


def test_the_agreement_is_the_sending_vendors_with_the_routes_kommune(
    upload_route, signed_agreement, vendor_a_user, vendor_b, admin_user, kommune_aarhus
):
    # Without it the route is still the vendor's (the form offers its system) but closed.
    for agreement_status in (AgreementStatus.DRAFT, AgreementStatus.TERMINATED):
        signed_agreement.status = agreement_status
        signed_agreement.save()
        assert list(access.sender_routes(vendor_a_user)) == [upload_route]
        assert not access.uploadable_routes(vendor_a_user).exists()
    # Another vendor's signed agreement with the kommune, or the vendor's with another kommune,
    # opens nothing, for an administrator either.
    ProcessingAgreement.objects.create(
        vendor=vendor_b, kommune=upload_route.kommune, status=AgreementStatus.SIGNED
    )
    ProcessingAgreement.objects.create(
        vendor=upload_route.sender_system.vendor,
        kommune=kommune_aarhus,
        status=AgreementStatus.SIGNED,
    )
    assert not access.uploadable_routes(admin_user).exists()
    assert "databehandleraftale" in str(access.upload_refusal(admin_user, upload_route))


def test_may_retry_is_the_uploader_or_an_administrator(
    upload_route, make_delivery, vendor_a_user, admin_user, django_user_model, vendor_a
):
    colleague = django_user_model.objects.create_user("kollega", vendor=vendor_a)
    delivery = make_delivery(upload_route, vendor_a_user, "a;b\n")
    assert access.may_retry(vendor_a_user, delivery)
    assert access.may_retry(admin_user, delivery)
    assert not access.may_retry(colleague, delivery)
