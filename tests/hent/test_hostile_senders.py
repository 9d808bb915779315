"""Issue #14: the Hent side survives any sender.

Any sender with a route to a recipient (vendors that never use this portal included) names its
own data file, and what its trigger says reaches the recipient's metadata file. Rules held here:

- one bad pair never stops a round: the good pairs behind it are fetched all the same;
- every value from the platform that becomes a name, a key or a column is checked first (a
  FileTransferUUID is a UUID; a name is reduced safely or replaced; a size fits its column);
- a pair that cannot be trusted is recorded once as a quarantined receipt with a Danish reason
  (shown in the inbox) and moved out of IN/ — except a name that is no plain file name, which is
  recorded and never touched (`IN/<name>` could lead outside IN/);
- no more is downloaded than SizeInBytes plus a small margin;
- a data file the sender called `<x>.metadata` is not taken for the platform's metadata of <x>.

Files and metadata are written into IN/ directly, as the platform would have; the fetcher
reaches them over real SFTP through the stand-in.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from deliveries import sftp
from deliveries.hent import fetcher as fetching
from deliveries.models import Receipt, ReceiptVerdict
from tests.helpers.fetching import CONTENT, NAME, fetch, metadata_for, place
from tests.helpers.standin import home

pytestmark = pytest.mark.usefixtures("private_media")


def inbox_names(standin, party) -> list[str]:
    return sorted(p.name for p in (home(standin, party) / "IN").iterdir())


@pytest.mark.parametrize("bad_name", ["+++", "$", "(!)"])
def test_a_name_nothing_can_be_derived_from_is_stored_as_fil(
    fetch_world, standin, private_media, bad_name
):
    # Rule: a name is reduced safely or replaced (get_valid_filename raises for these).
    world = fetch_world
    place(standin, world.flis, bad_name, CONTENT, metadata_for(world, bad_name, len(CONTENT)))
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))

    summary = fetch(world.flis)

    assert len(summary.recorded) == 2
    receipt = Receipt.objects.get(file_name=bad_name)
    assert receipt.verdict == ReceiptVerdict.OK
    assert receipt.file.name.endswith(f"/{receipt.filetransfer_uuid}_fil")
    assert (private_media / receipt.file.name).read_bytes() == CONTENT
    assert inbox_names(standin, world.flis) == []


@pytest.mark.parametrize(
    "claimed",
    ["../../../x", "a" * 300, "a" * 40, "{12345678-1234-1234-1234-123456789abc}"],
    ids=["path", "300-characters", "40-characters", "braces"],
)
def test_a_file_transfer_uuid_that_is_not_a_uuid_is_quarantined_under_a_derived_id(
    fetch_world, standin, private_media, claimed
):
    # Rule: a key is a UUID before it becomes a storage path or a varchar(36) column.
    world = fetch_world
    bad = "LEV-A_PERSONALE_0101_202610_baduuid0.csv"
    bad_metadata = metadata_for(world, bad, len(CONTENT), file_transfer_uuid=claimed)
    place(standin, world.flis, bad, CONTENT, bad_metadata)
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))

    fetch(world.flis)

    receipt = Receipt.objects.get(file_name=bad)
    assert receipt.verdict == ReceiptVerdict.MALFORMED_METADATA
    assert receipt.uuid_derived
    assert str(uuid.UUID(receipt.filetransfer_uuid)) == receipt.filetransfer_uuid
    assert "ikke et UUID" in receipt.verdict_detail
    assert receipt.file.name.startswith(f"receipts/quarantine/{world.flis.username}/")
    assert ".." not in receipt.file.name
    assert (private_media / receipt.file.name).read_bytes() == CONTENT
    assert Receipt.objects.get(file_name=NAME).verdict == ReceiptVerdict.OK
    assert inbox_names(standin, world.flis) == []

    # Fetched again (a crash before the removal): recognised by its derived id, not recorded
    # a second time.
    place(standin, world.flis, bad, CONTENT, bad_metadata)
    summary = fetch(world.flis)
    assert summary.already_recorded == [receipt.filetransfer_uuid]
    assert Receipt.objects.count() == 2


def test_an_unforeseen_fault_in_one_pair_does_not_stop_the_round(fetch_world, standin, monkeypatch):
    # Rule: one bad pair never stops a round (before, only SftpError was caught per pair).
    world = fetch_world
    first = "LEV-A_PERSONALE_0101_202610_00000000.csv"
    place(standin, world.flis, first, CONTENT, metadata_for(world, first, len(CONTENT)))
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))
    check = fetching._check

    def breaks_on_first(raw, *, sftp_user, data_name):
        if data_name == first:
            raise ValueError("something no check foresaw")
        return check(raw, sftp_user=sftp_user, data_name=data_name)

    monkeypatch.setattr(fetching, "_check", breaks_on_first)
    summary = fetch(world.flis)

    assert [r.file_name for r in Receipt.objects.all()] == [NAME]
    assert summary.skipped == [first]
    # Left in IN/ for the next round.
    assert inbox_names(standin, world.flis) == [first, f"{first}.metadata"]


def test_a_data_file_larger_than_its_size_in_bytes_is_refused_unread(
    fetch_world, standin, private_media, monkeypatch
):
    # Rule: no more is downloaded than SizeInBytes plus a small margin.
    world = fetch_world
    big = CONTENT * 2 + b"x" * fetching.DOWNLOAD_MARGIN
    place(standin, world.flis, NAME, big, metadata_for(world, NAME, len(CONTENT)))
    downloads = []
    download = sftp.SftpConnection.download

    def counted(self, remote_path, target, **kwargs):
        downloads.append(remote_path)
        return download(self, remote_path, target, **kwargs)

    monkeypatch.setattr(sftp.SftpConnection, "download", counted)
    fetch(world.flis)

    receipt = Receipt.objects.get()
    assert receipt.verdict == ReceiptVerdict.SIZE_MISMATCH
    assert "hverken hentet eller gemt" in receipt.verdict_detail
    assert (receipt.size, receipt.declared_size) == (len(big), len(CONTENT))
    assert not receipt.file
    assert downloads == [f"IN/{NAME}.metadata"]  # the data file was never read
    assert not any(p.is_file() for p in private_media.rglob("*"))
    assert inbox_names(standin, world.flis) == []


def test_a_data_file_that_grows_after_its_size_was_read_is_cut_off(
    fetch_world, standin, private_media, monkeypatch
):
    # Rule: the download itself stops at the limit (a file may grow between stat and read).
    world = fetch_world
    big = CONTENT * 2 + b"x" * fetching.DOWNLOAD_MARGIN
    place(standin, world.flis, NAME, big, metadata_for(world, NAME, len(CONTENT)))
    remote_size = sftp.SftpConnection.remote_size

    def as_it_was(self, remote_path):
        return len(CONTENT) if remote_path == f"IN/{NAME}" else remote_size(self, remote_path)

    monkeypatch.setattr(sftp.SftpConnection, "remote_size", as_it_was)
    fetch(world.flis)

    receipt = Receipt.objects.get()
    assert receipt.verdict == ReceiptVerdict.SIZE_MISMATCH
    assert "hverken hentet eller gemt" in receipt.verdict_detail
    assert receipt.size > len(CONTENT) + fetching.DOWNLOAD_MARGIN
    assert not receipt.file
    assert not any(p.is_file() for p in private_media.rglob("*"))


def test_a_size_in_bytes_too_large_for_its_column_is_quarantined(
    fetch_world, standin, private_media
):
    # Rule: a value becomes a column only once it fits (SizeInBytes is an xs:unsignedLong, the
    # column a signed 64-bit integer).
    world = fetch_world
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, 2**64 - 1))
    place(standin, world.flis, "b.csv", CONTENT, metadata_for(world, "b.csv", len(CONTENT)))

    fetch(world.flis)

    receipt = Receipt.objects.get(file_name=NAME)
    assert receipt.verdict == ReceiptVerdict.MALFORMED_METADATA
    assert "SizeInBytes" in receipt.verdict_detail
    assert receipt.declared_size is None
    assert (private_media / receipt.file.name).read_bytes() == CONTENT
    assert Receipt.objects.get(file_name="b.csv").verdict == ReceiptVerdict.OK


def test_a_data_file_named_like_metadata_is_fetched_as_data(fetch_world, standin, private_media):
    # Rule: `<x>.metadata` beside its own `<x>.metadata.metadata` is a data file, not the
    # platform's metadata of <x>.
    world = fetch_world
    data_name = f"{NAME}.metadata"
    place(standin, world.flis, data_name, CONTENT, metadata_for(world, data_name, len(CONTENT)))

    summary = fetch(world.flis)

    receipt = Receipt.objects.get()
    assert summary.recorded == [receipt.filetransfer_uuid]
    assert (receipt.file_name, receipt.verdict) == (data_name, ReceiptVerdict.OK)
    assert (private_media / receipt.file.name).read_bytes() == CONTENT
    assert inbox_names(standin, world.flis) == []


def test_a_data_file_named_like_metadata_waits_for_its_own_metadata(fetch_world, standin):
    # Rule: the same, while the platform has written the data file but not yet its metadata:
    # the file is left alone, not recorded as unreadable metadata of <x> and removed.
    world = fetch_world
    inbox = home(standin, world.flis) / "IN"
    (inbox / f"{NAME}.metadata").write_bytes(CONTENT)
    # Written just now by the test's clock, not the kernel's (the grace period reads its age).
    now = time.time()
    os.utime(inbox / f"{NAME}.metadata", (now, now))

    summary = fetch(world.flis)

    assert not Receipt.objects.exists()
    assert summary.skipped == [NAME]
    assert inbox_names(standin, world.flis) == [f"{NAME}.metadata"]


def test_a_lone_metadata_named_file_is_recorded_once_it_has_waited_long_enough(
    fetch_world, standin
):
    # Rule: a pair is not retried for ever: after the grace period the lone file is recorded as
    # unreadable metadata (with its data file missing) and removed.
    world = fetch_world
    lone = home(standin, world.flis) / "IN" / f"{NAME}.metadata"
    lone.write_bytes(CONTENT)
    long_ago = time.time() - fetching.ORPHAN_GRACE_SECONDS - 60
    os.utime(lone, (long_ago, long_ago))

    fetch(world.flis)

    receipt = Receipt.objects.get()
    assert (receipt.file_name, receipt.verdict) == (NAME, ReceiptVerdict.MALFORMED_METADATA)
    assert "mangler" in receipt.verdict_detail
    assert inbox_names(standin, world.flis) == []


@pytest.mark.parametrize("bad_name", ["a\\..\\b.csv", "line\nbreak.csv", "tab\there.csv"])
def test_a_name_that_is_no_plain_file_name_is_recorded_once_and_never_touched(
    fetch_world, standin, bad_name
):
    # Rule: a name that could lead outside IN/ (or cannot be stored) is recorded as a problem,
    # and neither opened nor removed; the round goes on.
    world = fetch_world
    place(standin, world.flis, bad_name, CONTENT, metadata_for(world, "x.csv", len(CONTENT)))
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))

    fetch(world.flis)

    receipt = Receipt.objects.exclude(file_name=NAME).get()
    assert receipt.verdict == ReceiptVerdict.MALFORMED_METADATA
    assert "ikke et almindeligt filnavn" in receipt.verdict_detail
    assert "\n" not in receipt.file_name and "\t" not in receipt.file_name
    assert not receipt.file
    assert Receipt.objects.get(file_name=NAME).verdict == ReceiptVerdict.OK
    assert inbox_names(standin, world.flis) == sorted([bad_name, f"{bad_name}.metadata"])

    summary = fetch(world.flis)
    assert (summary.recorded, summary.already_recorded) == ([], [])
    assert Receipt.objects.count() == 2


def test_a_nul_in_a_metadata_file_is_not_stored(fetch_world, standin):
    # Rule: a value becomes a column only once it can be stored (PostgreSQL refuses NUL in
    # text; the unreadable file is kept as text with the NUL replaced).
    world = fetch_world
    place(standin, world.flis, "a.csv", CONTENT, b"<FileMetadata>\x00</FileMetadata>")
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))

    fetch(world.flis)

    receipt = Receipt.objects.get(file_name="a.csv")
    assert receipt.verdict == ReceiptVerdict.MALFORMED_METADATA
    assert receipt.metadata_xml == "<FileMetadata>\ufffd</FileMetadata>"
    assert Receipt.objects.get(file_name=NAME).verdict == ReceiptVerdict.OK
