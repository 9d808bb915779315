"""Hostile uploads through the upload page: a zip slip, zip bombs (honest and lying about their
size), a compression method we cannot unpack, an oversized file, several file parts or an
unknown one, and a request from an account that may not upload at all. Each is refused with a
message saying why, and nothing is stored: no delivery row and no file left in storage or the
upload temp folder.

The extraction rules themselves (nested archives, folders, several members, …) are pinned at
function level in tests/deliveries/test_zip.py.
"""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from deliveries.models import Delivery
from deliveries.uploads import HashingUploadHandler
from tests.factories import dagtilbud_csv

pytestmark = pytest.mark.django_db


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def lying_bomb() -> bytes:
    """5 MB of zeros whose headers claim 10 KB, so only the bytes decompressed can tell."""
    data = zipped({"data.csv": b"0" * 5_000_000})
    real, fake = struct.pack("<I", 5_000_000), struct.pack("<I", 10_000)
    assert data.count(real) == 2
    return data.replace(real, fake)


def with_method(method: int) -> bytes:
    """A stored zip whose one member claims another compression method (9 = Deflate64,
    99 = AES), in its local header and in the central directory."""
    data = bytearray(zipped_stored({"data.csv": b"a;b\n1;2\n"}))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, local + 8, method)
    struct.pack_into("<H", data, central + 10, method)
    return bytes(data)


def zipped_stored(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def post_upload(client, vendor_a_user, upload_route, private_media, settings, tmp_path):
    client.force_login(vendor_a_user)
    temp = tmp_path / "upload-temp"
    temp.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(temp)

    def post(name: str, content: bytes, *, files: dict | None = None):
        data = {
            "route": upload_route.pk,
            "period": "2026-10",
        }
        if files is None:
            files = {"file": SimpleUploadedFile(name, content, content_type="application/zip")}
        response = client.post(reverse("deliveries:upload"), {**data, **files})
        assert not Delivery.objects.exists()
        assert not [p for p in private_media.rglob("*") if p.is_file()]
        assert not list(temp.iterdir()), "a temp file was left behind"
        return response

    return post


CASES = {
    "zip-slip": (lambda: zipped({"../../../etc/cron.d/x.csv": b"a;b\n"}), "mapper eller stier"),
    "zip-slip-absolute": (lambda: zipped({"/tmp/x.csv": b"a;b\n"}), "mapper eller stier"),
    "zip-bomb": (lambda: zipped({"data.csv": b"0" * 5_000_000}), "zip-bomber"),
    "zip-bomb-lying-about-its-size": (lying_bomb, "zip-bomb"),
    # zipfile cannot unpack these: a clear refusal, not a 500 with a temp file left behind.
    "deflate64": (lambda: with_method(9), "komprimeringsmetode"),
    "aes-without-the-encryption-flag": (lambda: with_method(99), "komprimeringsmetode"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_archive_is_refused_and_nothing_is_kept(post_upload, settings, case):
    settings.ZIP_MAX_RATIO = 100
    make, expected = CASES[case]
    response = post_upload("udtraek.zip", make())
    assert response.status_code == 400
    body = response.content.decode()
    assert expected in body or (case.endswith("size") and "beskadiget" in body)


def test_oversized_upload_is_refused_while_streaming(post_upload, settings):
    # The limit is lowered for the test; the default is KOMBIT's 2 GB.
    settings.MAX_UPLOAD_BYTES = 10_000
    response = post_upload("udtraek.csv", dagtilbud_csv(rows_ok=200).encode())
    assert response.status_code == 400
    assert "Filen er for stor" in response.content.decode()


def _csv_part(size: int, name: str = "udtraek.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"x" * size, content_type="text/csv")


# Rule: one running size total per request and one file part in the known field; otherwise a
# request writes many parts of up to the limit each to disk.
@pytest.mark.parametrize(
    "files",
    [
        pytest.param(lambda: {"file": [_csv_part(600), _csv_part(600)]}, id="two-file-parts"),
        pytest.param(lambda: {"file": _csv_part(600), "bilag": _csv_part(600)}, id="extra-part"),
        pytest.param(lambda: {"bilag": _csv_part(600)}, id="unknown-field-only"),
    ],
)
def test_only_one_file_part_in_the_known_field_is_stored(post_upload, settings, files):
    settings.MAX_UPLOAD_BYTES = 1000
    response = post_upload("", b"", files=files())
    assert response.status_code == 400
    assert "Upload præcis én fil ad gangen" in response.content.decode()


# Rule: who may upload is decided before the body is read, so an account without an uploading
# role cannot make the portal write its request to disk (CSRF is checked only after the body).
def test_an_account_without_an_uploading_role_is_refused_before_its_body_is_read(
    consultant_user, upload_route, monkeypatch
):
    started = []
    monkeypatch.setattr(HashingUploadHandler, "new_file", lambda self, *a, **k: started.append(a))
    client = Client(enforce_csrf_checks=True)  # as a browser: CSRF middleware reads the body
    client.force_login(consultant_user)
    response = client.post(reverse("deliveries:upload"), {"file": _csv_part(5000)})
    assert response.status_code == 404
    assert started == []
    assert not Delivery.objects.exists()
