"""The same file uploaded twice at the same moment: the same-file rule (a repeat of the same
bytes for a route and period needs a confirmed redelivery) holds under concurrency, so only one
of two simultaneous uploads becomes a delivery and only one is queued for validation and push.

Two real requests through the upload page, each in its own thread with its own database
connection, in a transactional test (the rows must really be committed for the other request
to see them). Both pass the early check before either has stored anything: a barrier in storage
holds each request there until the other has arrived too.
"""

from __future__ import annotations

import threading

import django_rq
import pytest
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from deliveries.models import Delivery
from flisportal.lib.queues import VALIDATION
from tests.factories import dagtilbud_csv

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _post(client: Client, route, content: bytes, results: list, index: int) -> None:
    try:
        results[index] = client.post(
            reverse("deliveries:upload"),
            {
                "route": route.pk,
                "period": "2026-10",
                "file": SimpleUploadedFile("udtraek.csv", content, content_type="text/csv"),
            },
        )
    except BaseException as error:  # reported by the test, not lost in the thread
        results[index] = error
    finally:
        connection.close()  # this thread's own connection


def test_two_simultaneous_uploads_of_the_same_file_become_one_delivery(
    vendor_a_user, upload_route, private_media, clean_redis, monkeypatch
):
    both_checked = threading.Barrier(2, timeout=20)
    save = FileSystemStorage.save

    def save_when_both_have_passed_the_check(self, name, content, max_length=None):
        both_checked.wait()
        return save(self, name, content, max_length)

    monkeypatch.setattr(FileSystemStorage, "save", save_when_both_have_passed_the_check)
    content = dagtilbud_csv(rows_ok=3).encode()
    results: list = [None, None]
    threads = []
    for index in range(2):
        client = Client()
        client.force_login(vendor_a_user)
        threads.append(
            threading.Thread(target=_post, args=(client, upload_route, content, results, index))
        )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(r.status_code for r in results) == [302, 400]
    refused = next(r for r in results if r.status_code == 400)
    assert "præcis den samme fil blev uploadet" in refused.content.decode()
    assert Delivery.objects.count() == 1
    assert django_rq.get_queue(VALIDATION).count == 1
    # The refused request's stored copy was removed again: one file, the delivery's.
    stored = [p for p in private_media.rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [Delivery.objects.get().file.name.rsplit("/", 1)[-1]]
