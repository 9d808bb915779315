"""The upload page: stored through storage, a delivery with its first event, validation
enqueued on commit; each refusal with a message saying which."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, DeliveryEvent
from routes.models import AgreementStatus, RouteStatus
from tests import factories
from tests.factories import dagtilbud_csv

pytestmark = pytest.mark.django_db
URL = reverse("deliveries:upload")


def form_data(route, content: bytes, *, name: str = "udtraek.csv", **extra):
    return {
        "route": route.pk,
        "period": "2026-10",
        "file": SimpleUploadedFile(name, content, content_type="text/csv"),
        **extra,
    }


@pytest.fixture
def vendor_client(client, vendor_a_user, upload_route, private_media):
    client.force_login(vendor_a_user)
    return client


def test_upload_stores_the_file_and_enqueues_validation(
    vendor_client,
    vendor_a_user,
    upload_route,
    private_media,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    enqueued = []
    monkeypatch.setattr(
        "flisportal.lib.queues.django_rq.get_queue",
        lambda name: type(
            "Q", (), {"enqueue": lambda self, f, *a: enqueued.append((name, f, a))}
        )(),
    )
    content = dagtilbud_csv(rows_ok=3).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = vendor_client.post(URL, form_data(upload_route, content))
    delivery = Delivery.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("deliveries:detail", args=[delivery.uuid])
    assert delivery.status == DeliveryStatus.RECEIVED
    assert delivery.route == upload_route
    assert delivery.sha256 == hashlib.sha256(content).hexdigest()
    assert delivery.size == len(content)
    assert delivery.original_filename == "udtraek.csv"
    # The stored name is generated; the user's name is metadata only.
    assert "udtraek" not in delivery.file.name
    assert (private_media / delivery.file.name).read_bytes() == content
    assert delivery.uploaded_by == vendor_a_user
    event = DeliveryEvent.objects.get(delivery=delivery)
    assert (event.old_status, event.new_status, event.actor) == ("", "received", vendor_a_user)
    assert enqueued == [("validation", "deliveries.jobs.validate_delivery", (delivery.pk,))]


def test_upload_page_shows_the_form_and_the_illustrative_notice(vendor_client):
    response = vendor_client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'enctype="multipart/form-data"' in body
    assert "Illustrativ – ikke KOMBITs format" in body
    assert "deliveries/upload.js" in body


def test_xhr_upload_answers_json(vendor_client, upload_route):
    response = vendor_client.post(
        URL,
        form_data(upload_route, dagtilbud_csv(rows_ok=1).encode()),
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    assert response.status_code == 200
    assert response.json()["redirect"].startswith("/leverancer/")
    response = vendor_client.post(
        URL,
        form_data(upload_route, b"", name="tom.csv"),
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    assert response.status_code == 400
    assert any("tom" in line for line in response.json()["errors"])


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("tom.csv", b"", "tom"),
        ("udtraek.xlsx", b"PK\x03\x04data", "«.xlsx» accepteres ikke"),
        ("udtraek", b"a;b\n", "accepteres ikke"),
    ],
)
def test_refusals_say_which(vendor_client, upload_route, name, content, expected):
    response = vendor_client.post(URL, form_data(upload_route, content, name=name))
    assert response.status_code == 400
    messages = response.context["form"].errors["file"]
    assert any(expected in m for m in messages), messages
    assert not Delivery.objects.exists()


def test_too_large_is_refused_while_streaming(vendor_client, upload_route, settings, private_media):
    settings.MAX_UPLOAD_BYTES = 1000
    response = vendor_client.post(URL, form_data(upload_route, b"x" * 5000))
    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [
        "Filen er for stor: den største tilladte størrelse er 1000\xa0bytes."
    ]
    assert not Delivery.objects.exists()
    assert not any(private_media.rglob("*.csv"))


def test_a_zip_with_one_csv_becomes_that_csv(vendor_client, upload_route, private_media):
    csv_bytes = dagtilbud_csv(rows_ok=2).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("udtraek.csv", csv_bytes)
    response = vendor_client.post(URL, form_data(upload_route, buffer.getvalue(), name="u.zip"))
    assert response.status_code == 302
    delivery = Delivery.objects.get()
    assert delivery.sha256 == hashlib.sha256(csv_bytes).hexdigest()
    assert delivery.original_filename == "u.zip"
    assert (private_media / delivery.file.name).read_bytes() == csv_bytes


def test_same_file_again_needs_confirmation(vendor_client, upload_route):
    content = dagtilbud_csv(rows_ok=1).encode()
    assert vendor_client.post(URL, form_data(upload_route, content)).status_code == 302
    response = vendor_client.post(URL, form_data(upload_route, content))
    assert response.status_code == 400
    # A sentence that says what happened and what to do, with a link to the earlier delivery.
    said = response.context["form"].errors["redelivery_confirmed"][0]
    assert said.startswith("Filen er ikke sendt: præcis den samme fil blev uploadet for Dagtilbud")
    assert "sæt flueben i «Genlevering» og upload den igen" in said
    earlier = Delivery.objects.get()
    assert reverse("deliveries:detail", args=[earlier.uuid]) in response.content.decode()
    assert Delivery.objects.count() == 1
    response = vendor_client.post(URL, form_data(upload_route, content, redelivery_confirmed="on"))
    assert response.status_code == 302
    assert Delivery.objects.count() == 2
    assert Delivery.objects.filter(redelivery_confirmed=True).count() == 1


def test_needs_a_signed_agreement(vendor_client, upload_route, signed_agreement):
    signed_agreement.status = AgreementStatus.DRAFT
    signed_agreement.save()
    response = vendor_client.post(URL, form_data(upload_route, dagtilbud_csv(rows_ok=1).encode()))
    assert response.status_code == 400
    # The route is not even offered without a signed agreement.
    assert "Vælg en af dine etablerede ruter" in response.context["form"].errors["route"][0]
    assert not Delivery.objects.exists()


def test_a_route_that_is_not_established_is_refused(vendor_client, upload_route):
    ordered = factories.route(
        sender_system=upload_route.sender_system,
        kommune=upload_route.kommune,
        endpoint="produktion",
        status=RouteStatus.ORDERED,
    )
    response = vendor_client.post(URL, form_data(ordered, dagtilbud_csv(rows_ok=1).encode()))
    assert response.status_code == 400
    assert "route" in response.context["form"].errors  # not offered, so not taken
    assert not Delivery.objects.exists()


def test_bad_period_is_refused(vendor_client, upload_route):
    data = form_data(upload_route, dagtilbud_csv(rows_ok=1).encode(), period="10-2026")
    response = vendor_client.post(URL, data)
    assert response.status_code == 400
    assert "ÅÅÅÅ-MM" in response.context["form"].errors["period"][0]


def test_other_vendor_cannot_upload_for_this_system(
    client, vendor_b_user, upload_route, private_media
):
    client.force_login(vendor_b_user)
    response = client.post(URL, form_data(upload_route, dagtilbud_csv(rows_ok=1).encode()))
    assert response.status_code == 400
    assert not Delivery.objects.exists()


def test_consultant_gets_404(client, consultant_user):
    client.force_login(consultant_user)
    assert client.get(URL).status_code == 404


def test_administrator_may_upload_for_any_vendor(client, admin_user, upload_route, private_media):
    client.force_login(admin_user)
    response = client.post(URL, form_data(upload_route, dagtilbud_csv(rows_ok=1).encode()))
    assert response.status_code == 302
    assert Delivery.objects.get().uploaded_by == admin_user


def test_corrected_file_links_to_the_old_delivery(
    vendor_client, vendor_a_user, upload_route, make_delivery
):
    old = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1))
    page = vendor_client.get(URL, {"rettelse": str(old.uuid)})
    assert page.status_code == 200
    assert "rettet fil" in page.content.decode()
    response = vendor_client.post(
        f"{URL}?rettelse={old.uuid}", form_data(upload_route, dagtilbud_csv(rows_ok=2).encode())
    )
    assert response.status_code == 302
    new = Delivery.objects.exclude(pk=old.pk).get()
    assert new.replaces == old


def test_wrong_method_is_405(vendor_client):
    assert vendor_client.put(URL).status_code == 405
    assert vendor_client.delete(URL).status_code == 405


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/konto/login/" in response.url


def test_a_correction_for_another_period_is_refused_with_the_services_message(
    vendor_client, vendor_a_user, upload_route, make_delivery, private_media
):
    old = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1), period="2026-09")
    stored = sorted(private_media.rglob("*.csv"))
    response = vendor_client.post(
        f"{URL}?rettelse={old.uuid}", form_data(upload_route, dagtilbud_csv(rows_ok=2).encode())
    )
    assert response.status_code == 400
    [error] = response.context["form"].non_field_errors()
    assert "samme periode" in error and "2026-09" in error
    assert list(Delivery.objects.all()) == [old]
    assert sorted(private_media.rglob("*.csv")) == stored


def test_a_correction_of_a_delivery_the_user_cannot_see_is_404(
    client, vendor_b_user, vendor_a_user, upload_route, make_delivery
):
    old = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=1))
    client.force_login(vendor_b_user)
    assert client.get(URL, {"rettelse": str(old.uuid)}).status_code == 404
    assert client.get(URL, {"rettelse": "ikke-en-uuid"}).status_code == 404
