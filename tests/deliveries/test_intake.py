"""The intake service called directly, as a batch upload or an API would: `delivery_upload`
checks who may upload to the route, the period, a correction's target and the same file again,
in that order, and a refusal stores nothing (no row, no file in storage) and removes the file it
was handed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from django.core.files.storage import default_storage

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, DeliveryEvent
from deliveries.services.intake import IncomingFile, IntakeRefused, Refusal, delivery_upload
from flisportal.audit.models import AuditEntry
from flisportal.lib.periods import COPENHAGEN
from routes.models import AgreementStatus, ProcessingAgreement, RouteStatus
from tests import factories
from tests.factories import dagtilbud_csv

pytestmark = pytest.mark.django_db


def stored_files(private_media: Path) -> list[Path]:
    return [p for p in private_media.rglob("*") if p.is_file()]


def refused(private_media: Path, file: IncomingFile, **kwargs) -> IntakeRefused:
    """Calls delivery_upload expecting a refusal, and checks that it left nothing behind."""
    before = set(Delivery.objects.values_list("pk", flat=True))
    stored = stored_files(private_media)
    with pytest.raises(IntakeRefused) as caught:
        delivery_upload(file=file, **kwargs)
    assert set(Delivery.objects.values_list("pk", flat=True)) == before, "a row was written"
    assert stored_files(private_media) == stored, "a file was left in storage"
    assert not file.path.exists(), "the handed-over file was not removed"
    return caught.value


def test_happy_path_stores_the_file_and_records_the_delivery(
    upload_route, vendor_a_user, private_media, incoming, django_capture_on_commit_callbacks
):
    file = incoming()
    content = file.path.read_bytes()
    with django_capture_on_commit_callbacks() as callbacks:
        delivery = delivery_upload(
            file=file, route=upload_route, period="2026-10", user=vendor_a_user
        )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RECEIVED
    assert (delivery.route, delivery.period, delivery.uploaded_by) == (
        upload_route,
        "2026-10",
        vendor_a_user,
    )
    assert (delivery.kommune, delivery.it_system) == (
        upload_route.kommune,
        upload_route.sender_system,
    )
    assert (delivery.original_filename, delivery.size, delivery.sha256) == (
        file.original_name,
        file.size,
        file.sha256,
    )
    assert delivery.replaces is None and not delivery.redelivery_confirmed
    assert (private_media / delivery.file.name).read_bytes() == content
    assert stored_files(private_media) == [private_media / delivery.file.name]
    # Local storage moved the file into place: nothing is left where it was handed over.
    assert not file.path.exists()
    event = DeliveryEvent.objects.get(delivery=delivery)
    assert (event.old_status, event.new_status, event.actor) == ("", "received", vendor_a_user)
    assert AuditEntry.objects.filter(action="delivery.create").count() == 1
    assert len(callbacks) == 1  # validation is enqueued when the transaction commits


def test_storage_that_copies_leaves_no_file_behind_either(
    upload_route, vendor_a_user, settings, incoming
):
    # An object store reads the file rather than moving it; intake still removes it after.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    file = incoming()
    content = file.path.read_bytes()
    delivery = delivery_upload(file=file, route=upload_route, period="2026-10", user=vendor_a_user)
    with default_storage.open(delivery.file.name, "rb") as stored:
        assert stored.read() == content
    assert not file.path.exists()


def test_administrator_may_upload_to_any_vendors_route(
    upload_route, admin_user, private_media, incoming
):
    delivery = delivery_upload(
        file=incoming(), route=upload_route, period="2026-10", user=admin_user
    )
    assert delivery.uploaded_by == admin_user


def test_another_vendors_route_is_refused(upload_route, vendor_b_user, private_media, incoming):
    refusal = refused(
        private_media, incoming(), route=upload_route, period="2026-10", user=vendor_b_user
    )
    assert refusal.reason == Refusal.ROUTE
    assert "Du kan ikke uploade til ruten" in refusal.message


def test_users_who_do_not_upload_are_refused(
    upload_route, consultant_user, django_user_model, private_media, incoming
):
    without_role = django_user_model.objects.create_user("ingen-rolle")
    for user in (consultant_user, without_role):
        refusal = refused(
            private_media, incoming(), route=upload_route, period="2026-10", user=user
        )
        assert refusal.reason == Refusal.ROUTE


def test_a_route_not_established_is_refused(upload_route, vendor_a_user, private_media, incoming):
    upload_route.status = RouteStatus.RETIRED
    upload_route.save()
    refusal = refused(
        private_media, incoming(), route=upload_route, period="2026-10", user=vendor_a_user
    )
    assert refusal.reason == Refusal.ROUTE


def test_without_a_signed_agreement_is_refused(
    upload_route, signed_agreement, vendor_a_user, admin_user, private_media, incoming
):
    signed_agreement.status = AgreementStatus.DRAFT
    signed_agreement.save()
    for user in (vendor_a_user, admin_user):
        refusal = refused(
            private_media, incoming(), route=upload_route, period="2026-10", user=user
        )
        assert refusal.reason == Refusal.ROUTE
        assert "databehandleraftale mellem Leverandør A og" in refusal.message


def test_another_vendors_agreement_with_the_kommune_does_not_count(
    upload_route, signed_agreement, vendor_b, admin_user, private_media, incoming
):
    signed_agreement.delete()
    ProcessingAgreement.objects.create(
        vendor=vendor_b, kommune=upload_route.kommune, status=AgreementStatus.SIGNED
    )
    refusal = refused(
        private_media, incoming(), route=upload_route, period="2026-10", user=admin_user
    )
    assert "databehandleraftale" in refusal.message


@pytest.mark.parametrize("period", ["10-2026", "2026-13", "2026-00", "2026-1", "2026-10\n", ""])
def test_a_period_that_is_no_month_is_refused(
    upload_route, vendor_a_user, private_media, incoming, period
):
    refusal = refused(
        private_media, incoming(), route=upload_route, period=period, user=vendor_a_user
    )
    assert refusal.reason == Refusal.PERIOD
    assert "ÅÅÅÅ-MM" in refusal.message


def test_the_route_is_checked_before_the_period(
    upload_route, vendor_b_user, private_media, incoming
):
    refusal = refused(
        private_media, incoming(), route=upload_route, period="oktober", user=vendor_b_user
    )
    assert refusal.reason == Refusal.ROUTE


def test_a_correction_replaces_a_delivery_of_the_same_route_and_period(
    upload_route, vendor_a_user, private_media, incoming
):
    old = delivery_upload(file=incoming(), route=upload_route, period="2026-10", user=vendor_a_user)
    new = delivery_upload(
        file=incoming(), route=upload_route, period="2026-10", user=vendor_a_user, replaces=old
    )
    assert new.replaces == old
    assert list(old.corrections.all()) == [new]


def test_a_correction_of_another_kommunes_delivery_is_refused(
    upload_route, kommune_aarhus, vendor_a, vendor_a_user, private_media, incoming
):
    factories.agreement(vendor_a, kommune_aarhus)
    aarhus_route = factories.route(
        sender_system=upload_route.sender_system,
        kommune=kommune_aarhus,
        data_area=upload_route.data_area,
    )
    aarhus = delivery_upload(
        file=incoming(), route=aarhus_route, period="2026-10", user=vendor_a_user
    )
    refusal = refused(
        private_media,
        incoming(),
        route=upload_route,
        period="2026-10",
        user=vendor_a_user,
        replaces=aarhus,
    )
    assert refusal.reason == Refusal.CORRECTION
    assert "samme rute" in refusal.message and "Aarhus" in refusal.message
    assert not aarhus.corrections.exists()


def test_a_correction_of_another_periods_delivery_is_refused(
    upload_route, vendor_a_user, private_media, incoming
):
    september = delivery_upload(
        file=incoming(), route=upload_route, period="2026-09", user=vendor_a_user
    )
    refusal = refused(
        private_media,
        incoming(),
        route=upload_route,
        period="2026-10",
        user=vendor_a_user,
        replaces=september,
    )
    assert refusal.reason == Refusal.CORRECTION
    assert refusal.message == (
        "En rettelse skal gælde samme periode som leverancen, den retter (2026-09, ikke 2026-10)."
    )
    assert not september.corrections.exists()


def test_the_same_file_again_needs_confirmation(
    upload_route, vendor_a_user, private_media, incoming
):
    content = dagtilbud_csv(rows_ok=3).encode()
    first = delivery_upload(
        file=incoming(content), route=upload_route, period="2026-10", user=vendor_a_user
    )
    refusal = refused(
        private_media, incoming(content), route=upload_route, period="2026-10", user=vendor_a_user
    )
    assert refusal.reason == Refusal.SAME_FILE
    # Says what happened and what to do, and names the earlier delivery for a link.
    assert refusal.message.startswith("Filen er ikke sendt: præcis den samme fil blev uploadet")
    assert "sæt flueben i «Genlevering»" in refusal.message
    assert refusal.earlier == first
    again = delivery_upload(
        file=incoming(content),
        route=upload_route,
        period="2026-10",
        user=vendor_a_user,
        redelivery_confirmed=True,
    )
    assert again.redelivery_confirmed
    # The same bytes for another period are no repeat, and a confirmation there marks nothing.
    other = delivery_upload(
        file=incoming(content),
        route=upload_route,
        period="2026-11",
        user=vendor_a_user,
        redelivery_confirmed=True,
    )
    assert not other.redelivery_confirmed
    assert Delivery.objects.count() == 3


# --- the period the route can carry; another file for a period already passed on ---------------


@pytest.mark.parametrize(
    ("period", "said"),
    [
        # Rule: no extract for a month that has not begun (the clock is mid-December 2026).
        ("2027-01", "Perioden 2027-01 er ikke begyndt endnu"),
        # Rule: nothing from before the route's first month (established 1 September 2026, so
        # August's extract is its first).
        ("2026-07", "Vælg en periode fra 2026-08 til og med 2026-12"),
    ],
)
def test_a_period_the_route_cannot_carry_is_refused_with_the_allowed_range(
    owing_route, vendor_a_user, private_media, incoming, period, said
):
    with time_machine.travel(datetime(2026, 12, 15, 12, tzinfo=COPENHAGEN), tick=False):
        refusal = refused(
            private_media, incoming(), route=owing_route, period=period, user=vendor_a_user
        )
    assert refusal.reason == Refusal.PERIOD
    assert said in refusal.message


def test_the_first_and_the_running_period_are_accepted(
    owing_route, vendor_a_user, private_media, incoming
):
    with time_machine.travel(datetime(2026, 12, 15, 12, tzinfo=COPENHAGEN), tick=False):
        for period in ("2026-08", "2026-12"):
            delivery_upload(file=incoming(), route=owing_route, period=period, user=vendor_a_user)
    assert Delivery.objects.count() == 2


def test_another_file_for_a_period_already_passed_on_needs_confirmation(
    upload_route, vendor_a_user, private_media, incoming
):
    # Rule: a second, different file for a route and period whose first file passed validation
    # (here: fetched by the recipient) is refused until the redelivery is confirmed.
    first = delivery_upload(
        file=incoming(), route=upload_route, period="2026-10", user=vendor_a_user
    )
    Delivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.FETCHED)

    refusal = refused(
        private_media, incoming(), route=upload_route, period="2026-10", user=vendor_a_user
    )
    assert refusal.reason == Refusal.DELIVERED
    assert refusal.earlier == first
    assert refusal.message.startswith(
        "Filen er ikke sendt: for Dagtilbud, Københavns Kommune, periode 2026-10 er der "
        "allerede leveret en anden fil, «udtraek-1.csv»"
    )
    assert "sæt flueben i «Genlevering»" in refusal.message

    second = delivery_upload(
        file=incoming(),
        route=upload_route,
        period="2026-10",
        user=vendor_a_user,
        redelivery_confirmed=True,
    )
    assert second.redelivery_confirmed
    assert "genlevering bekræftet" in second.events.get().message


def test_another_file_after_a_rejected_one_needs_no_confirmation(
    upload_route, vendor_a_user, private_media, incoming
):
    # A rejected file reached nobody: the next one is the delivery, not a redelivery.
    first = delivery_upload(
        file=incoming(), route=upload_route, period="2026-10", user=vendor_a_user
    )
    Delivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.REJECTED)
    second = delivery_upload(
        file=incoming(),
        route=upload_route,
        period="2026-10",
        user=vendor_a_user,
        redelivery_confirmed=True,
    )
    # Nothing to confirm, so nothing is marked as confirmed.
    assert not second.redelivery_confirmed
