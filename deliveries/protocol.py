"""Every file format on the Serviceplatform's SFTP wire, in one place (DESIGN §3).

- `Trigger` (route-based or simple), `FileMetadata` and `TechnicalReceipt` as typed dataclasses,
- `build_*` functions that write them with lxml and validate the result against KOMBIT's
  `SFTPTypes.xsd` before returning it (a document that fails the schema is a bug here, never
  something to send),
- `parse_*` functions with a hardened parser: no DTDs, no entities, no network, bounded size,
- the file names the portal generates (`wire_file_name`) and the rule every name on the wire
  must follow (`is_safe_file_name`).

Everything that goes wrong while reading raises `ProtocolError`, carrying a Danish and an English
message that name the element at fault.

KOMBIT's quirk worth knowing: only the root element is in the SFTP namespace; every child,
`SFTPDynamicRoutingInfo` and its children included, is unqualified. The prefixed form fails the
schema, so the builders write children without a namespace.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from lxml import etree

NAMESPACE = "http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types"
# `Recipients` of a route-based trigger: the platform picks recipients from its routes.
ROUTING_RECIPIENT = "ROUTING_V1_0_0"
RECEIPT_SUCCESS = "SUCCESS"

# The two folders of an SFTP user's home on the Serviceplatform (DESIGN §3): a sender puts its
# files in OUT/, and the platform puts what it hands that user (receipts, distributed files and
# their metadata) in IN/.
OUTBOX = "OUT"
INBOX = "IN"

TRIGGER_SUFFIX = ".trigger"
METADATA_SUFFIX = ".metadata"
RECEIPT_SUFFIX = ".sftpreceipt"

# A trigger, metadata file or receipt is a few hundred bytes; anything near this is an attack
# or a mistake, and refusing it before parsing keeps memory flat.
MAX_XML_BYTES = 1_000_000
MAX_FILE_NAME_LENGTH = 255


class ProtocolError(Exception):
    """A file on the wire that cannot be read: what is wrong, in Danish and English, and where."""

    # What kind of problem, for callers that answer each kind differently (the stand-in's
    # error codes): the file is too large, not well-formed XML, carries a DTD/entity, or does
    # not follow the schema (wrong root included).
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    FORBIDDEN = "forbidden"
    SCHEMA = "schema"

    def __init__(
        self, message_da: str, message_en: str, *, element: str = "", kind: str = SCHEMA
    ) -> None:
        super().__init__(message_da)
        self.message_da = message_da
        self.message_en = message_en
        self.element = element
        self.kind = kind

    def __str__(self) -> str:
        return self.message_da


# --- Typed documents -------------------------------------------------------------------------


@dataclass(frozen=True)
class FileDescriptor:
    file_name: str
    size_in_bytes: int
    sender: str
    recipients: tuple[str, ...]
    senders_file_id: str | None = None


@dataclass(frozen=True)
class RoutingInfo:
    """`SFTPDynamicRoutingInfo`: what the platform routes a route-based transfer on."""

    infref: str
    sender_it_system: str
    sender_authority: str
    transaction_id: str
    sender_timestamp: datetime
    recipient_authority: str
    recipient_it_system: str | None = None
    # What the sender wrote, carried into the metadata file unchanged: KOMBIT passes the
    # descriptor on to the recipient, and a rewritten timestamp (fractional seconds cut, zone
    # changed) or a dropped RouteParameterList is not what the sender sent.
    sender_timestamp_text: str | None = field(default=None, compare=False)
    route_parameter_list: bytes | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Trigger:
    descriptor: FileDescriptor
    # None for a simple transfer: `Recipients` then names SFTP users directly.
    routing: RoutingInfo | None = None

    @property
    def is_route_based(self) -> bool:
        return self.routing is not None


@dataclass(frozen=True)
class FileMetadata:
    # None only when the file had a `Trigger` root (older clients expect that form).
    file_transfer_uuid: str | None
    descriptor: FileDescriptor
    routing: RoutingInfo | None = None


@dataclass(frozen=True)
class ErrorMessage:
    code: int
    code_description: str
    description: str


@dataclass(frozen=True)
class TechnicalReceipt:
    file_transfer_uuid: str
    senders_file_id: str | None = None
    errors: tuple[ErrorMessage, ...] = field(default_factory=tuple)
    message: str = RECEIPT_SUCCESS

    @property
    def succeeded(self) -> bool:
        return not self.errors


# --- Schema --------------------------------------------------------------------------------


@functools.cache
def _schema_at(xsd_dir: str) -> etree.XMLSchema:
    # The schema files are the project's own copy; includes are resolved from their folder.
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(Path(xsd_dir) / "SFTPTypes.xsd"), parser))


def schema() -> etree.XMLSchema:
    """KOMBIT's SFTPTypes.xsd from `settings.KOMBIT_XSD_DIR`, loaded once per folder."""
    return _schema_at(str(settings.KOMBIT_XSD_DIR))


