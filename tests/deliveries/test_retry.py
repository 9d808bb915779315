"""«Prøv igen» on a failed delivery: who may (administrators and the uploader), what it does
(back to `valid` and a push enqueued, or back to `received` and a validation enqueued), and
what others get (404), a GET (405) and a POST without CSRF token (403); and what the page says
while a delivery is being pushed."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from routes.models import User
from tests.factories import dagtilbud_csv

pytestmark = pytest.mark.django_db

S = DeliveryStatus


@pytest.fixture
def failed_push(make_delivery, upload_route, vendor_a_user) -> Delivery:
    """Validated cleanly, then the push gave up."""
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=2))
    Delivery.objects.filter(pk=delivery.pk).update(
        status=S.FAILED,
        validated_at=timezone.now(),
        push_attempts=6,
        wire_name="LEV_DAGTILBUD_0101_202610_abcdef12.csv",
        last_error="Forbindelsen til 127.0.0.1:2222 blev afvist.",
    )
    return delivery


def retry_url(delivery: Delivery) -> str:
    return reverse("deliveries:retry", args=[delivery.uuid])


def test_uploader_retries_a_failed_push(
    client, failed_push, vendor_a_user, django_capture_on_commit_callbacks
):
    client.force_login(vendor_a_user)
    page = client.get(reverse("deliveries:detail", args=[failed_push.uuid])).content.decode()
    assert retry_url(failed_push) in page
    assert "blev afvist" in page

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(retry_url(failed_push))
    assert response.status_code == 302
    assert response["Location"] == reverse("deliveries:detail", args=[failed_push.uuid])
    failed_push.refresh_from_db()
    assert failed_push.status == S.VALID
    assert failed_push.push_attempts == 0  # a fresh allowance of attempts
    assert failed_push.wire_name == "LEV_DAGTILBUD_0101_202610_abcdef12.csv"  # kept
    event = failed_push.events.last()
    assert (event.old_status, event.new_status, event.actor) == ("failed", "valid", vendor_a_user)
    assert "samme SendersFileId" in event.message
    assert len(callbacks) == 1  # the push is enqueued when the change commits


def test_admin_retries_a_failed_validation_by_validating_again(
    client, make_delivery, upload_route, vendor_a_user, admin_user,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=2))
    Delivery.objects.filter(pk=delivery.pk).update(status=S.FAILED)  # never validated
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks() as callbacks:
        assert client.post(retry_url(delivery)).status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == S.RECEIVED
    assert delivery.events.last().actor == admin_user
    assert len(callbacks) == 1


def test_others_get_404_and_nothing_changes(
    client, failed_push, vendor_b_user, consultant_user, vendor_a
):
    colleague = User.objects.create_user("kollega", password="pw-kollega-1234", vendor=vendor_a)
    for user in (vendor_b_user, consultant_user, colleague):
        client.force_login(user)
        assert client.post(retry_url(failed_push)).status_code == 404, user
    # The colleague and the consultant see the page, without the button.
    for user in (consultant_user, colleague):
        client.force_login(user)
        page = client.get(reverse("deliveries:detail", args=[failed_push.uuid])).content.decode()
        assert retry_url(failed_push) not in page
    failed_push.refresh_from_db()
    assert failed_push.status == S.FAILED


def test_get_is_405_and_post_without_csrf_is_403(failed_push, vendor_a_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(vendor_a_user)
    assert client.get(retry_url(failed_push)).status_code == 405
    assert client.post(retry_url(failed_push)).status_code == 403
    failed_push.refresh_from_db()
    assert failed_push.status == S.FAILED


def test_retry_of_a_delivery_that_is_not_failed_changes_nothing(
    client, make_delivery, upload_route, vendor_a_user
):
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=2))
    Delivery.objects.filter(pk=delivery.pk).update(status=S.SENT)
    client.force_login(vendor_a_user)
    response = client.post(retry_url(delivery), follow=True)
    assert "intet at prøve igen" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == S.SENT
    assert delivery.events.count() == 1


def test_pushing_delivery_page_and_status_say_it_is_being_sent(
    client, make_delivery, upload_route, vendor_a_user
):
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=2))
    Delivery.objects.filter(pk=delivery.pk).update(status=S.PUSHING, push_attempts=2)
    client.force_login(vendor_a_user)
    page = client.get(reverse("deliveries:detail", args=[delivery.uuid])).content.decode()
    assert "Sendes til Serviceplatformen" in page and "forsøg 2" in page
    data = client.get(reverse("deliveries:status", args=[delivery.uuid])).json()
    assert data["working"] is True
    assert data["status_text"].startswith("Sendes til Serviceplatformen")
