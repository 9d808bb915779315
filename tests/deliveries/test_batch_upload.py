"""Samlet upload's pages: many files staged at once with a preview, each confirmed file a
delivery of its own through intake, limits, zips, and the batch kept to its uploader."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import django_rq
import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import StopUpload
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from deliveries import jobs
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, UploadBatch, UploadBatchFile
from deliveries.services import BATCH_SEND_JOB
from deliveries.services import batch as batch_services
from deliveries.services.batch import staged_path
from deliveries.services.retention import retention_run
from deliveries.uploads import BATCH_FIELD, BatchUploadHandler
from flisportal.audit.models import AuditEntry
from flisportal.lib.periods import period_compact, period_of, period_shift
from routes.models import AgreementStatus, ProcessingAgreement
from tests import factories
from tests.factories import extract_csv

pytestmark = pytest.mark.django_db
URL = reverse("deliveries:batch_upload")


def csv_file(name: str, content: str | bytes) -> SimpleUploadedFile:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return SimpleUploadedFile(name, data, content_type="text/csv")


def zip_file(name: str, members: dict[str, bytes], **kwargs) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data, **kwargs)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/zip")


@pytest.fixture
def routes(upload_route, system_a, vendor_a, flis_system):
    """Vendor A delivers Dagtilbud and Skole for København and Dagtilbud for Aarhus, all with a
    signed databehandleraftale; no Skole route for Aarhus."""
    aarhus = factories.kommune(factories.AARHUS)
    factories.agreement(vendor_a, aarhus)
    return {
        "kbh_dagtilbud": upload_route,
        "kbh_skole": factories.route(
            sender_system=system_a, data_area="skole", recipients=[flis_system]
        ),
        "aarhus_dagtilbud": factories.route(
            sender_system=system_a, kommune=aarhus, data_area="dagtilbud", recipients=[flis_system]
        ),
    }


@pytest.fixture
def vendor_client(client, vendor_a_user, routes, private_media):
    client.force_login(vendor_a_user)
    return client


def upload(client, *files, **headers):
    return client.post(URL, {"files": list(files)}, headers=headers)


def good_files() -> list[SimpleUploadedFile]:
    return [
        csv_file("dagtilbud-101.csv", extract_csv("dagtilbud")),
        csv_file("skole-101.csv", extract_csv("skole")),
        csv_file("dagtilbud-751.csv", extract_csv("dagtilbud", kommune="751")),
    ]


def test_the_page_offers_many_files_to_vendor_staff_and_404_to_consultants(
    vendor_client, client, consultant_user
):
    body = vendor_client.get(URL).content.decode()
    assert 'name="files"' in body and "multiple" in body
    client.force_login(consultant_user)
    assert client.get(URL).status_code == 404


def test_files_are_staged_with_what_their_content_says(vendor_client, vendor_a_user, routes):
    response = upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("deliveries:batch", args=[batch.uuid])
    rows = list(batch.files.all())
    assert [row.route for row in rows] == [
        routes["kbh_dagtilbud"],
        routes["kbh_skole"],
        routes["aarhus_dagtilbud"],
    ]
    assert {row.period for row in rows} == {"2026-10"}
    assert all(staged_path(row).is_file() for row in rows)
    assert batch.uploaded_by == vendor_a_user
    assert not Delivery.objects.exists()  # nothing is a delivery before the confirmation
    page = vendor_client.get(response.url).content.decode()
    assert page.count("klar") >= 3
    assert "Send 3 filer" in page


def test_the_preview_names_each_problem(vendor_client, make_delivery, routes, vendor_a_user):
    repeated = extract_csv("dagtilbud")
    earlier = make_delivery(routes["kbh_dagtilbud"], vendor_a_user, repeated)
    upload(
        vendor_client,
        csv_file("skole-aarhus.csv", extract_csv("skole", kommune="751")),
        csv_file("uden-periode.csv", factories.DAGTILBUD_HEADER + "\n"),
        csv_file("igen.csv", repeated),
    )
    batch = UploadBatch.objects.get()
    page = vendor_client.get(reverse("deliveries:batch", args=[batch.uuid])).content.decode()
    assert "ingen rute for Aarhus Kommune / Skole" in page
    assert "periode kunne ikke findes" in page
    assert f"samme fil som leverance {str(earlier.uuid)[:8]}" in page
    assert "Send 0 filer" in page


def test_the_preview_says_what_intake_would_refuse_for_the_period(
    vendor_client, routes, vendor_a_user
):
    """Rule: the preview asks the period rules intake will ask (a month not begun; another file
    for the route and month already passed validation), before anything is sent."""
    future = period_shift(period_of(timezone.now()), 2)
    factories.delivery(
        routes["kbh_skole"],
        status=DeliveryStatus.VALID,
        content=b"an earlier extract",
        original_filename="skole-oktober.csv",
    )
    upload(
        vendor_client,
        csv_file("frem.csv", extract_csv("dagtilbud", period=period_compact(future))),
        csv_file("skole-igen.csv", extract_csv("skole")),
    )
    batch = UploadBatch.objects.get()
    page = vendor_client.get(reverse("deliveries:batch", args=[batch.uuid])).content.decode()
    assert f"Perioden {future} er ikke begyndt endnu" in page
    assert "perioden er allerede leveret med «skole-oktober.csv»" in page
    assert "Send 0 filer" in page


def test_a_bad_file_among_good_ones_is_a_row_with_its_reason(vendor_client):
    upload(
        vendor_client,
        *good_files(),
        csv_file("tom.csv", b""),
        SimpleUploadedFile("noter.txt", b"hej", content_type="text/plain"),
    )
    rows = list(UploadBatch.objects.get().files.all())
    assert [row.is_staged for row in rows] == [True, True, True, False, False]
    assert "Filen er tom" in rows[3].refusal
    assert "«.txt» accepteres ikke" in rows[4].refusal


# --- «Send»: a job on the queue, run here by a real burst worker -------------------------------


def sent_by_worker(test):
    """The worker is another process: it sees only committed rows, so such a test commits its
    own (a transactional database) and has a clean private Redis."""
    test = pytest.mark.django_db(transaction=True, serialized_rollback=True)(test)
    return pytest.mark.usefixtures("clean_redis")(pytest.mark.redis(test))


def send(client, batch, run_worker) -> None:
    """«Send», then the `default` queue worked off by a real worker (validation is not run:
    the deliveries stay `received`)."""
    response = client.post(reverse("deliveries:batch_confirm", args=[batch.uuid]))
    assert response.status_code == 302
    worker = run_worker("default")
    assert worker.returncode == 0, worker.stderr


def progress_page(client, batch) -> str:
    return client.get(reverse("deliveries:batch_progress", args=[batch.uuid])).content.decode()


@pytest.mark.redis
def test_send_returns_at_once_with_the_job_queued_and_no_delivery_made(vendor_client, clean_redis):
    """Rule: the files go through intake in a worker, not in the request (a batch of large
    files takes minutes, past the web worker's timeout)."""
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    response = vendor_client.post(reverse("deliveries:batch_confirm", args=[batch.uuid]))
    assert response.url == reverse("deliveries:batch_progress", args=[batch.uuid])
    assert not Delivery.objects.exists()
    assert all(row.is_staged for row in batch.files.all())
    [job] = django_rq.get_queue("default").get_jobs()
    batch.refresh_from_db()
    assert (job.func_name, job.args) == (BATCH_SEND_JOB, (batch.pk, str(batch.sending_token)))
    # The page says the files are being sent, each ready row waits in the queue.
    page = progress_page(vendor_client, batch)
    assert "Filerne sendes nu, én ad gangen." in page
    assert page.count("i kø") == 3
    status = vendor_client.get(reverse("deliveries:batch_status", args=[batch.uuid])).json()
    assert (status["sending"], status["working"], status["files"]) == (True, True, [])


@pytest.mark.redis
def test_two_posts_while_sending_enqueue_one_job(vendor_client, clean_redis):
    """Rule: a double click (or a second tab) must not send the batch twice: the claim is a
    conditional update, and only the POST that made it enqueues."""
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    confirm = reverse("deliveries:batch_confirm", args=[batch.uuid])
    vendor_client.post(confirm)
    second = vendor_client.post(confirm, follow=True)
    assert len(django_rq.get_queue("default").get_jobs()) == 1
    assert "Filerne er allerede ved at blive sendt." in second.content.decode()


def test_redis_down_at_send_says_so_and_leaves_the_batch_as_it_was(vendor_client, redis_down):
    """Rule: Redis not taking the job loses nothing: no claim is left behind, the files stay,
    and «Send» works once Redis is back."""
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    response = vendor_client.post(
        reverse("deliveries:batch_confirm", args=[batch.uuid]), follow=True
    )
    assert response.redirect_chain == [(reverse("deliveries:batch", args=[batch.uuid]), 302)]
    assert "portalens jobkø svarer ikke lige nu. Intet er ændret" in response.content.decode()
    assert re.search(r"Send 3 filer\s*</button>", response.content.decode())
    batch.refresh_from_db()
    assert (batch.sending_token, batch.sending_seen_at, batch.confirmed_at) == (None, None, None)
    assert all(staged_path(row).is_file() for row in batch.files.all())
    assert not Delivery.objects.exists()


@sent_by_worker
def test_confirming_makes_one_delivery_per_ready_file_through_intake(
    vendor_client, vendor_a_user, routes, run_worker
):
    upload(vendor_client, *good_files(), csv_file("x.csv", "a;b\n1;2\n"))
    batch = UploadBatch.objects.get()
    staged = [staged_path(row) for row in batch.files.all()]
    send(vendor_client, batch, run_worker)
    rows = list(batch.files.select_related("delivery"))
    made = [row.delivery for row in rows if row.delivery is not None]
    assert len(made) == 3
    assert {d.route for d in made} == set(routes.values())
    assert all(d.uploaded_by == vendor_a_user and d.events.count() == 1 for d in made)
    assert [d.original_filename for d in made] == [r.original_name for r in rows[:3]]
    # The sent files left the staging folder (intake stored them); the unsent one stays.
    assert [path.exists() for path in staged] == [False, False, False, True]
    assert rows[3].delivery is None and rows[3].is_staged
    batch.refresh_from_db()
    assert batch.confirmed_at is not None and not batch.is_sending
    # The counts the request used to flash reach the user on the progress page.
    page = progress_page(vendor_client, batch)
    assert "Afsendelsen er færdig." in page
    assert "3 filer er blevet leverancer; rækkerne viser, hvor langt hver er nået." in page
    # The outcome stays on the page while the rows move on to «hentet»: it says what the send
    # made, not «valideres nu», which is soon untrue.
    assert "valideres nu" not in page
    assert "Filerne sendes nu" not in page and "i kø" not in page


@sent_by_worker
def test_one_refused_file_does_not_stop_the_others(vendor_client, routes, vendor_a, run_worker):
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    # Between preview and confirmation Aarhus's databehandleraftale is withdrawn.
    ProcessingAgreement.objects.filter(kommune__code=factories.AARHUS).update(
        status=AgreementStatus.TERMINATED
    )
    send(vendor_client, batch, run_worker)
    rows = list(batch.files.all())
    assert [row.delivery_id is not None for row in rows] == [True, True, False]
    assert "databehandleraftale" in rows[2].refusal
    assert staged_path(rows[2]).is_file()  # the refused file is kept for another try
    page = progress_page(vendor_client, batch)
    assert "databehandleraftale" in page
    assert "2 filer er blevet leverancer" in page
    assert "1 fil blev afvist; rækken siger hvorfor. Ret den og send igen." in page
    status = vendor_client.get(reverse("deliveries:batch_status", args=[batch.uuid])).json()
    refused = status["files"][2]
    assert (refused["id"], refused["status"]) == (rows[2].pk, "not_sent")
    assert "databehandleraftale" in refused["refusal"]
    # Once the agreement is signed again, the refused row is sent on the next confirmation.
    ProcessingAgreement.objects.filter(kommune__code=factories.AARHUS).update(
        status=AgreementStatus.SIGNED
    )
    preview = vendor_client.get(reverse("deliveries:batch", args=[batch.uuid])).content.decode()
    assert re.search(r"Send 1 fil\s*</button>", preview)
    send(vendor_client, batch, run_worker)
    rows[2].refresh_from_db()
    assert rows[2].delivery is not None and rows[2].refusal == ""
    assert "1 fil er blevet en leverance; rækken viser, hvor langt den er nået." in progress_page(
        vendor_client, batch
    )


@pytest.mark.redis
def test_a_refusal_of_an_earlier_send_waits_in_the_queue_while_a_send_is_under_way(
    vendor_client, clean_redis
):
    """Rule: while a send is under way the page shows each row as this send leaves it: a row
    refused by an earlier send and not yet tried again is «i kø», not «ikke sendt»."""
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    UploadBatchFile.objects.filter(position=3).update(refusal="Tidligere afvist.")
    vendor_client.post(reverse("deliveries:batch_confirm", args=[batch.uuid]))
    status = vendor_client.get(reverse("deliveries:batch_status", args=[batch.uuid])).json()
    assert status["files"] == []
    assert progress_page(vendor_client, batch).count("i kø") == 3


@sent_by_worker
def test_a_staged_file_gone_from_the_disk_is_refused_on_its_row_and_the_others_go_on(
    vendor_client, run_worker
):
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    first = batch.files.first()
    assert first is not None
    staged_path(first).unlink()
    send(vendor_client, batch, run_worker)
    first.refresh_from_db()
    assert first.delivery is None
    assert first.refusal.startswith("Filen findes ikke længere på serveren.")
    assert Delivery.objects.count() == 2


@sent_by_worker
def test_confirming_twice_sends_each_file_once(vendor_client, run_worker):
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    confirm = reverse("deliveries:batch_confirm", args=[batch.uuid])
    vendor_client.post(confirm)
    send(vendor_client, batch, run_worker)
    assert Delivery.objects.count() == 3
    # Sent again once the first send is done: nothing is left to send.
    send(vendor_client, batch, run_worker)
    assert Delivery.objects.count() == 3
    assert "Ingen filer var klar til at blive sendt." in progress_page(vendor_client, batch)


@pytest.mark.redis
def test_a_send_job_without_the_batchs_claim_does_nothing(vendor_client, clean_redis):
    """Rule: a job runs only while the batch's claim is its own, so a duplicate job, or the
    job of a stalled send another «Send» has taken over, sends nothing."""
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    vendor_client.post(reverse("deliveries:batch_confirm", args=[batch.uuid]))
    assert jobs.send_upload_batch(batch.pk, str(uuid.uuid4())) is None
    assert not Delivery.objects.exists()


class WorkerKilled(BaseException):
    """The worker dying between two files (a SIGKILL, the OOM killer): nothing after it runs."""


@sent_by_worker
def test_a_send_whose_worker_died_may_be_sent_again_after_the_stuck_minutes(
    vendor_client, run_worker, clean_redis, monkeypatch, settings
):
    """Rule: a worker killed mid-batch leaves the rows it sent sent; once the send has not
    been heard from for RECONCILE_STUCK_MINUTES the page says so and «Send» sends the rest,
    none twice. Before that a second «Send» is refused (the job may only be slow)."""
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    vendor_client.post(reverse("deliveries:batch_confirm", args=[batch.uuid]))
    batch.refresh_from_db()
    original = batch_services._send_row
    calls = []

    def dies_after_the_first_file(row, user, token):
        if calls:
            raise WorkerKilled
        calls.append(row.pk)
        return original(row, user, token)

    monkeypatch.setattr(batch_services, "_send_row", dies_after_the_first_file)
    with pytest.raises(WorkerKilled):
        jobs.send_upload_batch(batch.pk, str(batch.sending_token))
    monkeypatch.setattr(batch_services, "_send_row", original)
    clean_redis.flushdb()  # the job died with its worker
    assert Delivery.objects.count() == 1
    again = vendor_client.post(reverse("deliveries:batch_confirm", args=[batch.uuid]), follow=True)
    assert "Filerne er allerede ved at blive sendt." in again.content.decode()
    assert django_rq.get_queue("default").get_jobs() == []

    stuck = timedelta(minutes=settings.RECONCILE_STUCK_MINUTES + 1)
    with time_machine.travel(timezone.now() + stuck, tick=True):
        page = progress_page(vendor_client, batch)
        assert "Afsendelsen er gået i stå" in page and "tryk «Send» igen" in page
        status = vendor_client.get(reverse("deliveries:batch_status", args=[batch.uuid])).json()
        assert (status["sending"], status["stalled"]) == (False, True)
        send(vendor_client, batch, run_worker)
    assert Delivery.objects.count() == 3
    assert all(row.delivery_id is not None for row in batch.files.all())
    assert "2 filer er blevet leverancer" in progress_page(vendor_client, batch)


@sent_by_worker
@pytest.mark.parametrize("redelivery", [False, True], ids=["plain", "genlevering"])
def test_a_row_whose_worker_died_after_intake_is_linked_not_refused_or_sent_twice(
    vendor_client, run_worker, clean_redis, monkeypatch, settings, redelivery
):
    """Rule: a worker killed between intake making a row's delivery and the row pointing at
    it leaves a delivery the row does not know; the next «Send» links the row to it instead
    of refusing the file as already delivered, or, with Genlevering ticked, delivering it a
    second time."""
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    batch.files.update(redelivery_confirmed=redelivery)
    vendor_client.post(reverse("deliveries:batch_confirm", args=[batch.uuid]))
    batch.refresh_from_db()
    original = batch_services.delivery_upload

    def dies_after_intake(**kwargs):
        original(**kwargs)
        raise WorkerKilled

    monkeypatch.setattr(batch_services, "delivery_upload", dies_after_intake)
    with pytest.raises(WorkerKilled):
        jobs.send_upload_batch(batch.pk, str(batch.sending_token))
    monkeypatch.setattr(batch_services, "delivery_upload", original)
    clean_redis.flushdb()  # the job died with its worker
    made_by_the_dead_try = Delivery.objects.get()
    assert not batch.files.filter(delivery__isnull=False).exists()

    stuck = timedelta(minutes=settings.RECONCILE_STUCK_MINUTES + 1)
    with time_machine.travel(timezone.now() + stuck, tick=True):
        send(vendor_client, batch, run_worker)
    assert Delivery.objects.count() == 3
    rows = list(batch.files.order_by("position"))
    assert [row.refusal for row in rows] == ["", "", ""]
    assert all(row.delivery_id is not None and row.staged_name == "" for row in rows)
    assert made_by_the_dead_try.pk in {row.delivery_id for row in rows}


def test_a_row_is_fixed_by_choosing_route_and_period(vendor_client, routes):
    upload(vendor_client, csv_file("ukendt.csv", "a;b\n1;2\n"))
    row = UploadBatchFile.objects.get()
    url = reverse("deliveries:batch_file", args=[row.batch.uuid, row.pk])
    assert vendor_client.get(url).status_code == 200
    refused = vendor_client.post(url, {"route": routes["kbh_skole"].pk, "period": "oktober"})
    assert refused.status_code == 400
    assert "Skriv perioden som ÅÅÅÅ-MM" in refused.content.decode()
    vendor_client.post(url, {"route": routes["kbh_skole"].pk, "period": "2026-10"})
    row.refresh_from_db()
    assert (row.route, row.period, row.problems) == (routes["kbh_skole"], "2026-10", [])
    assert row.data_area == routes["kbh_skole"].data_area


def test_a_row_cannot_be_given_a_period_its_route_cannot_carry(vendor_client, routes):
    upload(vendor_client, csv_file("ukendt.csv", "a;b\n1;2\n"))
    row = UploadBatchFile.objects.get()
    url = reverse("deliveries:batch_file", args=[row.batch.uuid, row.pk])
    future = period_shift(period_of(timezone.now()), 1)
    response = vendor_client.post(url, {"route": routes["kbh_skole"].pk, "period": future})
    assert response.status_code == 400
    assert f"Perioden {future} er ikke begyndt endnu" in response.content.decode()
    row.refresh_from_db()
    assert row.route is None


def test_a_row_can_only_be_given_a_route_the_user_may_deliver_on(vendor_client, routes, system_b):
    other = factories.route(sender_system=system_b, data_area="skole", kommune=factories.AARHUS)
    upload(vendor_client, csv_file("ukendt.csv", "a;b\n1;2\n"))
    row = UploadBatchFile.objects.get()
    url = reverse("deliveries:batch_file", args=[row.batch.uuid, row.pk])
    response = vendor_client.post(url, {"route": other.pk, "period": "2026-10"})
    assert response.status_code == 400
    row.refresh_from_db()
    assert row.route is None


def test_a_row_cannot_be_changed_or_dropped_while_its_batch_is_being_sent(
    vendor_client, routes, clean_redis, settings
):
    """Rule: the send reads each row as it gets to it, so a row changed meanwhile might be
    sent on its old route while the page shows the new one: while a send is under way the
    row's page and «Fjern» refuse and say why; once the send has stalled they work again."""
    upload(vendor_client, *good_files(), csv_file("ukendt.csv", "a;b\n1;2\n"))
    batch = UploadBatch.objects.get()
    open_row = batch.files.get(original_name="ukendt.csv")
    ready = batch.files.exclude(pk=open_row.pk).first()
    assert ready is not None
    vendor_client.post(reverse("deliveries:batch_confirm", args=[batch.uuid]))  # job queued
    edit = reverse("deliveries:batch_file", args=[batch.uuid, open_row.pk])
    drop = reverse("deliveries:batch_file_drop", args=[batch.uuid, ready.pk])
    change = {"route": routes["kbh_skole"].pk, "period": "2026-10"}

    for response in (
        vendor_client.get(edit, follow=True),
        vendor_client.post(edit, change, follow=True),
        vendor_client.post(drop, {"dropped": "1"}, follow=True),
    ):
        assert response.redirect_chain[-1][0] == reverse(
            "deliveries:batch_progress", args=[batch.uuid]
        )
        assert "kan ikke rettes eller fjernes imens" in response.content.decode()
    open_row.refresh_from_db()
    ready.refresh_from_db()
    assert (open_row.route, ready.dropped) == (None, False)

    stuck = timedelta(minutes=settings.RECONCILE_STUCK_MINUTES + 1)
    with time_machine.travel(timezone.now() + stuck, tick=True):
        vendor_client.post(edit, change)
        vendor_client.post(drop, {"dropped": "1"})
    open_row.refresh_from_db()
    ready.refresh_from_db()
    assert (open_row.route, ready.dropped) == (routes["kbh_skole"], True)


@sent_by_worker
def test_a_dropped_row_is_not_sent_and_its_file_is_kept(vendor_client, run_worker):
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    first = batch.files.first()
    assert first is not None
    drop = reverse("deliveries:batch_file_drop", args=[batch.uuid, first.pk])
    assert vendor_client.get(drop).status_code == 405
    vendor_client.post(drop, {"dropped": "1"})
    send(vendor_client, batch, run_worker)
    first.refresh_from_db()
    assert first.dropped and first.delivery is None and staged_path(first).is_file()
    assert Delivery.objects.count() == 2


@sent_by_worker
def test_a_dropped_row_is_not_counted_as_a_file_still_to_send(vendor_client, run_worker):
    # Rule: the progress counts the files the user meant to send; a removed file is shown as
    # «fjernet» and is not the «1» missing from «2 af 3 filer er sendt».
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    first = batch.files.first()
    assert first is not None
    drop = reverse("deliveries:batch_file_drop", args=[batch.uuid, first.pk])
    vendor_client.post(drop, {"dropped": "1"})
    send(vendor_client, batch, run_worker)
    data = vendor_client.get(reverse("deliveries:batch_status", args=[batch.uuid])).json()
    assert (data["total"], data["sent"]) == (2, 2)
    assert "2 af 2 filer er sendt." in progress_page(vendor_client, batch)


@sent_by_worker
def test_the_status_endpoint_reports_each_delivery(vendor_client, run_worker):
    upload(vendor_client, *good_files(), csv_file("x.csv", "a;b\n1;2\n"))
    batch = UploadBatch.objects.get()
    send(vendor_client, batch, run_worker)
    data = vendor_client.get(reverse("deliveries:batch_status", args=[batch.uuid])).json()
    assert (data["total"], data["sent"], data["settled"], data["working"]) == (4, 3, 0, True)
    assert data["sending"] is False
    first = Delivery.objects.order_by("pk").first()
    assert first is not None
    assert data["files"][0]["url"] == reverse("deliveries:detail", args=[first.uuid])
    assert data["files"][0]["status_label"] == "modtaget"


@sent_by_worker
def test_the_preview_and_the_status_cost_the_same_queries_for_3_files_as_for_12(
    vendor_client, run_worker
):
    """Rule: a batch of 490 files must not cost a query per file (STYLE.md: list pages pin
    their query count)."""
    counts = []
    for copies in (1, 4):
        # Different bytes each time (more rows), so no file is refused as the same file.
        files = [
            csv_file(f"{area}-{n}.csv", extract_csv(area, kommune=code, rows=10 * copies + n))
            for n in range(copies)
            for area, code in (("dagtilbud", "101"), ("skole", "101"), ("dagtilbud", "751"))
        ]
        upload(vendor_client, *files, csv_file("ukendt.csv", "a;b\n1;2\n"))
        batch = UploadBatch.objects.order_by("created_at").last()
        assert batch is not None
        send(vendor_client, batch, run_worker)
        for name in ("deliveries:batch", "deliveries:batch_status"):
            url = reverse(name, args=[batch.uuid])
            with CaptureQueriesContext(connection) as captured:
                assert vendor_client.get(url).status_code == 200
            counts.append(len(captured.captured_queries))
    assert counts[:2] == counts[2:]


# --- limits -------------------------------------------------------------------------------------


def test_more_files_than_the_limit_are_refused_saying_the_limit(vendor_client, settings):
    settings.BATCH_MAX_FILES = 2
    response = upload(vendor_client, *good_files())
    assert response.status_code == 400
    assert "højst have 2 filer" in response.content.decode()
    assert not UploadBatch.objects.exists()


def test_the_handler_stops_the_request_at_the_file_limit():
    """Rule: past FLISPORTAL_BATCH_MAX_FILES nothing more is written to disk (the request
    stops there), not only refused once everything has arrived."""
    handler = BatchUploadHandler(max_files=2, max_bytes=10**6)
    for n in (1, 2):
        handler.new_file(BATCH_FIELD, f"{n}.csv", "text/csv", 10, None)
        handler.file_complete(0).close()
    with pytest.raises(StopUpload):
        handler.new_file(BATCH_FIELD, "3.csv", "text/csv", 10, None)
    assert "højst have 2 filer" in (handler.refusal or "")


def test_the_handler_stops_the_request_at_the_byte_limit():
    handler = BatchUploadHandler(max_files=10, max_bytes=1000)
    handler.new_file(BATCH_FIELD, "a.csv", "text/csv", 600, None)
    handler.receive_data_chunk(b"x" * 600, 0)
    handler.file_complete(600).close()
    handler.new_file(BATCH_FIELD, "b.csv", "text/csv", 600, None)
    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"x" * 600, 0)  # one running total: 1200 > 1000
    assert "højst være 1000\xa0bytes i alt" in (handler.refusal or "")


