"""A valid file uploaded through the page is validated by a real worker process to `valid`;
an invalid one to `rejected` with its report kept."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from tests.factories import dagtilbud_csv, dagtilbud_row

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def upload(client, route, content: bytes):
    return client.post(
        reverse("deliveries:upload"),
        {
            "route": route.pk,
            "period": "2026-10",
            "file": SimpleUploadedFile("udtraek.csv", content, content_type="text/csv"),
        },
    )


def test_valid_file_goes_received_validating_valid(
    client, vendor_a_user, upload_route, private_media, clean_redis, run_worker
):
    client.force_login(vendor_a_user)
    assert upload(client, upload_route, dagtilbud_csv(rows_ok=200).encode()).status_code == 302
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.RECEIVED

    result = run_worker("validation")
    assert result.returncode == 0, result.stderr

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.VALID, delivery.events.last().message
    assert delivery.rows_checked == 200
    assert delivery.progress_percent == 100
    assert delivery.contract.version == "2026.1-illustrativ"
    assert [(e.old_status, e.new_status) for e in delivery.events.all()] == [
        ("", "received"),
        ("received", "validating"),
        ("validating", "valid"),
    ]
    assert delivery.events.last().actor_label == "worker"


def test_invalid_file_is_rejected_with_its_report(
    client, vendor_a_user, upload_route, private_media, clean_redis, run_worker
):
    client.force_login(vendor_a_user)
    content = dagtilbud_csv(dagtilbud_row(9, startdato="2023-02-30"), rows_ok=5).encode()
    upload(client, upload_route, content)
    assert run_worker("validation").returncode == 0
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.REJECTED
    assert delivery.error_count == 1
    assert delivery.errors_by_rule == {"date": 1}
    issue = delivery.issues.get()
    assert (issue.row, issue.column, issue.rule, issue.value) == (
        7,
        "startdato",
        "date",
        "2023-02-30",
    )
    # Nothing lost: the rejected file is kept.
    assert (private_media / delivery.file.name).read_bytes() == content
