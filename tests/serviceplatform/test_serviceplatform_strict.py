"""The stand-in is strict where KOMBIT is and lenient where the schema is (issue #14), over real
SFTP: a sender may set only times on its uploads and fill OUT/ only up to its quota; a trigger
with any value the schema accepts is distributed, and one that fails inside the stand-in is
still answered with the sender's SendersFileId and leaves nothing behind."""

from __future__ import annotations

import contextlib
import os

import pytest

from deliveries import protocol
from deliveries.serviceplatform import routing, server
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from deliveries.serviceplatform.server import StandinThread
from tests.helpers.standin import (
    World,
    assert_every_written_file_validates,
    connect,
    deliver,
    home,
    route_trigger,
    upload,
)

DATA = b"kommune;periode\n0101;202610\n"


def test_setstat_may_change_times_but_not_size_or_mode(
    standin: StandinThread, world: World
) -> None:
    # Rule: only times may be set; a size would grow a 1-byte upload to any size.
    with connect(standin, world.sender) as sftp:
        upload(sftp, "lille.csv", b"x")
        sftp.utime("OUT/lille.csv", (1_700_000_000, 1_700_000_000))
        with pytest.raises(PermissionError):
            sftp.truncate("OUT/lille.csv", 300 * 1024 * 1024)
        with pytest.raises(PermissionError):
            sftp.chmod("OUT/lille.csv", 0o777)
        with sftp.open("OUT/lille.csv", "r+") as handle, pytest.raises(PermissionError):
            handle.truncate(1024**4)
    local = home(standin, world.sender) / "OUT" / "lille.csv"
    assert local.stat().st_size == 1
    assert local.stat().st_mtime == 1_700_000_000


def test_out_has_a_quota_per_user(standin: StandinThread, world: World) -> None:
    # Rule: SERVICEPLATFORM_STANDIN_OUT_QUOTA_BYTES caps what one user keeps in OUT/, counted
    # by apparent size, so a write far past the end (a sparse file) counts in full.
    standin.standin.out_quota = 1000
    with connect(standin, world.sender) as sftp:
        upload(sftp, "a.csv", b"x" * 600)
        with pytest.raises(OSError, match="1000 bytes"):
            upload(sftp, "b.csv", b"x" * 600)
        with sftp.open("OUT/c.csv", "wb") as handle, pytest.raises(OSError, match="1000 bytes"):
            handle.seek(10**12)
            handle.write(b"x")
            handle.flush()
    sizes = {p.name: p.stat().st_size for p in (home(standin, world.sender) / "OUT").iterdir()}
    assert sum(sizes.values()) <= 1000


def test_unzoned_sender_timestamp_is_distributed_with_the_senders_text(
    standin: StandinThread, world: World
) -> None:
    # Rule: valid xs:dateTime is accepted (no 901), and the metadata repeats it as written.
    trigger = protocol.build_trigger(route_trigger(world, file_name="tid.csv", size=len(DATA)))
    trigger = trigger.replace(b"2026-11-01T01:00:00+00:00", b"2026-11-01T02:00:00.5")
    with connect(standin, world.sender) as sftp:
        receipt = deliver(standin, sftp, trigger, data=DATA, trigger_name="tid.csv")
        assert sftp.listdir("OUT") == []
    assert receipt.succeeded
    metadata = (home(standin, world.flis) / "IN" / "tid.csv.metadata").read_bytes()
    assert b"<SenderTimestamp>2026-11-01T02:00:00.5</SenderTimestamp>" in metadata
    assert list((standin.standin.root / routing.STAGING).iterdir()) == []
    assert assert_every_written_file_validates(standin.standin.root)


def test_an_internal_error_echoes_the_senders_file_id_and_cleans_up(
    standin: StandinThread, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rule: every error path answers with the sender's SendersFileId, consumes the trigger and
    # deletes the staged copy (failing after the copy was staged, before any row names it).
    def broken(metadata: protocol.FileMetadata) -> bytes:
        raise RuntimeError("metadata on fire")

    monkeypatch.setattr(protocol, "build_file_metadata", broken)
    trigger = route_trigger(world, file_name="fejl.csv", size=len(DATA), senders_file_id="id-901")
    with connect(standin, world.sender) as sftp:
        receipt = deliver(standin, sftp, trigger, data=DATA)
        out = sftp.listdir("OUT")
    assert [error.code for error in receipt.errors] == [901]
    assert receipt.senders_file_id == "id-901"
    assert out == ["fejl.csv"]
    assert list((standin.standin.root / routing.STAGING).iterdir()) == []
    decision = PlatformDecision.objects.get()
    assert (decision.outcome, decision.senders_file_id) == (PlatformOutcome.REFUSED, "id-901")
    assert list((home(standin, world.flis) / "IN").iterdir()) == []


def test_a_file_removed_while_out_is_measured_counts_as_nothing(tmp_path, monkeypatch):
    # Rule: measuring OUT/ for the quota never fails a write because the trigger thread removed
    # a distributed file between the listing and its size (seen as a FileNotFoundError in a
    # session writing beside one whose trigger was being distributed).
    out = tmp_path / "OUT"
    out.mkdir()
    (out / "distributed.csv").write_bytes(b"x" * 10)
    (out / "still-here.csv").write_bytes(b"y" * 5)
    real_scandir = os.scandir

    def listed_then_removed(path):
        with real_scandir(path) as listing:
            entries = list(listing)
        (out / "distributed.csv").unlink()
        return contextlib.nullcontext(entries)

    monkeypatch.setattr(server.os, "scandir", listed_then_removed)
    assert server._folder_bytes(os.fsencode(tmp_path), "OUT") == 5
