"""The Hent side's verdict details (Receipt.verdict_detail): stored in Danish exactly as before,
with a code and parameters, shown in the reader's language on the receipt page and the
delivery's timeline; rows without a code show their stored text. Files are fetched from the
Serviceplatform stand-in over real SFTP, as in test_fetching."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from deliveries.models import Receipt, ReceiptVerdict
from tests.helpers.fetching import CONTENT, NAME, fetch, metadata_for, place
from tests.helpers.standin import home


def receipt_page(client, receipt: Receipt, *, language: str = "") -> str:
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(reverse("deliveries:receipt", args=[receipt.uuid]))
    assert response.status_code == 200
    return response.content.decode()


def test_two_failed_checks_are_stored_in_danish_and_shown_in_english(
    fetch_world, standin, client, admin_user
):
    world = fetch_world
    size = len(CONTENT)
    metadata = metadata_for(world, NAME, size + 7, infref="UkendtInfRef_1")
    place(standin, world.flis, NAME, CONTENT, metadata)
    fetch(world.flis)

    receipt = Receipt.objects.get()
    assert receipt.verdict == ReceiptVerdict.UNKNOWN_ROUTE  # the first failed check
    # Byte counts with the thousands separator (deliveries.messages.QUANTITIES).
    assert size == 1550
    danish = (
        "InfRef UkendtInfRef_1 kendes ikke. Filen er 1.550 bytes, men metadatafilen siger "
        "1.557 (SizeInBytes)."
    )
    assert receipt.verdict_detail == danish
    assert receipt.verdict_detail_code == "fetch.and"

    client.force_login(admin_user)
    assert danish in receipt_page(client, receipt)
    page = receipt_page(client, receipt, language="en")
    assert (
        "InfRef UkendtInfRef_1 is unknown. The file is 1.550 bytes, but the metadata file says "
        "1.557 (SizeInBytes)." in page
    )
    assert "kendes ikke" not in page and "metadatafilen siger" not in page
    # The inbox export says it in the same language as its headers.
    export = b"".join(client.get(reverse("deliveries:inbox_csv")).streaming_content).decode()
    assert "InfRef UkendtInfRef_1 is unknown. The file is 1.550 bytes" in export
    assert "kendes ikke" not in export


def test_unreadable_metadata_is_shown_in_the_english_the_parser_wrote(
    fetch_world, standin, client, admin_user
):
    world = fetch_world
    place(standin, world.flis, NAME, CONTENT, b"<FileMetadata>ikke afsluttet")
    fetch(world.flis)

    receipt = Receipt.objects.get()
    assert receipt.verdict_detail.startswith("XML-filen kan ikke læses (linje 1): ")
    assert receipt.verdict_detail_code == "bilingual"

    client.force_login(admin_user)
    assert "XML-filen kan ikke læses (linje 1): " in receipt_page(client, receipt)
    page = receipt_page(client, receipt, language="en")
    assert "The XML file is not well-formed (line 1): " in page
    assert "XML-filen kan ikke læses" not in page


def test_an_old_receipt_without_a_code_shows_its_stored_text(
    fetch_world, standin, client, admin_user
):
    world = fetch_world
    inbox = home(standin, world.flis) / "IN"
    (inbox / f"{NAME}.metadata").write_bytes(metadata_for(world, NAME, len(CONTENT)))
    fetch(world.flis)
    receipt = Receipt.objects.get()
    assert receipt.verdict_detail == f"Datafilen {NAME} mangler i IN/ ved siden af metadatafilen."

    client.force_login(admin_user)
    english = receipt_page(client, receipt, language="en")
    assert f"The data file {NAME} is missing in IN/ next to the metadata file." in english

    Receipt.objects.filter(pk=receipt.pk).update(
        verdict_detail_code="", verdict_detail_params={}, verdict_detail="Gammel begrundelse."
    )
    assert "Gammel begrundelse." in receipt_page(client, receipt, language="en")