def test_more_files_than_djangos_default_hundred_are_taken(vendor_client, settings):
    """Rule: a batch holds up to FLISPORTAL_BATCH_MAX_FILES (a month is up to 490 files);
    Django's own cap on file parts (100 by default) must not refuse it first."""
    files = [csv_file(f"x-{n}.csv", "a;b\n1;2\n") for n in range(120)]
    response = upload(vendor_client, *files)
    assert response.status_code == 302
    assert UploadBatchFile.objects.count() == 120


def test_more_bytes_than_the_limit_are_refused_saying_the_limit(vendor_client, settings):
    settings.BATCH_MAX_BYTES = 1000
    response = upload(vendor_client, *good_files(), X_Requested_With="XMLHttpRequest")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "Filerne fylder for meget: en samlet upload kan højst være 1000\xa0bytes i alt (pakket "
        "ud). Del filerne op i flere uploads."
    ]
    assert not UploadBatch.objects.exists()


def test_a_zips_members_count_against_the_file_limit(vendor_client, settings):
    settings.BATCH_MAX_FILES = 2
    members = {f"dagtilbud-{i}.csv": extract_csv("dagtilbud").encode() for i in range(3)}
    response = upload(vendor_client, zip_file("alle.zip", members))
    assert response.status_code == 400
    assert "højst have 2 filer" in response.content.decode()
    assert not UploadBatch.objects.exists()


