"""Stored files are read from an S3-compatible object store in pieces, never whole in memory:
django-storages' own file object downloads a whole object into memory on its first read
(flisportal/lib/storage.py says why). The store is moto's server on a loopback port
(tests/fixtures/objectstore.py), behind django-storages' S3Storage as in production.

Memory is measured with tracemalloc while the response is consumed block by block: an extract
held whole would show up as a peak at least its own size.
"""

from __future__ import annotations

import hashlib
import tracemalloc
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse
from django.test import Client
from django.urls import reverse

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Receipt, ReceiptVerdict
from deliveries.services.validate import local_path
from flisportal.lib.storage import ObjectStream, open_stored
from routes.models import DataArea, Endpoint, SftpUser
from tests import factories
from tests.helpers.api import token_for

pytestmark = pytest.mark.django_db

# Many times larger than any block the portal reads (64 KiB to 1 MiB): a streamed read
# takes many, and holds at most a few blocks at once.
SIZE = 8 * 1024 * 1024


def extract(size: int = SIZE) -> bytes:
    """`size` bytes of an extract-like file that no two blocks of share, so a block sent twice
    or left out changes the checksum."""
    header = b"kommunekode;periode;linje\n"
    lines = (b"101;202610;%09d\n" % n for n in range(size // 20 + 1))
    return (header + b"".join(lines))[:size]


def consume(blocks: Iterable[bytes]) -> tuple[str, int]:
    """Reads a streamed body block by block, as a WSGI server does: (SHA-256, number of
    blocks)."""
    digest = hashlib.sha256()
    count = 0
    for block in blocks:
        digest.update(block)
        count += 1
    return digest.hexdigest(), count


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The peak of Python memory allocated in the block (by every thread), in a list that is
    filled when the block ends."""
    peak: list[int] = []
    tracemalloc.start()
    try:
        yield peak
        peak.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def download_measured(
    client: Client, url: str, content: bytes, headers: dict[str, str] | None = None
) -> FileResponse:
    """GETs `url` and reads the response to its end, as a WSGI server would, while memory is
    measured: the whole download (the storage opening the object included) must hold well
    under the file's size, and deliver it unchanged in more than one block."""
    with peak_memory() as peak:
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        digest, blocks = consume(response.streaming_content)  # type: ignore[attr-defined]
    assert isinstance(response, FileResponse) and response.streaming
    assert int(response["Content-Length"]) == len(content)
    assert digest == hashlib.sha256(content).hexdigest()
    assert blocks > 1
    assert peak[0] < len(content) // 2, f"{peak[0]} bytes held while streaming {len(content)}"
    return response


def test_delivery_download_streams_from_the_object_store(
    s3_storage, client, upload_route, vendor_a_user
):
    content = extract()
    name = default_storage.save("deliveries/2026/10/udtraek.csv", ContentFile(content))
    delivery = factories.delivery(
        upload_route, status=DeliveryStatus.VALID, content=content, file=name
    )
    default_storage.exists(name)  # boto3's client is made once, before memory is measured
    client.force_login(vendor_a_user)

    response = download_measured(
        client, reverse("deliveries:download", args=[delivery.uuid]), content
    )
    assert "udtraek.csv" in response["Content-Disposition"]


def test_api_delivery_file_streams_from_the_object_store(
    s3_storage, client, upload_route, vendor_a_user
):
    # The API's file endpoint reads the store as the page's download does.
    content = extract()
    name = default_storage.save("deliveries/2026/10/api.csv", ContentFile(content))
    delivery = factories.delivery(
        upload_route, status=DeliveryStatus.VALID, content=content, file=name
    )
    default_storage.exists(name)
    token = token_for(vendor_a_user)

    download_measured(
        client,
        reverse("api:delivery_file", args=[delivery.uuid]),
        content,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_receipt_download_streams_from_the_object_store(
    s3_storage, client, flis_system, consultant_user, kommune_kbh
):
    content = extract()
    key = str(uuid.uuid4())
    name = default_storage.save(f"receipts/test/{key}.csv", ContentFile(content))
    receipt = Receipt.objects.create(
        filetransfer_uuid=key,
        recipient_sftp_user=SftpUser.objects.create(
            it_system=flis_system, endpoint=Endpoint.objects.get(slug="lokal"), username="FLIS"
        ),
        recipient_system=flis_system,
        file_name="LEV_DAGTILBUD_0101_202610_abc.csv",
        declared_size=len(content),
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        sender="LEV-A_FLIS_SFTP",
        data_area=DataArea.objects.get(code="dagtilbud"),
        kommune=kommune_kbh,
        period="2026-10",
        verdict=ReceiptVerdict.OK,
        file=name,
    )
    default_storage.exists(name)
    client.force_login(consultant_user)

    download_measured(client, reverse("deliveries:receipt_download", args=[receipt.uuid]), content)


def test_push_and_validation_read_the_object_in_pieces(s3_storage, tmp_path, monkeypatch):
    """The push sends what `open_stored` reads, the validator copies it to a local file with
    it (polars reads from a path): both read in pieces, and the copy is removed afterwards."""
    content = extract()
    name = default_storage.save("deliveries/2026/10/stor.csv", ContentFile(content))
    default_storage.exists(name)

    with peak_memory() as peak, open_stored(name) as stream:
        assert isinstance(stream, ObjectStream) and stream.size == len(content)
        digest, blocks = consume(iter(lambda: stream.read(64 * 1024), b""))
    assert (digest, blocks) == (hashlib.sha256(content).hexdigest(), SIZE // (64 * 1024))
    assert peak[0] < len(content) // 2

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with peak_memory() as peak, local_path(name) as path, path.open("rb") as copy:
        copied, _ = consume(iter(lambda: copy.read(64 * 1024), b""))
    assert peak[0] < len(content) // 2
    assert copied == hashlib.sha256(content).hexdigest()
    assert list(tmp_path.iterdir()) == [], "the validator's copy was left behind"


def test_a_missing_object_is_file_not_found(s3_storage):
    # The views and the push turn FileNotFoundError into their own messages (404, a permanent
    # push error); another error type from the store would be a 500 or a retry instead.
    with pytest.raises(FileNotFoundError):
        open_stored("deliveries/2026/10/findes-ikke.csv")


def test_a_part_of_an_object_is_read_from_its_offset_in_pieces(s3_storage):
    """A push over several connections opens each part at its offset: the store sends only
    that part's bytes (a ranged GET), still read in pieces."""
    content = extract()
    name = default_storage.save("deliveries/2026/10/dele.csv", ContentFile(content))
    start = 3 * 1024 * 1024 + 17

    with peak_memory() as peak, open_stored(name, start=start) as stream:
        assert isinstance(stream, ObjectStream) and stream.size == len(content) - start
        digest, _ = consume(iter(lambda: stream.read(64 * 1024), b""))
    assert digest == hashlib.sha256(content[start:]).hexdigest()
    assert peak[0] < len(content) // 2


def test_a_part_of_a_file_on_disk_is_read_from_its_offset(tmp_path):
    storage = FileSystemStorage(location=tmp_path)
    name = storage.save("dele.csv", ContentFile(b"0123456789"))
    with open_stored(name, storage, start=4) as stream:
        assert stream.read() == b"456789"