def schema_errors(document: etree._Element | bytes) -> list[str]:
    """Schema violations of a document as 'path: message' lines; empty when it is valid."""
    if isinstance(document, bytes):
        document = _parse_xml(document)
    checker = schema()
    if checker.validate(document):
        return []
    return [f"{error.path}: {error.message}" for error in checker.error_log]


def _validate(root: etree._Element) -> None:
    checker = schema()
    if checker.validate(root):
        return
    error = checker.error_log[0]
    element = _element_name(error.path)
    raise ProtocolError(
        f"XML-filen følger ikke KOMBITs skema (SFTPTypes.xsd) ved elementet {element}: "
        f"{error.message}",
        f"The XML file does not follow KOMBIT's schema (SFTPTypes.xsd) at element {element}: "
        f"{error.message}",
        element=element,
    )


def _element_name(path: str | None) -> str:
    """'/ns0:Trigger/FileDescriptor/SizeInBytes' -> 'FileDescriptor/SizeInBytes'."""
    if not path:
        return "(rod)"
    parts = [re.sub(r"^[^:]*:", "", part) for part in path.strip("/").split("/")]
    return "/".join(parts[1:]) or parts[0]


# --- Building ------------------------------------------------------------------------------


def _root(tag: str) -> etree._Element:
    return etree.Element(etree.QName(NAMESPACE, tag), nsmap={"ns2": NAMESPACE})


