"""The encoding a delivery reaches its recipients in: a Windows-1252 upload is converted to the
contract's send encoding (UTF-8 unless the contract says otherwise) before the push, the upload
is kept as it came, and size and SHA-256 are checked end to end on the bytes that were sent.

Pushed to the real stand-in over SFTP and fetched by the real Hent side."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from deliveries.datacontracts import (
    CONTRACTS_DIR,
    contract_problems,
    needs_conversion,
    read_contract,
    send_encoding,
)
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, Receipt, ReceiptVerdict
from deliveries.services.contracts import contract_load
from deliveries.services.push import delivery_push
from tests.helpers.fetching import fetch, hold_private_keys
from tests.helpers.standin import home

pytestmark = pytest.mark.redis

# Danish letters and a euro sign: one byte each in Windows-1252, two or three in UTF-8.
TEXT = "kommunekode;navn\r\n101;Søren Ærø Åby €\r\n"
CP1252 = TEXT.encode("cp1252")
UTF8 = TEXT.encode("utf-8")


def _cp1252_delivery(pushable) -> Delivery:
    delivery = pushable(CP1252)
    # As the validator records it for a file that is not UTF-8 but clean Windows-1252.
    Delivery.objects.filter(pk=delivery.pk).update(encoding="cp1252")
    return delivery


def test_cp1252_upload_reaches_the_recipient_as_utf8_and_the_hent_side_checks_the_sent_hash(
    world, standin, pushable, private_media, client, uploader
):
    delivery = _cp1252_delivery(pushable)

    assert delivery_push(delivery_id=delivery.pk) == DeliveryStatus.SENT
    standin.wait_idle()

    delivery.refresh_from_db()
    # The upload is kept byte for byte; the copy that was sent is UTF-8, with its own hash.
    with default_storage.open(delivery.file.name, "rb") as kept:
        assert kept.read() == CP1252
    assert delivery.sha256 == hashlib.sha256(CP1252).hexdigest()
    assert delivery.size == len(CP1252)
    assert delivery.was_converted
    assert delivery.sent_encoding == "utf-8"
    assert delivery.sent_size == len(UTF8)
    assert delivery.sent_sha256 == hashlib.sha256(UTF8).hexdigest()

    # What the recipient holds is the UTF-8 text, and the Hent side accepts it on the sent hash.
    arrived = (home(standin, world.flis) / "IN" / delivery.wire_name).read_bytes()
    assert arrived.decode("utf-8") == TEXT
    hold_private_keys(world)
    fetch(world.flis)
    receipt = Receipt.objects.get(recipient_sftp_user=world.flis.sftp_user)
    assert receipt.verdict == ReceiptVerdict.OK, receipt.verdict_detail
    assert receipt.declared_size == len(UTF8)
    assert receipt.sha256 == delivery.sent_sha256

    client.force_login(uploader)
    page = client.get(reverse("deliveries:detail", args=[delivery.uuid])).content.decode()
    assert "Konverteret fra Windows-1252 til UTF-8 før afsendelse" in page
    assert delivery.sent_sha256 in page


def test_utf8_upload_is_sent_as_it_is_and_its_hashes_are_the_uploads(world, standin, pushable):
    delivery = pushable(UTF8)
    Delivery.objects.filter(pk=delivery.pk).update(encoding="utf-8")

    assert delivery_push(delivery_id=delivery.pk) == DeliveryStatus.SENT
    standin.wait_idle()

    delivery.refresh_from_db()
    assert not delivery.was_converted
    assert (delivery.sent_size, delivery.sent_sha256) == (delivery.size, delivery.sha256)
    assert (home(standin, world.flis) / "IN" / delivery.wire_name).read_bytes() == UTF8


def test_a_contract_that_declares_cp1252_gets_the_upload_as_it_is(world, standin, pushable):
    delivery = _cp1252_delivery(pushable)
    document = read_contract(CONTRACTS_DIR / "dagtilbud.json")
    document["version"] = "2027.1-cp1252"
    document["dialect"]["sendEncoding"] = "cp1252"
    contract = contract_load(document=document, user=None, activate=False)
    Delivery.objects.filter(pk=delivery.pk).update(contract=contract)

    assert delivery_push(delivery_id=delivery.pk) == DeliveryStatus.SENT
    standin.wait_idle()

    delivery.refresh_from_db()
    assert not delivery.was_converted
    assert (home(standin, world.flis) / "IN" / delivery.wire_name).read_bytes() == CP1252


def test_send_encoding_is_utf8_unless_the_contract_says_otherwise():
    assert send_encoding(None) == "utf-8"
    assert send_encoding({"dialect": {"delimiter": ";"}}) == "utf-8"
    assert send_encoding({"dialect": {"sendEncoding": "cp1252"}}) == "cp1252"
    # A UTF-8 byte order mark is UTF-8; a delivery without a recorded encoding is left alone.
    assert not needs_conversion("utf-8-sig", send="utf-8")
    assert not needs_conversion("", send="utf-8")
    assert needs_conversion("cp1252", send="utf-8")


def test_a_contract_may_only_declare_an_encoding_the_push_can_write():
    document = read_contract(CONTRACTS_DIR / "dagtilbud.json")
    document["dialect"]["sendEncoding"] = "latin-9"
    assert contract_problems(document) == [
        "«dialect.sendEncoding» skal være en af «utf-8», «cp1252»."
    ]
