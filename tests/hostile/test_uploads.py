"""Hostile uploads through the upload page: a zip slip, zip bombs (honest and lying about their
size) and an oversized file. Each is refused with a message saying why, and nothing is stored:
no delivery row and no file left in storage or the upload temp folder.

The extraction rules themselves (nested archives, folders, several members, …) are pinned at
function level in tests/deliveries/test_zip.py.
"""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deliveries.models import Delivery
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


@pytest.fixture
def post_upload(client, vendor_a_user, upload_route, private_media, settings, tmp_path):
    client.force_login(vendor_a_user)
    temp = tmp_path / "upload-temp"
    temp.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(temp)

    def post(name: str, content: bytes):
        response = client.post(
            reverse("deliveries:upload"),
            {
                "it_system": upload_route.sender_system_id,
                "data_area": upload_route.data_area_id,
                "kommune": upload_route.kommune_id,
                "period": "2026-10",
                "environment": upload_route.endpoint_id,
                "file": SimpleUploadedFile(name, content, content_type="application/zip"),
            },
        )
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