def test_a_zips_unpacked_bytes_count_against_the_total(vendor_client, settings, tmp_path):
    # Well compressed, so the zip itself passes the request's running total.
    settings.BATCH_MAX_BYTES = 5000
    content = extract_csv("dagtilbud", rows=40).encode()
    assert len(content) > 2500
    response = upload(vendor_client, zip_file("alle.zip", {"a.csv": content, "b.csv": content}))
    assert response.status_code == 400
    assert "højst være 4,9\xa0KB i alt" in response.content.decode()
    assert not UploadBatch.objects.exists()
    assert not any(Path(settings.BATCH_STAGING_DIR).glob("**/*.csv"))


# --- zips ---------------------------------------------------------------------------------------


def test_each_member_of_a_zip_is_a_row_with_the_single_uploads_protections(vendor_client, routes):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as nested:
        nested.writestr("x.csv", "a;b\n")
    members = {
        "dagtilbud-101.csv": extract_csv("dagtilbud").encode(),
        "skole-101.csv": extract_csv("skole").encode(),
        "indre.zip": inner.getvalue(),
        "mappe/skjult.csv": b"a;b\n",
        "bombe.csv": b"0" * 1_000_000,
    }
    upload(vendor_client, zip_file("alle.zip", members))
    rows = list(UploadBatch.objects.get().files.all())
    assert [row.route for row in rows[:2]] == [routes["kbh_dagtilbud"], routes["kbh_skole"]]
    assert [row.is_staged for row in rows] == [True, True, False, False, False]
    assert "arkiver i arkiver" in rows[2].refusal
    assert "mapper eller stier" in rows[3].refusal
    assert "zip-bomber" in rows[4].refusal


