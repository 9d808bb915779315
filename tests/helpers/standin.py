"""The Serviceplatform stand-in's world for tests: a registry with a route and the parties
on the local endpoint, a real paramiko SFTP client to drive the stand-in, triggers and
receipts. The fixtures `world` and `standin` (tests/fixtures/standin.py) use these.

The stand-in runs in a background thread and reads the registry through its own database
connections, so its tests use `transactional_db` (rows must be committed to be seen).

Parties on the local endpoint:
- `sender`: vendor A's fagsystem (SFTP user LEV-A_FLIS_SFTP), with an established Personale
  route for København to FLIS and København's own LIS.
- `flis`, `lis`: the two recipient systems of that route.
- `other`: vendor B's fagsystem, with no route at all.
"""

from __future__ import annotations

import io
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paramiko

from deliveries import protocol
from deliveries.serviceplatform.keys import registered_key_add
from deliveries.serviceplatform.routing import home_of
from deliveries.serviceplatform.server import StandinThread
from routes.hostkeys import host_key_matches
from routes.keys import encrypt_private_key, generate_key_pair
from routes.models import (
    DataArea,
    Endpoint,
    ITSystem,
    KeyState,
    Kommune,
    Route,
    SftpKey,
    SftpUser,
)
from tests import factories


@dataclass
class Party:
    username: str
    system: ITSystem
    sftp_user: SftpUser
    private_key: bytes  # OpenSSH PEM, test only


@dataclass
class World:
    endpoint: Endpoint
    area: DataArea
    kommune: Kommune
    route: Route
    sender: Party
    flis: Party
    lis: Party
    other: Party


def add_party(
    endpoint: Endpoint, system: ITSystem, username: str, *, portal_holds_key: bool = False
) -> Party:
    sftp_user = factories.sftp_user(system, username, endpoint=endpoint)
    return Party(username, system, sftp_user, add_key(sftp_user, portal_holds_key=portal_holds_key))


def add_key(
    sftp_user: SftpUser,
    state: str = KeyState.ACTIVE,
    *,
    portal_holds_key: bool = False,
    registered: bool = True,
) -> bytes:
    """A new key pair for the user; returns its private half. The stand-in needs only the public
    half; with `portal_holds_key` the portal also keeps the private half, encrypted at rest, as
    it must to push or fetch as this user. With `registered` (the default) the key is also
    registered with the stand-in, as KOMBIT registers a system's key at onboarding."""
    pair = generate_key_pair("ed25519", comment=sftp_user.username)
    SftpKey.objects.create(
        sftp_user=sftp_user,
        algorithm=pair.algorithm,
        public_key=pair.public_openssh,
        fingerprint=pair.fingerprint,
        encrypted_private_key=(
            encrypt_private_key(pair.private_openssh)
            if portal_holds_key
            else b"not needed by the stand-in"
        ),
        state=state,
    )
    if registered:
        registered_key_add(
            endpoint=sftp_user.endpoint, username=sftp_user.username, public_key=pair.public_openssh
        )
    return pair.private_openssh


def make_world() -> World:
    """The registry of the stand-in's tests, on the local endpoint (module docstring)."""
    endpoint = factories.endpoint("lokal")
    kommune = factories.kommune(factories.KBH)
    sender_system = factories.sender_system("A")
    other_system = factories.sender_system("B")
    flis = factories.flis_system()
    lis_system = factories.lis_system(kommune)
    route = factories.route(
        endpoint=endpoint,
        data_area="personale",
        kommune=kommune,
        sender_system=sender_system,
        recipients=[flis, lis_system],
    )
    # Vendor A may deliver for København: the portal checks the agreement again at sending.
    assert sender_system.vendor is not None
    factories.agreement(sender_system.vendor, kommune)
    return World(
        endpoint=endpoint,
        area=route.data_area,
        kommune=kommune,
        route=route,
        sender=add_party(endpoint, sender_system, "LEV-A_FLIS_SFTP"),
        flis=add_party(endpoint, flis, "FLIS_HENT"),
        lis=add_party(endpoint, lis_system, "KBH_LIS"),
        other=add_party(endpoint, other_system, "LEV-B_SFTP"),
    )


