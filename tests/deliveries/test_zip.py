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
