"""Helpers for the Hent side's tests: the portal holding the recipients' keys, files and
metadata placed straight into a recipient's IN/ on the stand-in, and one fetch round."""

from __future__ import annotations

import uuid
from pathlib import Path

from deliveries import protocol
from deliveries.hent import fetcher
from deliveries.serviceplatform.server import StandinThread
from routes.keys import encrypt_private_key
from routes.models import KeyState, SftpKey
from tests.helpers.standin import Party, World, home, route_trigger

CONTENT = b"kommunekode;periode\n101;202610\n" * 50
NAME = "LEV-A_PERSONALE_0101_202610_5d1c9e0a.csv"


def hold_private_keys(world: World) -> None:
    """The portal holds the parties' private keys, encrypted at rest as in production (the
    stand-in's world stores a placeholder: the stand-in needs only the public keys)."""
    for party in (world.flis, world.lis, world.sender):
        SftpKey.objects.filter(sftp_user=party.sftp_user, state=KeyState.ACTIVE).update(
            encrypted_private_key=encrypt_private_key(party.private_key)
        )


def place(runner: StandinThread, party: Party, name: str, data: bytes, metadata: bytes) -> Path:
    """Writes a data file and its metadata into the party's IN/, as the stand-in would have."""
    inbox = home(runner, party) / "IN"
    (inbox / name).write_bytes(data)
    (inbox / f"{name}{protocol.METADATA_SUFFIX}").write_bytes(metadata)
    return inbox


def metadata_for(
    world: World,
    name: str,
    size: int,
    *,
    file_transfer_uuid: str | None = None,
    **overrides: object,
) -> bytes:
    """The metadata file the stand-in writes beside a data file of the world's route (with
    `file_transfer_uuid`, the one a hostile or broken platform might write instead)."""
    trigger = route_trigger(world, file_name=name, size=size, **overrides)  # type: ignore[arg-type]
    return protocol.build_file_metadata(
        protocol.FileMetadata(
            file_transfer_uuid=file_transfer_uuid or str(uuid.uuid4()),
            descriptor=trigger.descriptor,
            routing=trigger.routing,
        )
    )


def fetch(party: Party) -> fetcher.FetchSummary:
    """One fetch round for the party, which must not fail as a whole."""
    summary = fetcher.receipts_fetch(sftp_user_id=party.sftp_user.pk)
    assert summary.error == ""
    return summary