def _child(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    # Unqualified on purpose: KOMBIT's schema has elementFormDefault="unqualified".
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _add_descriptor(parent: etree._Element, descriptor: FileDescriptor) -> None:
    node = _child(parent, "FileDescriptor")
    _child(node, "FileName", descriptor.file_name)
    _child(node, "SizeInBytes", str(descriptor.size_in_bytes))
    _child(node, "Sender", descriptor.sender)
    if descriptor.senders_file_id is not None:
        _child(node, "SendersFileId", descriptor.senders_file_id)
    for recipient in descriptor.recipients:
        _child(node, "Recipients", recipient)


def _add_content(parent: etree._Element, routing: RoutingInfo | None) -> None:
    node = _child(parent, "FileContentDescriptor")
    if routing is None:
        return
    info = _child(node, "SFTPDynamicRoutingInfo")
    _child(info, "InfRef", routing.infref)
    _child(info, "SenderIt-system", routing.sender_it_system)
    _child(info, "SenderAuthority", routing.sender_authority)
    _child(info, "TransactionId", routing.transaction_id)
    _child(
        info,
        "SenderTimestamp",
        routing.sender_timestamp_text or _format_timestamp(routing.sender_timestamp),
    )
    if routing.recipient_it_system is not None:
        _child(info, "RecipientIt-system", routing.recipient_it_system)
    _child(info, "RecipientAuthority", routing.recipient_authority)
    if routing.route_parameter_list is not None:
        info.append(etree.fromstring(routing.route_parameter_list, _hardened_parser()))


def _format_timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        # xs:dateTime without an offset is "local time somewhere": refuse to write one.
        raise ValueError("SenderTimestamp must be timezone-aware")
    return value.isoformat(timespec="seconds")


def _serialise(root: etree._Element) -> bytes:
    _validate(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_trigger(trigger: Trigger) -> bytes:
    """The trigger file uploaded after the data file, as `OUT/<name>.trigger`."""
    root = _root("Trigger")
    _add_descriptor(root, trigger.descriptor)
    _add_content(root, trigger.routing)
    return _serialise(root)


def build_file_metadata(metadata: FileMetadata) -> bytes:
    """The metadata file the platform puts beside a distributed file, root `FileMetadata`."""
    if metadata.file_transfer_uuid is None:
        raise ValueError("a FileMetadata document needs a FileTransferUUID")
    root = _root("FileMetadata")
    _child(root, "FileTransferUUID", metadata.file_transfer_uuid)
    _add_descriptor(root, metadata.descriptor)
    _add_content(root, metadata.routing)
    return _serialise(root)


def build_technical_receipt(receipt: TechnicalReceipt) -> bytes:
    """The sender's `<name>.sftpreceipt`: SUCCESS or one `ErrorMessage` per problem."""
    root = _root("TechnicalReceipt")
    _child(root, "FileTransferUUID", receipt.file_transfer_uuid)
    if receipt.senders_file_id is not None:
        _child(root, "SendersFileId", receipt.senders_file_id)
    if receipt.errors:
        for error in receipt.errors:
            node = _child(root, "ErrorMessage")
            _child(node, "ErrorCode", str(error.code))
            _child(node, "ErrorCodeDescription", error.code_description)
            _child(node, "ErrorDescription", error.description)
    else:
        _child(_child(root, "Receipt"), "Message", receipt.message)
    return _serialise(root)


# --- Parsing -------------------------------------------------------------------------------


def _hardened_parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=True,
    )


def _parse_xml(data: bytes) -> etree._Element:
    if len(data) > MAX_XML_BYTES:
        raise ProtocolError(
            f"XML-filen er for stor ({len(data)} bytes; højst {MAX_XML_BYTES}).",
            f"The XML file is too large ({len(data)} bytes; at most {MAX_XML_BYTES}).",
            element="(fil)",
            kind=ProtocolError.TOO_LARGE,
        )
    if not data.strip():
        raise ProtocolError(
            "XML-filen er tom.",
            "The XML file is empty.",
            element="(fil)",
            kind=ProtocolError.MALFORMED,
        )
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        # Checked on the raw bytes too, so that an entity bomb is refused before libxml2 even
        # reads its declarations; the docinfo check below covers other encodings.
        raise ProtocolError(
            "XML-filen indeholder en DOCTYPE/DTD eller entiteter, som ikke er tilladt.",
            "The XML file contains a DOCTYPE/DTD or entities, which are not allowed.",
            element="DOCTYPE",
            kind=ProtocolError.FORBIDDEN,
        )
    try:
        root = etree.fromstring(data, _hardened_parser())
    except etree.XMLSyntaxError as exc:
        # libxml2 itself stops some entity bombs (amplification limits): still an attack.
        entity_trouble = "entit" in (exc.msg or "").lower()
        raise ProtocolError(
            f"XML-filen kan ikke læses (linje {exc.lineno}): {exc.msg}",
            f"The XML file is not well-formed (line {exc.lineno}): {exc.msg}",
            element="DOCTYPE" if entity_trouble else "(fil)",
            kind=ProtocolError.FORBIDDEN if entity_trouble else ProtocolError.MALFORMED,
        ) from None
    # KOMBIT's documents never carry a DTD; one here is at best noise and at worst an entity
    # attack (billion laughs, external entities), so refuse it outright.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise ProtocolError(
            "XML-filen indeholder en DOCTYPE/DTD, som ikke er tilladt.",
            "The XML file contains a DOCTYPE/DTD, which is not allowed.",
            element="DOCTYPE",
            kind=ProtocolError.FORBIDDEN,
        )
    for node in root.iter(etree.Entity, etree.ProcessingInstruction):
        parent = node.getparent()
        where = parent.tag if parent is not None else "(rod)"
        raise ProtocolError(
            f"XML-filen indeholder en entitet eller processing instruction i {where}, "
            "som ikke er tilladt.",
            f"The XML file contains an entity or processing instruction in {where}, "
            "which is not allowed.",
            element=str(where),
            kind=ProtocolError.FORBIDDEN,
        )
    return root