def test_a_member_packed_with_an_unsupported_method_is_refused(vendor_client):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", extract_csv("dagtilbud"))
        archive.writestr("b.csv", extract_csv("skole"))
    data = bytearray(buffer.getvalue())
    # Mark the second member as Deflate64 (method 9) in its central directory entry.
    at = data.rfind(b"PK\x01\x02")
    data[at + 10 : at + 12] = (9).to_bytes(2, "little")
    upload(vendor_client, SimpleUploadedFile("alle.zip", bytes(data)))
    rows = list(UploadBatch.objects.get().files.all())
    assert rows[0].is_staged
    assert "metode 9" in rows[1].refusal


def test_a_zip_whose_directory_announces_too_many_entries_is_refused_before_reading_it(
    vendor_client, settings
):
    settings.BATCH_MAX_FILES = 3
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", extract_csv("dagtilbud"))
    data = bytearray(buffer.getvalue())
    # The end record claims 60,000 entries; zipfile would read them all into memory.
    end = data.rfind(b"PK\x05\x06")
    data[end + 8 : end + 12] = (60_000).to_bytes(2, "little") * 2
    response = upload(vendor_client, SimpleUploadedFile("alle.zip", bytes(data)))
    assert response.status_code == 400
    assert "højst have 3 filer" in response.content.decode()


