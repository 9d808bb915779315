"""The wire formats: builders validate against KOMBIT's XSD, parsers return typed objects and
refuse hostile or broken XML with one error type naming the element, file names are safe."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

from deliveries import protocol
from deliveries.protocol import ProtocolError

NS = protocol.NAMESPACE

DESCRIPTOR = protocol.FileDescriptor(
    file_name="LEV1_FLISPERSONALE_0101_202610_5d1c9e0a.csv",
    size_in_bytes=1048576,
    sender="LEV1_FLIS_SFTP",
    senders_file_id="5d1c9e0a-6a57-4c1e-9b8e-6f1f3c2a7d10",
    recipients=(protocol.ROUTING_RECIPIENT,),
)
ROUTING = protocol.RoutingInfo(
    infref="FLISPersonaleAflever_1",
    sender_it_system="3f2c1d2e-1111-4222-8333-444455556666",
    sender_authority="urn:oio:cvr-nr:64942212",
    transaction_id="9a7e6f10-2222-4333-8444-555566667777",
    sender_timestamp=datetime(2026, 11, 1, 2, 0, tzinfo=timezone(timedelta(hours=1))),
    recipient_authority="urn:oio:cvr-nr:64942212",
)
TRIGGER = protocol.Trigger(descriptor=DESCRIPTOR, routing=ROUTING)

# DESIGN §3's example, as a route-based trigger looks on the wire.
DESIGN_EXAMPLE = b"""<ns2:Trigger xmlns:ns2="http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types">
  <FileDescriptor>
    <FileName>LEV1_FLISPERSONALE_0101_202610_5d1c9e0a.csv</FileName>
    <SizeInBytes>1048576</SizeInBytes>
    <Sender>LEV1_FLIS_SFTP</Sender>
    <SendersFileId>5d1c9e0a-6a57-4c1e-9b8e-6f1f3c2a7d10</SendersFileId>
    <Recipients>ROUTING_V1_0_0</Recipients>
  </FileDescriptor>
  <FileContentDescriptor>
    <SFTPDynamicRoutingInfo>
      <InfRef>FLISPersonaleAflever_1</InfRef>
      <SenderIt-system>3f2c1d2e-1111-4222-8333-444455556666</SenderIt-system>
      <SenderAuthority>urn:oio:cvr-nr:64942212</SenderAuthority>
      <TransactionId>9a7e6f10-2222-4333-8444-555566667777</TransactionId>
      <SenderTimestamp>2026-11-01T02:00:00+01:00</SenderTimestamp>
      <RecipientAuthority>urn:oio:cvr-nr:64942212</RecipientAuthority>
    </SFTPDynamicRoutingInfo>
  </FileContentDescriptor>