def _expect_root(root: etree._Element, names: Sequence[str]) -> str:
    qname = etree.QName(root)
    if qname.namespace != NAMESPACE or qname.localname not in names:
        expected = " eller ".join(names)
        expected_en = " or ".join(names)
        raise ProtocolError(
            f"Rodelementet er {qname.localname}, men skal være {expected} i KOMBITs "
            f"SFTP-navnerum ({NAMESPACE}).",
            f"The root element is {qname.localname} but must be {expected_en} in KOMBIT's "
            f"SFTP namespace ({NAMESPACE}).",
            element=qname.localname,
        )
    return qname.localname


def _text(parent: etree._Element, tag: str) -> str | None:
    node = parent.find(tag)
    return None if node is None else (node.text or "").strip()


def _required(parent: etree._Element, tag: str) -> str:
    value = _text(parent, tag)
    if value is None:  # the schema check runs first, so this is a programming error
        raise ProtocolError(
            f"Elementet {tag} mangler.", f"The element {tag} is missing.", element=tag
        )
    return value


def _read_descriptor(root: etree._Element) -> FileDescriptor:
    node = root.find("FileDescriptor")
    assert node is not None  # guaranteed by the schema
    return FileDescriptor(
        file_name=_required(node, "FileName"),
        size_in_bytes=int(_required(node, "SizeInBytes")),
        sender=_required(node, "Sender"),
        senders_file_id=_text(node, "SendersFileId"),
        recipients=tuple((n.text or "").strip() for n in node.findall("Recipients")),
    )


def _read_routing(root: etree._Element) -> RoutingInfo | None:
    info = root.find("FileContentDescriptor/SFTPDynamicRoutingInfo")
    if info is None:
        return None
    raw_timestamp = _required(info, "SenderTimestamp")
    timestamp = parse_xs_datetime(raw_timestamp)
    parameters = info.find("RouteParameterList")
    return RoutingInfo(
        infref=_required(info, "InfRef"),
        sender_it_system=_required(info, "SenderIt-system"),
        sender_authority=_required(info, "SenderAuthority"),
        transaction_id=_required(info, "TransactionId"),
        sender_timestamp=timestamp,
        recipient_it_system=_text(info, "RecipientIt-system"),
        recipient_authority=_required(info, "RecipientAuthority"),
        sender_timestamp_text=raw_timestamp,
        route_parameter_list=None if parameters is None else etree.tostring(parameters),
    )


# xs:dateTime: optional minus, a year of four or more digits, optional fraction and zone.
_XS_DATETIME = re.compile(
    r"(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?"
)
# An xs:dateTime without a zone is "local time somewhere"; Danish senders mean Danish time.
DANISH_TIME = ZoneInfo("Europe/Copenhagen")


