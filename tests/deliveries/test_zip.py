"""Zip uploads: exactly one .csv, no folders, no nested archives, no zip bombs (by declared
sizes and by the bytes actually decompressed)."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from pathlib import Path

import pytest

from deliveries.uploads import UploadRefused, extract_single_csv


def make_zip(tmp_path: Path, members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> Path:
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def extract(path: Path, *, max_bytes: int = 10**9, max_ratio: int = 200):
    return extract_single_csv(path, original_name="u.zip", max_bytes=max_bytes, max_ratio=max_ratio)


def test_one_csv_is_extracted_with_its_checksum(tmp_path):
    incoming = extract(make_zip(tmp_path, {"data.csv": b"a;b\n1;2\n"}))
    # A new temp file, not the zip: intake takes it over and moves or deletes it.
    assert incoming.path != tmp_path / "upload.zip"
    assert incoming.path.read_bytes() == b"a;b\n1;2\n"
    assert incoming.size == 8
    assert incoming.sha256 == hashlib.sha256(b"a;b\n1;2\n").hexdigest()
    assert incoming.original_name == "u.zip"
    incoming.path.unlink()


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({"a.csv": b"x", "b.csv": b"y"}, "præcis én .csv-fil"),
        ({"mappe/data.csv": b"x"}, "mapper eller stier"),
        ({"../data.csv": b"x"}, "mapper eller stier"),
        ({"inner.zip": b"PK"}, "andet arkiv"),
        ({"data.txt": b"x"}, "ikke en .csv-fil"),
        ({"data.csv": b""}, "tom"),
    ],
)
def test_refused_archives(tmp_path, members, expected):
    with pytest.raises(UploadRefused) as refused:
        extract(make_zip(tmp_path, members))
    assert expected in refused.value.message


def test_an_empty_archive_is_refused(tmp_path):
    with pytest.raises(UploadRefused, match="0 elementer"):
        extract(make_zip(tmp_path, {}))


def test_zip_bomb_is_refused_on_declared_ratio(tmp_path):
    path = make_zip(tmp_path, {"data.csv": b"0" * 5_000_000})  # compresses ~1000×
    with pytest.raises(UploadRefused, match="zip-bomber"):
        extract(path, max_ratio=100)


def test_zip_bomb_that_lies_about_its_size_is_stopped_while_decompressing(tmp_path):
    path = make_zip(tmp_path, {"data.csv": b"0" * 5_000_000})
    # Rewrite the declared uncompressed size (local header and central directory) to a
    # harmless-looking 10 KB, so the declared ratio passes. The extraction must still refuse
    # it (the real bytes do not match what was declared) and leave no partial file behind.
    data = bytearray(path.read_bytes())
    real = struct.pack("<I", 5_000_000)
    fake = struct.pack("<I", 10_000)
    assert data.count(real) == 2
    path.write_bytes(bytes(data).replace(real, fake))
    with pytest.raises(UploadRefused) as refused:
        extract(path, max_ratio=100)
    assert "zip-bomber" in refused.value.message or "beskadiget" in refused.value.message
    assert not list(Path(tmp_path).glob("*.csv"))


def test_declared_size_over_the_limit(tmp_path):
    path = make_zip(tmp_path, {"data.csv": b"a;b\n" * 1000}, method=zipfile.ZIP_STORED)
    with pytest.raises(UploadRefused, match="for stor"):
        extract(path, max_bytes=100)


def test_not_a_zip(tmp_path):
    path = tmp_path / "upload.zip"
    path.write_bytes(io.BytesIO(b"this is not a zip").getvalue())
    with pytest.raises(UploadRefused, match="beskadiget"):
        extract(path)


# Rule: the central directory is counted and bounded from its end record before `zipfile` reads
# it into memory (a million entries cost ~360 MB before the "exactly one member" check).
def _with_end_record(path: Path, *, entries: int) -> Path:
    """The zip with its end record claiming `entries` entries (a liar, or a harmless zip)."""
    data = bytearray(path.read_bytes())
    at = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, at + 8, entries, entries)
    path.write_bytes(bytes(data))
    return path


def test_several_entries_are_refused_from_the_end_record(tmp_path, monkeypatch):
    path = make_zip(tmp_path, {f"{n}.csv": b"x" for n in range(3)})
    with pytest.raises(UploadRefused, match="indeholder 3 elementer"):
        _refuse_before_zipfile(path, monkeypatch)


def _refuse_before_zipfile(path: Path, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("zipfile was handed a zip that the end record already refuses")

    monkeypatch.setattr(zipfile, "ZipFile", refuse)
    extract(path)


def test_a_big_directory_behind_an_end_record_claiming_one_entry_is_refused(tmp_path, monkeypatch):
    path = _with_end_record(
        make_zip(tmp_path, {f"{n:05}.csv": b"x" for n in range(6000)}), entries=1
    )
    with pytest.raises(UploadRefused, match="indholdsfortegnelse er for stor"):
        _refuse_before_zipfile(path, monkeypatch)


def test_a_zip64_end_record_with_a_million_entries_is_refused(tmp_path, monkeypatch):
    # Only the records: a zip64 end record, its locator, and the plain end record saying
    # "see zip64" (0xFFFF entries, 0xFFFFFFFF bytes).
    zip64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 10**6, 10**6, 46 * 10**6, 0)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, 0, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path = tmp_path / "upload.zip"
    path.write_bytes(zip64 + locator + end)
    with pytest.raises(UploadRefused, match="1000000 elementer"):
        _refuse_before_zipfile(path, monkeypatch)


def test_a_zip64_zip_with_one_csv_is_still_taken(tmp_path):
    path = tmp_path / "upload.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("data.csv", "w", force_zip64=True) as member:
            member.write(b"a;b\n1;2\n")
    incoming = extract(path)
    assert incoming.path.read_bytes() == b"a;b\n1;2\n"
    incoming.path.unlink()


# Rule: a member in a compression method zipfile cannot unpack (9 = Deflate64) is refused in
# Danish before anything is unpacked, and no temp file is left.
def test_an_unsupported_compression_method_is_refused(tmp_path, settings):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "temp")
    (tmp_path / "temp").mkdir()
    path = make_zip(tmp_path, {"data.csv": b"a;b\n"}, method=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, data.find(b"PK\x03\x04") + 8, 9)
    struct.pack_into("<H", data, data.find(b"PK\x01\x02") + 10, 9)
    path.write_bytes(bytes(data))
    with pytest.raises(UploadRefused, match=r"komprimeringsmetode.*metode 9"):
        extract(path)
    assert not list((tmp_path / "temp").iterdir())