def home(runner: StandinThread, party: Party) -> Path:
    """The party's home on the stand-in (created on first login, or here)."""
    return home_of(runner.standin.root, party.username)


def connect(
    runner: StandinThread | int, party: Party, key: bytes | None = None
) -> paramiko.SFTPClient:
    """A real paramiko SFTP session to the stand-in (or a port), checking the host key the
    stand-in pinned on its Endpoint."""
    port = runner if isinstance(runner, int) else runner.port
    transport = paramiko.Transport(("127.0.0.1", port))
    transport.start_client(timeout=10)
    pinned = Endpoint.objects.get(slug="lokal").host_key
    if not host_key_matches(pinned, transport.get_remote_server_key().asbytes()):
        transport.close()
        raise AssertionError("the stand-in's host key is not the one pinned on its endpoint")
    private = paramiko.Ed25519Key.from_private_key(_text_io(key or party.private_key))
    transport.auth_publickey(party.username, private)
    return paramiko.SFTPClient.from_transport(transport)


def _text_io(data: bytes) -> io.StringIO:
    return io.StringIO(data.decode())


def route_trigger(
    world: World,
    *,
    file_name: str,
    size: int,
    sender: str | None = None,
    senders_file_id: str | None = None,
    infref: str | None = None,
    sender_system: str | None = None,
    recipient_cvr: str | None = None,
    recipient_system: str | None = None,
    recipients: tuple[str, ...] = (protocol.ROUTING_RECIPIENT,),
) -> protocol.Trigger:
    authority = f"urn:oio:cvr-nr:{world.kommune.cvr}"
    return protocol.Trigger(
        descriptor=protocol.FileDescriptor(
            file_name=file_name,
            size_in_bytes=size,
            sender=sender or world.sender.username,
            senders_file_id=senders_file_id or str(uuid.uuid4()),
            recipients=recipients,
        ),
        routing=protocol.RoutingInfo(
            infref=infref or world.area.infref,
            sender_it_system=sender_system or world.sender.system.uuid,
            sender_authority=authority,
            transaction_id=str(uuid.uuid4()),
            sender_timestamp=datetime(2026, 11, 1, 1, 0, tzinfo=UTC),
            recipient_authority=f"urn:oio:cvr-nr:{recipient_cvr}" if recipient_cvr else authority,
            recipient_it_system=recipient_system,
        ),
    )


def upload(sftp: paramiko.SFTPClient, name: str, data: bytes) -> None:
    with sftp.open(f"OUT/{name}", "wb") as handle:
        handle.write(data)


def deliver(
    runner: StandinThread,
    sftp: paramiko.SFTPClient,
    trigger: protocol.Trigger | bytes,
    *,
    data: bytes | None,
    trigger_name: str | None = None,
) -> protocol.TechnicalReceipt:
    """Upload data file (if given) then trigger, wait for the stand-in, read the receipt."""
    if isinstance(trigger, protocol.Trigger):
        name = trigger.descriptor.file_name
        xml = protocol.build_trigger(trigger)
    else:
        name, xml = trigger_name or "raw.csv", trigger
    if data is not None:
        upload(sftp, name, data)
    upload(sftp, f"{trigger_name or name}.trigger", xml)
    runner.wait_idle()
    return read_receipt(sftp, trigger_name or name)


def read_receipt(sftp: paramiko.SFTPClient, name: str) -> protocol.TechnicalReceipt:
    with sftp.open(f"IN/{name}.sftpreceipt", "rb") as handle:
        xml = handle.read()
    assert protocol.schema_errors(xml) == []
    return protocol.parse_technical_receipt(xml)


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def assert_every_written_file_validates(root: Path) -> list[Path]:
    """Every .metadata and .sftpreceipt the stand-in wrote follows KOMBIT's schema."""
    # The stand-in writes only in IN/; OUT/ holds what senders uploaded (a refused data file
    # may carry such an ending, code 204).
    written = [
        p
        for p in root.rglob("*")
        if p.suffix in {".metadata", ".sftpreceipt"} and p.parent.name != protocol.OUTBOX
    ]
    for path in written:
        assert protocol.schema_errors(path.read_bytes()) == [], path
    return written
