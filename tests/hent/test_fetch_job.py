"""The periodic fetch: registered on RQ cron, one job per recipient, run by a real worker."""

from __future__ import annotations

import pytest

from deliveries import jobs
from deliveries.models import Receipt, ReceiptVerdict
from routes.models import KeyState, SftpKey
from tests.helpers.fetching import CONTENT, NAME, metadata_for, place
from tests.helpers.standin import home

pytestmark = pytest.mark.redis


def test_fetch_round_is_registered_on_cron_with_the_interval(clean_redis, settings):
    from django_rq.cron import DjangoCronScheduler

    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("flisportal.cron")
    fetch = [j for j in scheduler.get_jobs() if j.func_name.endswith("fetch_all_recipients")]
    assert len(fetch) == 1
    assert fetch[0].interval == settings.FETCH_POLL_SECONDS
    assert fetch[0].queue_name == "sftp"


def test_round_enqueues_once_per_recipient_and_a_worker_fetches(
    fetch_world, standin, private_media, clean_redis, run_worker
):
    world = fetch_world
    for party in (world.flis, world.lis):
        place(standin, party, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))

    first = jobs.fetch_all_recipients()
    assert sorted(first) == sorted([world.flis.sftp_user.pk, world.lis.sftp_user.pk])
    # Still queued: the next tick does not pile a second round on top.
    assert jobs.fetch_all_recipients() == []

    result = run_worker("sftp")
    assert result.returncode == 0, result.stderr

    assert sorted(Receipt.objects.values_list("recipient_system__name", "verdict")) == [
        ("FLIS", ReceiptVerdict.OK),
        ("Københavns LIS", ReceiptVerdict.OK),
    ]
    for party in (world.flis, world.lis):
        assert list((home(standin, party) / "IN").iterdir()) == []
    # Done: the next tick enqueues again.
    assert len(jobs.fetch_all_recipients()) == 2


def test_a_recipient_whose_key_cannot_be_decrypted_does_not_stop_the_round(
    fetch_world, standin, private_media, clean_redis, run_worker
):
    """Its job finishes with the reason in its result instead of failing; the other
    recipient's files are fetched."""
    from django_rq import get_queue
    from rq.job import Job

    world = fetch_world
    for party in (world.flis, world.lis):
        place(standin, party, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))
    SftpKey.objects.filter(sftp_user=world.lis.sftp_user, state=KeyState.ACTIVE).update(
        encrypted_private_key=b"gAAAAA-encrypted-with-a-key-that-is-gone"
    )

    assert len(jobs.fetch_all_recipients()) == 2
    result = run_worker("sftp")
    assert result.returncode == 0, result.stderr

    assert list(Receipt.objects.values_list("recipient_system__name", "verdict")) == [
        ("FLIS", ReceiptVerdict.OK)
    ]
    connection = get_queue("sftp").connection
    lis_job = Job.fetch(f"fetch-receipts-{world.lis.sftp_user.pk}", connection=connection)
    assert lis_job.get_status() == "finished"
    assert "kan ikke dekrypteres" in lis_job.return_value()["error"]
    assert len(list((home(standin, world.lis) / "IN").iterdir())) == 2