</ns2:Trigger>"""


def test_route_based_trigger_builds_valid_and_reads_back() -> None:
    xml = protocol.build_trigger(TRIGGER)
    assert protocol.schema_errors(xml) == []
    root = etree.fromstring(xml)
    assert root.tag == f"{{{NS}}}Trigger"
    # Only the root is qualified: KOMBIT's schema refuses a prefixed SFTPDynamicRoutingInfo.
    assert all(etree.QName(el).namespace is None for el in root.iterdescendants())
    assert protocol.parse_trigger(xml) == TRIGGER


def test_design_example_parses_to_the_same_trigger() -> None:
    assert protocol.parse_trigger(DESIGN_EXAMPLE) == TRIGGER


def test_prefixed_routing_info_fails_the_schema() -> None:
    prefixed = DESIGN_EXAMPLE.replace(
        b"<SFTPDynamicRoutingInfo>", b"<ns2:SFTPDynamicRoutingInfo>"
    ).replace(b"</SFTPDynamicRoutingInfo>", b"</ns2:SFTPDynamicRoutingInfo>")
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_trigger(prefixed)
    assert caught.value.kind == ProtocolError.SCHEMA
    assert "SFTPDynamicRoutingInfo" in caught.value.message_en


def test_recipient_it_system_goes_before_recipient_authority() -> None:
    routing = protocol.RoutingInfo(
        **{**ROUTING.__dict__, "recipient_it_system": "0c5e3f6a-3333-4444-a555-666677778888"}
    )
    trigger = protocol.Trigger(descriptor=DESCRIPTOR, routing=routing)
    xml = protocol.build_trigger(trigger)
    assert protocol.schema_errors(xml) == []
    assert protocol.parse_trigger(xml).routing == routing


def test_simple_trigger_has_an_empty_content_descriptor() -> None:
    descriptor = protocol.FileDescriptor(
        file_name="a.csv", size_in_bytes=3, sender="A", recipients=("B", "C")
    )
    xml = protocol.build_trigger(protocol.Trigger(descriptor=descriptor))
    assert protocol.schema_errors(xml) == []
    root = etree.fromstring(xml)
    assert len(root.find("FileContentDescriptor")) == 0
    assert root.find("FileDescriptor/SendersFileId") is None
    parsed = protocol.parse_trigger(xml)
    assert parsed.routing is None and not parsed.is_route_based
    assert parsed.descriptor.recipients == ("B", "C")


def test_file_metadata_builds_valid_and_reads_back() -> None:
    metadata = protocol.FileMetadata("f1e2d3c4-0000-4000-8000-000000000001", DESCRIPTOR, ROUTING)
    xml = protocol.build_file_metadata(metadata)
    assert protocol.schema_errors(xml) == []
    assert etree.QName(etree.fromstring(xml)).localname == "FileMetadata"
    assert protocol.parse_file_metadata(xml) == metadata


def test_metadata_reader_accepts_a_trigger_root() -> None:
    metadata = protocol.parse_file_metadata(DESIGN_EXAMPLE)
    assert metadata.file_transfer_uuid is None
    assert metadata.descriptor == DESCRIPTOR and metadata.routing == ROUTING


def test_metadata_reader_refuses_other_roots() -> None:
    receipt = protocol.build_technical_receipt(protocol.TechnicalReceipt("u"))
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_file_metadata(receipt)
    assert caught.value.element == "TechnicalReceipt"
    assert "FileMetadata" in caught.value.message_da


def test_success_receipt() -> None:
    receipt = protocol.TechnicalReceipt("u-1", senders_file_id="s-1")
    xml = protocol.build_technical_receipt(receipt)
    assert protocol.schema_errors(xml) == []
    assert etree.fromstring(xml).findtext("Receipt/Message") == "SUCCESS"
    parsed = protocol.parse_technical_receipt(xml)
    assert parsed == receipt and parsed.succeeded


def test_error_receipt_lists_every_error() -> None:
    errors = (
        protocol.ErrorMessage(202, "Datafilen findes ikke", "OUT/a.csv findes ikke"),
        protocol.ErrorMessage(401, "InfRef er ukendt", "InfRef 'X' kendes ikke"),
    )
    receipt = protocol.TechnicalReceipt("u-2", errors=errors)
    xml = protocol.build_technical_receipt(receipt)
    assert protocol.schema_errors(xml) == []
    assert etree.fromstring(xml).find("Receipt") is None
    parsed = protocol.parse_technical_receipt(xml)
    assert parsed.errors == errors and not parsed.succeeded and parsed.senders_file_id is None


def test_builders_refuse_what_the_schema_refuses() -> None:
    too_long = protocol.FileDescriptor(
        file_name="x" * 256, size_in_bytes=1, sender="A", recipients=("B",)
    )
    with pytest.raises(ProtocolError) as caught:
        protocol.build_trigger(protocol.Trigger(descriptor=too_long))
    assert caught.value.element == "FileDescriptor/FileName"
    bad_uuid = protocol.RoutingInfo(**{**ROUTING.__dict__, "sender_it_system": "NOT-A-UUID"})
    with pytest.raises(ProtocolError) as caught:
        protocol.build_trigger(protocol.Trigger(descriptor=DESCRIPTOR, routing=bad_uuid))
    assert caught.value.element == "FileContentDescriptor/SFTPDynamicRoutingInfo/SenderIt-system"


def test_naive_timestamps_are_refused() -> None:
    naive = protocol.RoutingInfo(**{**ROUTING.__dict__, "sender_timestamp": datetime(2026, 1, 1)})
    with pytest.raises(ValueError, match="timezone"):
        protocol.build_trigger(protocol.Trigger(descriptor=DESCRIPTOR, routing=naive))


def test_utc_timestamp_with_z_is_read() -> None:
    xml = DESIGN_EXAMPLE.replace(b"2026-11-01T02:00:00+01:00", b"2026-11-01T01:00:00Z")
    assert protocol.parse_trigger(xml).routing.sender_timestamp == datetime(
        2026, 11, 1, 1, 0, tzinfo=UTC
    )


def test_schema_error_names_the_element_in_both_languages() -> None:
    broken = DESIGN_EXAMPLE.replace(b"<SizeInBytes>1048576<", b"<SizeInBytes>stor<")
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_trigger(broken)
    error = caught.value
    assert error.kind == ProtocolError.SCHEMA
    assert error.element == "FileDescriptor/SizeInBytes"
    assert "FileDescriptor/SizeInBytes" in error.message_da and "følger ikke" in error.message_da
    assert (
        "FileDescriptor/SizeInBytes" in error.message_en and "does not follow" in error.message_en
    )
    assert str(error) == error.message_da


def test_missing_element_is_named() -> None:
    broken = DESIGN_EXAMPLE.replace(b"<Sender>LEV1_FLIS_SFTP</Sender>", b"")
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_trigger(broken)
    assert "Sender" in caught.value.message_en


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", ProtocolError.MALFORMED),
        (b"<ns2:Trigger xmlns:ns2='x'>", ProtocolError.MALFORMED),
        (b"not xml at all", ProtocolError.MALFORMED),
        (b"<a>" + b" " * protocol.MAX_XML_BYTES + b"</a>", ProtocolError.TOO_LARGE),
        (b"<Trigger/>", ProtocolError.SCHEMA),  # no namespace: wrong root
    ],
)
def test_broken_input(data: bytes, kind: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_trigger(data)
    assert caught.value.kind == kind
    assert caught.value.message_da and caught.value.message_en


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + f']>\n<ns2:Trigger xmlns:ns2="{NS}"><FileDescriptor><FileName>&lol9;</FileName>'
    "</FileDescriptor></ns2:Trigger>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    f'<ns2:Trigger xmlns:ns2="{NS}"><FileDescriptor><FileName>&xxe;</FileName>'
    "</FileDescriptor></ns2:Trigger>"
)
EXTERNAL_DTD = (
    '<?xml version="1.0"?>\n<!DOCTYPE t SYSTEM "http://127.0.0.1:9/evil.dtd">\n'
    f'<ns2:Trigger xmlns:ns2="{NS}"/>'
)


@pytest.mark.parametrize("attack", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_dtds_and_entities_are_refused(attack: str, encoding: str) -> None:
    # UTF-16 hides the DOCTYPE from a byte-level look; the parsed document is checked too.
    data = attack.replace('version="1.0"?>', f'version="1.0" encoding="{encoding}"?>').encode(
        encoding
    )
    started = time.monotonic()
    for parse in (
        protocol.parse_trigger,
        protocol.parse_file_metadata,
        protocol.parse_technical_receipt,
    ):
        with pytest.raises(ProtocolError) as caught:
            parse(data)
        assert caught.value.kind == ProtocolError.FORBIDDEN
        assert "/etc/passwd" not in caught.value.message_da
        assert "root:" not in caught.value.message_en
    assert time.monotonic() - started < 2


def test_processing_instructions_are_refused() -> None:
    data = DESIGN_EXAMPLE.replace(b"<FileDescriptor>", b"<FileDescriptor><?evil x?>", 1)
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_trigger(data)
    assert caught.value.kind == ProtocolError.FORBIDDEN
    assert caught.value.element == "FileDescriptor"


def test_schema_is_loaded_once() -> None:
    assert protocol.schema() is protocol.schema()


# --- File names --------------------------------------------------------------------------


def test_wire_file_name_has_the_agreed_shape() -> None:
    name = protocol.wire_file_name(
        sftp_user="LEV1",
        area_code="flispersonale",
        kommune_code="101",
        period="202610",
        short_id="5d1c9e0a",
        ext="csv",
    )
    assert name == "LEV1_FLISPERSONALE_0101_202610_5d1c9e0a.csv"


def test_wire_file_name_makes_unsafe_parts_safe() -> None:
    name = protocol.wire_file_name(
        sftp_user="Læs/../Øst Å\x00",
        area_code="voksne_handicappede",
        kommune_code="0751",
        period="2026-10",
        short_id="ab/cd",
        ext=".CSV",
    )
    assert name == "Laes-..-OEst-AA_VOKSNE-HANDICAPPEDE_0751_2026-10_ab-cd.CSV"
    assert protocol.is_safe_file_name(name)


def test_wire_file_name_shortens_the_user_part_to_255() -> None:
    name = protocol.wire_file_name(
        sftp_user="U" * 400,
        area_code="skole",
        kommune_code="101",
        period="202610",
        short_id="5d1c9e0a",
        ext="csv",
    )
    assert len(name) == 255
    assert name.endswith("_SKOLE_0101_202610_5d1c9e0a.csv")
    assert protocol.is_safe_file_name(name)


def test_wire_file_name_needs_its_parts() -> None:
    with pytest.raises(ValueError):
        protocol.wire_file_name(
            sftp_user="U", area_code="", kommune_code="101", period="1", short_id="a", ext="csv"
        )


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("LEV1_FLISPERSONALE_0101_202610_5d1c9e0a.csv", True),
        ("æøå.csv", True),
        ("x" * 255, True),
        ("x" * 256, False),
        ("æ" * 200, False),  # 400 bytes in UTF-8
        ("", False),
        (".", False),
        ("..", False),
        ("../x.csv", False),
        ("a/b.csv", False),
        ("a\\b.csv", False),
        ("a\x00b", False),
        ("a\nb", False),
        ("a\x7fb", False),
        (" leading-space", False),
    ],
)
def test_is_safe_file_name(name: str, safe: bool) -> None:
    assert protocol.is_safe_file_name(name) is safe


# --- SenderTimestamp: every xs:dateTime the schema accepts (issue #14) ----------------------


def _with_timestamp(text: str) -> bytes:
    return DESIGN_EXAMPLE.replace(b"2026-11-01T02:00:00+01:00", text.encode())


def test_unzoned_sender_timestamp_is_read_as_danish_time() -> None:
    # Rule: xs:dateTime allows no zone; a Danish sender means Danish time (summer: UTC+2).
    routing = protocol.parse_trigger(_with_timestamp("2026-07-01T12:00:00")).routing
    assert routing is not None
    assert routing.sender_timestamp.tzinfo is not None
    assert routing.sender_timestamp == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def test_sender_timestamp_24_00_is_midnight_of_the_next_day() -> None:
    # Rule: xs:dateTime allows 24:00:00, the end of the day = 00:00 of the next.
    routing = protocol.parse_trigger(_with_timestamp("2026-12-31T24:00:00Z")).routing
    assert routing is not None
    assert routing.sender_timestamp == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


def test_sender_timestamp_keeps_fractions_and_offsets() -> None:
    routing = protocol.parse_trigger(_with_timestamp("2026-11-01T02:00:00.123456789-03:30")).routing
    assert routing is not None
    assert routing.sender_timestamp == datetime(2026, 11, 1, 5, 30, 0, 123456, tzinfo=UTC)


def test_a_year_python_cannot_hold_is_a_schema_kind_refusal() -> None:
    # Valid xs:dateTime, but no date the portal can compute with: a clean refusal, not a crash.
    with pytest.raises(ProtocolError) as caught:
        protocol.parse_trigger(_with_timestamp("12026-11-01T02:00:00Z"))
    assert caught.value.kind == ProtocolError.SCHEMA
    assert caught.value.element == "SFTPDynamicRoutingInfo/SenderTimestamp"


ROUTE_PARAMETERS = (
    b"<RouteParameterList><RouteParameter><Kontor xmlns='urn:x'>7</Kontor></RouteParameter>"
    b"</RouteParameterList>"
)


def test_metadata_carries_the_senders_descriptor_faithfully() -> None:
    # Rule: the metadata file passes on what the sender wrote: SenderTimestamp to the digit
    # (fraction and zone as written) and its RouteParameterList.
    xml = _with_timestamp("2026-11-01T02:00:00.25").replace(
        b"</RecipientAuthority>", b"</RecipientAuthority>" + ROUTE_PARAMETERS
    )
    trigger = protocol.parse_trigger(xml)
    metadata = protocol.build_file_metadata(
        protocol.FileMetadata(
            file_transfer_uuid="f" * 8, descriptor=trigger.descriptor, routing=trigger.routing
        )
    )
    assert protocol.schema_errors(metadata) == []
    info = etree.fromstring(metadata).find("FileContentDescriptor/SFTPDynamicRoutingInfo")
    assert info is not None
    assert info.findtext("SenderTimestamp") == "2026-11-01T02:00:00.25"
    assert info.findtext("RouteParameterList/RouteParameter/{urn:x}Kontor") == "7"
    read_back = protocol.parse_file_metadata(metadata).routing
    assert read_back is not None
    assert read_back.route_parameter_list is not None