def parse_xs_datetime(text: str) -> datetime:
    """An aware datetime for any xs:dateTime Python can hold: an unzoned value is read as
    Danish time, and `24:00:00` is 00:00 of the next day (both valid under the schema, which
    `fromisoformat` alone refuses or leaves naive)."""
    match = _XS_DATETIME.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
        fraction, zone = match.group(7), match.group(8)
        micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
        next_day = hour == 24 and minute == second == micro == 0
        if zone is None:
            tz: timezone | ZoneInfo = DANISH_TIME
        elif zone == "Z":
            tz = UTC
        else:
            sign = -1 if zone[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        value = datetime(year, month, day, 0 if next_day else hour, minute, second, micro, tz)
        return value + timedelta(days=1) if next_day else value
    except (ValueError, OverflowError):
        # A year outside 1-9999 is valid xs:dateTime but no date Python (or the portal) holds.
        raise ProtocolError(
            f"SenderTimestamp '{text}' kan ikke læses som tidspunkt (år 1-9999).",
            f"SenderTimestamp '{text}' cannot be read as a date and time (years 1-9999).",
            element="SFTPDynamicRoutingInfo/SenderTimestamp",
        ) from None


def _parse_valid(data: bytes, roots: Sequence[str]) -> tuple[str, etree._Element]:
    root = _parse_xml(data)
    name = _expect_root(root, roots)
    _validate(root)
    return name, root


def parse_trigger(data: bytes) -> Trigger:
    _, root = _parse_valid(data, ["Trigger"])
    return Trigger(descriptor=_read_descriptor(root), routing=_read_routing(root))


def parse_file_metadata(data: bytes) -> FileMetadata:
    """Read a metadata file. A root of `Trigger` is accepted too (it then has no
    FileTransferUUID), because an older open-source client writes and expects that form."""
    name, root = _parse_valid(data, ["FileMetadata", "Trigger"])
    return FileMetadata(
        file_transfer_uuid=_required(root, "FileTransferUUID") if name == "FileMetadata" else None,
        descriptor=_read_descriptor(root),
        routing=_read_routing(root),
    )


def parse_technical_receipt(data: bytes) -> TechnicalReceipt:
    _, root = _parse_valid(data, ["TechnicalReceipt"])
    errors = tuple(
        ErrorMessage(
            code=int(_required(node, "ErrorCode")),
            code_description=_required(node, "ErrorCodeDescription"),
            description=_required(node, "ErrorDescription"),
        )
        for node in root.findall("ErrorMessage")
    )
    return TechnicalReceipt(
        file_transfer_uuid=_required(root, "FileTransferUUID"),
        senders_file_id=_text(root, "SendersFileId"),
        errors=errors,
        message="" if errors else (_text(root, "Receipt/Message") or ""),
    )


# --- File names ----------------------------------------------------------------------------

_SAFE_CHARS = re.compile(r"[^A-Za-z0-9.-]+")
_SAFE_USER_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "AE", "Ø": "OE", "Å": "AA"})


def _safe_part(value: str, pattern: re.Pattern[str] = _SAFE_CHARS) -> str:
    """Letters, digits, '.' and '-' only: Danish letters spelt out, accents dropped, everything
    else (the '_' separator included) turned into '-'."""
    text = unicodedata.normalize("NFKD", str(value).translate(_DANISH))
    text = text.encode("ascii", "ignore").decode()
    return pattern.sub("-", text).strip(".-_")


def wire_file_name(
    *,
    sftp_user: str,
    area_code: str,
    kommune_code: str,
    period: str,
    short_id: str,
    ext: str,
) -> str:
    """`<SFTPUSER>_<AREA>_<KOMMUNEKODE>_<PERIOD>_<short id>.<ext>`, at most 255 characters.

    The short id makes the name unique (KOMBIT: the platform may still be working on an earlier
    file of the same name). When the name would be too long, the SFTP user part gives way,
    because the other parts are what a person reads in a recipient's IN folder.
    """
    area = _safe_part(area_code).upper()
    kommune = _safe_part(kommune_code)
    if kommune.isdigit():
        kommune = kommune.zfill(4)  # KOMBIT and DST write kommunekoder with four digits
    rest = "_".join([area, kommune, _safe_part(period), _safe_part(short_id)])
    extension = _safe_part(ext.lstrip("."))
    if not all([area, kommune, rest, extension]):
        raise ValueError("area_code, kommune_code, period, short_id and ext must not be empty")
    # SFTP user names such as LEV1_FLIS_SFTP keep their underscores: people recognise them.
    user = _safe_part(sftp_user, _SAFE_USER_CHARS) or "SFTP"
    room = MAX_FILE_NAME_LENGTH - len(rest) - len(extension) - 2
    if room < 1:
        raise ValueError("the file name would be longer than 255 characters")
    name = f"{user[:room]}_{rest}.{extension}"
    assert is_safe_file_name(name)
    return name


_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


def is_safe_file_name(name: str) -> bool:
    """A name the platform accepts: at most 255 characters (and bytes), no path separators,
    no control characters, and not '.' or '..'."""
    return (
        bool(name)
        and len(name) <= MAX_FILE_NAME_LENGTH
        and len(name.encode("utf-8", "surrogateescape")) <= MAX_FILE_NAME_LENGTH
        and not _UNSAFE_NAME.search(name)
        and name not in {".", ".."}
        and name.strip() == name
    )
