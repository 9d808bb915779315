"""No code assumes a local path for stored files: the whole pipeline (upload → validate → push
→ receipt, distributed to both recipients → fetched by both) runs with Django's InMemoryStorage
as the default storage, as it would with an S3-compatible object store (django-storages) where
web processes and workers run on different machines.

InMemoryStorage lives in one process, so the jobs run in this process here (the worker tests
run them in real worker processes on disk storage). Where a library needs a real file (polars
reads from a path; the fetcher spools a download before it knows the storage folder), a
temporary file is made and removed again: the temp folder is empty at the end.
"""

from __future__ import annotations

import tempfile

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deliveries import jobs
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, Receipt, ReceiptVerdict
from tests.factories import dagtilbud_csv
from tests.helpers.fetching import hold_private_keys
from tests.helpers.standin import home

pytestmark = pytest.mark.redis


@pytest.fixture
def memory_storage(settings, tmp_path, monkeypatch):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    # Every temporary file of this test (upload spooling, validation copies) lands here, so
    # the test can see that nothing is left behind; MEDIA_ROOT points at an empty folder that
    # must stay empty.
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    settings.FILE_UPLOAD_TEMP_DIR = str(temp)
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = str(media)
    return temp, media


def test_pipeline_runs_on_in_memory_storage(
    world, standin, push_route, sender_key, uploader, clean_redis, memory_storage, client,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    temp, media = memory_storage
    # Really no local file behind this storage (its path() names a file that never exists).
    assert not isinstance(default_storage, FileSystemStorage)
    content = dagtilbud_csv(rows_ok=40).encode()
    client.force_login(uploader)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            reverse("deliveries:upload"),
            {
                "route": push_route.pk,
                "period": "2026-10",
                "file": SimpleUploadedFile("udtraek.csv", content, content_type="text/csv"),
            },
        )
    assert response.status_code == 302
    delivery = Delivery.objects.get()
    with default_storage.open(delivery.file.name, "rb") as stored:
        assert stored.read() == content

    with django_capture_on_commit_callbacks(execute=False):
        assert jobs.validate_delivery(delivery.pk) == DeliveryStatus.VALID
    with django_capture_on_commit_callbacks(execute=False):
        assert jobs.push_delivery(delivery.pk) == DeliveryStatus.SENT
    standin.wait_idle()
    assert jobs.collect_receipts()["distributed"] == 1

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DISTRIBUTED
    for party in (world.flis, world.lis):
        assert (home(standin, party) / "IN" / delivery.wire_name).read_bytes() == content
    download = client.get(reverse("deliveries:download", args=[delivery.uuid]))
    assert b"".join(download.streaming_content) == content

    # The Hent side: both recipients fetch; the fetched files go to the same storage.
    hold_private_keys(world)
    for party in (world.flis, world.lis):
        fetched = jobs.fetch_receipts(party.sftp_user.pk)
        assert (fetched["error"], len(fetched["recorded"])) == ("", 1)
        assert list((home(standin, party) / "IN").iterdir()) == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FETCHED
    assert [(e.old_status, e.new_status) for e in delivery.events.filter(new_status="fetched")] == [
        ("distributed", "fetched")
    ]
    receipts = Receipt.objects.filter(delivery=delivery)
    assert sorted(r.recipient_system_id for r in receipts) == [
        world.flis.system.pk,
        world.lis.system.pk,
    ]
    for receipt in receipts:
        assert receipt.verdict == ReceiptVerdict.OK
        with default_storage.open(receipt.file.name, "rb") as stored:
            assert stored.read() == content
    assert not list(media.rglob("*")), "something was written to local media storage"
    assert not list(temp.iterdir()), "a temporary file was left behind"