# --- scope, methods, expiry ------------------------------------------------------------------


def test_another_users_batch_is_404_on_every_page(vendor_client, client, vendor_b_user, admin_user):
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    row = batch.files.first()
    assert row is not None
    urls = [
        reverse("deliveries:batch", args=[batch.uuid]),
        reverse("deliveries:batch_file", args=[batch.uuid, row.pk]),
        reverse("deliveries:batch_progress", args=[batch.uuid]),
        reverse("deliveries:batch_status", args=[batch.uuid]),
    ]
    posts = [
        reverse("deliveries:batch_confirm", args=[batch.uuid]),
        reverse("deliveries:batch_file_drop", args=[batch.uuid, row.pk]),
    ]
    for user in (vendor_b_user, admin_user):
        client.force_login(user)
        assert [client.get(url).status_code for url in urls] == [404] * 4
        assert [client.post(url).status_code for url in posts] == [404] * 2
    assert not Delivery.objects.exists()


def test_confirm_is_post_only(vendor_client):
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    assert (
        vendor_client.get(reverse("deliveries:batch_confirm", args=[batch.uuid])).status_code == 405
    )


def test_an_expired_batch_is_gone_and_retention_deletes_its_files(vendor_client):
    upload(vendor_client, *good_files())
    batch = UploadBatch.objects.get()
    folder = staged_path(batch.files.first()).parent
    retention_run(now=timezone.now())
    assert folder.is_dir()  # not yet expired
    UploadBatch.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert vendor_client.get(reverse("deliveries:batch", args=[batch.uuid])).status_code == 404
    assert retention_run(now=timezone.now(), dry_run=True).batches == 1
    assert folder.is_dir()  # a dry run only counts
    out = io.StringIO()
    call_command("retention", stdout=out)
    assert "1 udløbne samlede uploads slettet" in out.getvalue()
    assert not folder.exists()
    assert not UploadBatchFile.objects.exists()
    entry = AuditEntry.objects.get(action="uploadbatch.deleted")
    assert entry.before["count"] == 1 and entry.before["staged_files"] == 3


def test_the_start_page_and_the_outstanding_list_link_to_the_batch_page(
    vendor_client, client, consultant_user
):
    for page in (reverse("front:start"), reverse("deliveries:outstanding")):
        assert f'href="{URL}"' in vendor_client.get(page).content.decode()
    client.force_login(consultant_user)
    assert f'href="{URL}"' not in client.get(reverse("deliveries:outstanding")).content.decode()
