"""The inbox of Hent-side receipts, per role: list, filters, unread marker, CSV, receipt page,
download; and the receipt as the last step of the sender's delivery timeline."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.models import Receipt, ReceiptRead, ReceiptVerdict
from routes.models import DataArea, Endpoint, ITSystem, Kommune, SftpUser, User
from tests.factories import dagtilbud_csv
from tests.helpers.pages import csv_rows

pytestmark = pytest.mark.django_db

CONTENT = b"kommunekode;periode\n101;202610\n"


@pytest.fixture
def flis_user(flis_system) -> SftpUser:
    return SftpUser.objects.create(
        it_system=flis_system, endpoint=Endpoint.objects.get(slug="lokal"), username="FLIS_HENT"
    )


@pytest.fixture
def consultant_aarhus(kommune_aarhus) -> User:
    # Consultant for Aarhus only: must not see or fetch anything of København.
    user = User.objects.create_user("konsulent-aarhus", password="pw-aarhus-1234")
    user.kommuner.add(kommune_aarhus)
    return user


@pytest.fixture
def make_receipt(flis_user, private_media):
    def make(
        *,
        kommune: Kommune | None,
        delivery=None,
        verdict: str = ReceiptVerdict.OK,
        file_name: str = "LEV_DAGTILBUD_0101_202610_abc.csv",
        period: str = "2026-10",
        area: str = "dagtilbud",
        content: bytes = CONTENT,
        sender: str = "LEV-A_FLIS_SFTP",
    ) -> Receipt:
        key = str(uuid.uuid4())
        stored = default_storage.save(f"receipts/test/{key}_{file_name}", ContentFile(content))
        return Receipt.objects.create(
            filetransfer_uuid=key,
            recipient_sftp_user=flis_user,
            recipient_system=flis_user.it_system,
            file_name=file_name,
            declared_size=len(content),
            size=len(content),
            sha256="0" * 64,
            sender=sender,
            data_area=DataArea.objects.get(code=area),
            kommune=kommune,
            period=period,
            delivery=delivery,
            verdict=verdict,
            verdict_detail="" if verdict == ReceiptVerdict.OK else "Filen er 3 bytes for lang.",
            file=stored,
        )

    return make


@pytest.fixture
def receipts(make_receipt, make_delivery, upload_route, vendor_a_user, kommune_kbh, kommune_aarhus):
    """København: one of vendor A's deliveries, fetched; one file from a sender outside the
    portal, quarantined. Aarhus: one file from outside the portal."""
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=2))
    return {
        "own": make_receipt(kommune=kommune_kbh, delivery=delivery),
        "foreign": make_receipt(
            kommune=kommune_kbh,
            verdict=ReceiptVerdict.SIZE_MISMATCH,
            file_name="=HYPERLINK(evil).csv",
            sender="@ANDEN",
            period="2026-09",
            area="skole",
        ),
        "aarhus": make_receipt(kommune=kommune_aarhus, file_name="AARHUS_0751.csv"),
    }


def listed(client, **params) -> set[uuid.UUID]:
    response = client.get(reverse("deliveries:inbox"), params)
    assert response.status_code == 200
    return {receipt.uuid for receipt in response.context["page"]}


def test_inbox_per_role(
    client, receipts, admin_user, consultant_user, vendor_a_user, vendor_b_user
):
    own, foreign, aarhus = receipts["own"].uuid, receipts["foreign"].uuid, receipts["aarhus"].uuid
    client.force_login(admin_user)
    assert listed(client) == {own, foreign, aarhus}
    client.force_login(consultant_user)
    assert listed(client) == {own, foreign}
    client.force_login(vendor_a_user)
    assert listed(client) == {own}  # only receipts of its own deliveries
    client.force_login(vendor_b_user)
    assert listed(client) == set()


def test_inbox_page_shows_the_columns(client, receipts, consultant_user):
    client.force_login(consultant_user)
    html = client.get(reverse("deliveries:inbox")).content.decode()
    assert "101 København" in html
    assert "Dagtilbud" in html and "Skole" in html
    assert "2026-10" in html and "2026-09" in html
    assert "forkert størrelse" in html and "i orden" in html
    assert html.count("receipt-unread") == 2


def test_inbox_filters_and_search(client, receipts, admin_user, flis_system, kommune_aarhus):
    client.force_login(admin_user)
    own, foreign, aarhus = receipts["own"].uuid, receipts["foreign"].uuid, receipts["aarhus"].uuid
    assert listed(client, system=flis_system.pk) == {own, foreign, aarhus}
    html = client.get(reverse("deliveries:inbox"), {"system": flis_system.pk}).content.decode()
    assert "Indbakke · FLIS</h1>" in html
    assert listed(client, kommune=kommune_aarhus.pk) == {aarhus}
    assert listed(client, verdict="size_mismatch") == {foreign}
    assert listed(client, data_area=DataArea.objects.get(code="skole").pk) == {foreign}
    assert listed(client, period="2026-09") == {foreign}
    assert listed(client, q="aarhus") == {aarhus}
    assert listed(client, q=receipts["own"].filetransfer_uuid) == {own}
    response = client.get(reverse("deliveries:inbox"), {"period": "oktober"})
    assert "Skriv perioden som ÅÅÅÅ-MM." in response.content.decode()


def test_opening_a_receipt_marks_it_read_for_that_user_only(
    client, receipts, consultant_user, admin_user
):
    receipt = receipts["foreign"]
    client.force_login(consultant_user)
    response = client.get(reverse("deliveries:receipt", args=[receipt.uuid]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Filen er i karantæne." in html and "Filen er 3 bytes for lang." in html
    assert "fra en afsender uden for portalen" in html
    assert ReceiptRead.objects.filter(receipt=receipt, user=consultant_user).count() == 1
    # Opening again does not add a row.
    client.get(reverse("deliveries:receipt", args=[receipt.uuid]))
    assert ReceiptRead.objects.filter(receipt=receipt).count() == 1

    page = client.get(reverse("deliveries:inbox")).context["page"]
    assert {r.uuid: r.is_read for r in page} == {receipts["own"].uuid: False, receipt.uuid: True}
    client.force_login(admin_user)
    page = client.get(reverse("deliveries:inbox")).context["page"]
    assert not any(r.is_read for r in page)


def test_receipt_page_links_the_delivery_for_those_who_may_see_it(
    client, receipts, vendor_a_user, consultant_user
):
    receipt = receipts["own"]
    client.force_login(vendor_a_user)
    response = client.get(reverse("deliveries:receipt", args=[receipt.uuid]))
    html = response.content.decode()
    assert reverse("deliveries:detail", args=[receipt.delivery.uuid]) in html
    # Vendor staff see the receipt, never a download of the fetched file.
    assert reverse("deliveries:receipt_download", args=[receipt.uuid]) not in html
    client.force_login(consultant_user)
    html = client.get(reverse("deliveries:receipt", args=[receipt.uuid])).content.decode()
    assert reverse("deliveries:receipt_download", args=[receipt.uuid]) in html


def test_receipt_page_is_404_outside_scope(
    client, receipts, consultant_aarhus, vendor_b_user, vendor_a_user
):
    for user, receipt in [
        (consultant_aarhus, receipts["own"]),
        (vendor_b_user, receipts["own"]),
        (vendor_a_user, receipts["foreign"]),
    ]:
        client.force_login(user)
        assert client.get(reverse("deliveries:receipt", args=[receipt.uuid])).status_code == 404
    assert not ReceiptRead.objects.exists()


def test_download_admin_and_that_kommunes_consultants_only(
    client, receipts, admin_user, consultant_user, consultant_aarhus, vendor_a_user
):
    receipt = receipts["own"]
    url = reverse("deliveries:receipt_download", args=[receipt.uuid])
    for user in (admin_user, consultant_user):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == CONTENT
        assert "LEV_DAGTILBUD_0101_202610_abc.csv" in response["Content-Disposition"]
        assert ReceiptRead.objects.filter(receipt=receipt, user=user).exists()
    for user in (consultant_aarhus, vendor_a_user):
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert not ReceiptRead.objects.filter(receipt=receipt, user=user).exists()


def test_quarantined_file_can_be_downloaded_by_its_kommunes_consultant(
    client, receipts, consultant_user
):
    client.force_login(consultant_user)
    url = reverse("deliveries:receipt_download", args=[receipts["foreign"].uuid])
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("name", ["inbox", "inbox_csv", "receipt", "receipt_download"])
def test_wrong_method_is_405(client, receipts, admin_user, name):
    client.force_login(admin_user)
    args = [] if name.startswith("inbox") else [receipts["own"].uuid]
    assert client.post(reverse(f"deliveries:{name}", args=args)).status_code == 405


def test_login_required(client, receipts):
    response = client.get(reverse("deliveries:inbox"))
    assert response.status_code == 302 and "/konto/login/" in response["Location"]


def test_csv_export_is_scoped_filtered_and_neutralised(
    client, receipts, consultant_user, admin_user
):
    client.force_login(consultant_user)
    response = client.get(reverse("deliveries:inbox_csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv_rows(response)
    assert rows[0][:3] == ["hentet", "modtagersystem", "kommune"]
    by_name = {row[7]: row for row in rows[1:]}
    assert set(by_name) == {"LEV_DAGTILBUD_0101_202610_abc.csv", "'=HYPERLINK(evil).csv"}
    evil = by_name["'=HYPERLINK(evil).csv"]
    assert evil[5] == "'@ANDEN"  # sender, neutralised
    assert evil[10] == "forkert størrelse"

    client.force_login(admin_user)
    rows = csv_rows(client.get(reverse("deliveries:inbox_csv"), {"verdict": "ok"}))
    assert sorted(row[7] for row in rows[1:]) == [
        "AARHUS_0751.csv",
        "LEV_DAGTILBUD_0101_202610_abc.csv",
    ]


@pytest.mark.parametrize("persona", ["admin_user", "consultant_user"])
def test_inbox_query_count_is_fixed(
    request, client, make_receipt, kommune_kbh, persona, django_assert_num_queries
):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    url = reverse("deliveries:inbox")
    make_receipt(kommune=kommune_kbh)
    client.get(url)
    # session, user, [consultant: role], count, page rows (with unread flag), choices:
    # recipient systems, kommuner, data areas
    expected = 7 if persona == "admin_user" else 8
    with django_assert_num_queries(expected):
        client.get(url)
    for _ in range(60):
        make_receipt(kommune=kommune_kbh)
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert len(response.context["page"]) == 50
    assert response.context["page"].paginator.num_pages == 2
    assert len(client.get(url, {"side": 2}).context["page"]) == 11


def test_nav_shows_inbox_to_administrators_and_consultants(
    client, admin_user, consultant_user, vendor_a_user
):
    inbox = reverse("deliveries:inbox")
    for user, shown in [(admin_user, True), (consultant_user, True), (vendor_a_user, False)]:
        client.force_login(user)
        assert (f'href="{inbox}"' in client.get(reverse("front:start")).content.decode()) is shown


def test_delivery_timeline_ends_with_the_receipt(
    client, make_delivery, upload_route, vendor_a_user, make_receipt, kommune_kbh
):
    delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(rows_ok=2))
    for old, new in [
        ("received", "validating"),
        ("validating", "valid"),
        ("valid", "pushing"),
        ("pushing", "sent"),
    ]:
        delivery_transition(delivery_id=delivery.pk, old=old, new=new)
    client.force_login(vendor_a_user)
    url = reverse("deliveries:detail", args=[delivery.uuid])
    html = client.get(url).content.decode()
    # Sent and waiting for the recipient: the page follows the delivery by itself.
    assert 'id="delivery-follow"' in html and "deliveries/follow.js" in html

    make_receipt(kommune=kommune_kbh, delivery=delivery)
    delivery_transition(delivery_id=delivery.pk, old="sent", new=DeliveryStatus.FETCHED)
    html = client.get(url).content.decode()
    timeline = html[html.index("Forløb") :]
    last_step = timeline[timeline.rindex("<li") :]
    assert "Hentet af <strong>FLIS</strong> (FLIS_HENT)" in last_step
    assert "i orden" in last_step
    assert 'id="delivery-follow"' not in html


def test_receipt_systems_filter_offers_recipient_systems_in_scope(
    client, receipts, consultant_user, kommune_aarhus
):
    ITSystem.objects.create(
        name="Aarhus LIS",
        uuid="9e8d7c6b-5555-4666-8777-888899990000",
        kommune=kommune_aarhus,
        is_recipient=True,
    )
    client.force_login(consultant_user)
    form = client.get(reverse("deliveries:inbox")).context["form"]
    names = {system.name for system in form.fields["system"].queryset}
    assert "Aarhus LIS" not in names


def test_admin_lists_receipts_read_only(client, receipts, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("admin:deliveries_receipt_changelist"))
    assert response.status_code == 200
    assert "AARHUS_0751.csv" in response.content.decode()
    url = reverse("admin:deliveries_receipt_change", args=[receipts["own"].pk])
    assert client.get(url).status_code == 200  # view only
    assert client.post(url, {}).status_code == 403
    assert Receipt.objects.count() == 3
