"""The validation job: claims by conditional update, idempotent, records report and contract
version; status changes each write one event."""

from __future__ import annotations

import pytest

from deliveries.jobs import validate_delivery
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.models import DataContract, Delivery, DeliveryEvent
from deliveries.services.contracts import contract_load
from tests.factories import dagtilbud_csv, dagtilbud_row

pytestmark = pytest.mark.django_db


def test_job_validates_a_received_delivery(make_delivery, upload_route, vendor_a_user):
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=10))
    assert validate_delivery(delivery.pk) == DeliveryStatus.VALID
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.VALID
    assert delivery.validated_at is not None
    assert delivery.rows_checked == 10
    assert delivery.encoding == "utf-8"


def test_job_for_a_delivery_not_received_does_nothing(make_delivery, upload_route, vendor_a_user):
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1))
    validate_delivery(delivery.pk)
    events = DeliveryEvent.objects.filter(delivery=delivery).count()
    assert validate_delivery(delivery.pk) is None
    assert DeliveryEvent.objects.filter(delivery=delivery).count() == events


def test_rejected_delivery_keeps_the_first_errors_and_all_counts(
    make_delivery, upload_route, vendor_a_user, settings
):
    settings.VALIDATION_MAX_LISTED_ERRORS = 5
    rows = [dagtilbud_row(i, pladstype="halv") for i in range(12)]
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(*rows))
    assert validate_delivery(delivery.pk) == DeliveryStatus.REJECTED
    delivery.refresh_from_db()
    assert delivery.error_count == 12
    assert delivery.errors_by_rule == {"enum": 12}
    assert delivery.errors_by_column == {"pladstype": 12}
    assert list(delivery.issues.values_list("row", flat=True)) == [2, 3, 4, 5, 6]
    assert "12 fejl" in delivery.events.last().message


def test_delivery_records_the_contract_version_it_was_checked_against(
    make_delivery, upload_route, vendor_a_user, admin_user
):
    first = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1))
    validate_delivery(first.pk)
    old = DataContract.objects.get(data_area=upload_route.data_area, is_active=True)
    document = {**old.document, "version": "2027.1"}
    document["schema"] = {
        **old.document["schema"],
        "fields": [
            {**f, "constraints": {**f.get("constraints", {}), "enum": ["fuldtid"]}}
            if f["name"] == "pladstype"
            else f
            for f in old.document["schema"]["fields"]
        ],
    }
    new = contract_load(document=document, user=admin_user)
    second = make_delivery(
        upload_route,
        vendor_a_user,
        dagtilbud_csv(dagtilbud_row(1, pladstype="deltid")),
        period="2026-10",
        redelivery_confirmed=True,
    )
    validate_delivery(second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.contract == old
    assert second.contract == new
    assert second.status == DeliveryStatus.REJECTED
    old.refresh_from_db()
    assert not old.is_active


def test_no_active_contract_fails_with_a_message(make_delivery, upload_route, vendor_a_user):
    DataContract.objects.filter(data_area=upload_route.data_area).update(is_active=False)
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1))
    assert validate_delivery(delivery.pk) == DeliveryStatus.FAILED
    assert "ingen aktiv datakontrakt" in delivery.events.last().message


def test_transition_is_a_claim(make_delivery, upload_route, vendor_a_user):
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1))
    claim = {"delivery_id": delivery.pk, "old": "received", "new": "validating"}
    assert delivery_transition(**claim) is True
    assert delivery_transition(**claim) is False  # a second worker loses
    assert DeliveryEvent.objects.filter(delivery=delivery, new_status="validating").count() == 1
    with pytest.raises(ValueError):
        delivery_transition(delivery_id=delivery.pk, old="validating", new="sent")


def test_progress_is_written_while_the_worker_runs(
    make_delivery, upload_route, vendor_a_user, settings, monkeypatch
):
    from deliveries import validation

    settings.VALIDATION_BATCH_BYTES = 4096
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=500))
    seen = []
    real = validation.validate_file

    def spying(path, contract, *, progress, **kwargs):
        def progress_and_look(rows, total):
            progress(rows, total)
            seen.append(Delivery.objects.values_list("status", "rows_checked").get(pk=delivery.pk))

        return real(path, contract, progress=progress_and_look, **kwargs)

    monkeypatch.setattr("deliveries.services.validate.validate_file", spying)
    monkeypatch.setattr(
        "deliveries.services.validate.time.monotonic", iter(range(10, 10**6, 2)).__next__
    )
    validate_delivery(delivery.pk)
    assert len(seen) > 5
    assert seen[0][0] == "validating"
    assert 0 < seen[0][1] < 500  # written during the run, not only at the end
    delivery.refresh_from_db()
    assert (delivery.rows_checked, delivery.progress_percent) == (500, 100)
