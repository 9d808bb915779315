"""Adaptive polling (issue #18, deliveries/services/soon.py): a receipt round soon after a push,
a fetch round soon after a distribution, coalesced per SFTP user, backing off with the age of
what is awaited, bounded in logins per minute, and nothing extra while nothing is expected.

Real parts: the session's Redis (`clean_redis`, through `pushable`), the stand-in, and in the
last test real worker processes. Times are relative to now, or frozen with time_machine where a
calendar minute matters."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import django_rq
import pytest
import time_machine
from django.utils import timezone
from rq.job import Job

from deliveries.hent.fetcher import receipts_fetch_soon
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from deliveries.services import FETCH_ROUND_JOB, RECEIPT_ROUND_JOB, soon
from deliveries.services.push import delivery_push
from deliveries.services.technical_receipts import (
    receipts_collect,
    receipts_collect_for_user,
    receipts_collect_soon,
)
from flisportal.lib.queues import SFTP

pytestmark = pytest.mark.redis

S = DeliveryStatus


def scheduled() -> list[tuple[Job, datetime]]:
    """The jobs waiting in the sftp queue's scheduled registry, with when they are due."""
    queue = django_rq.get_queue(SFTP)
    registry = queue.scheduled_job_registry
    return [
        (Job.fetch(job_id, connection=queue.connection), registry.get_scheduled_time(job_id))
        for job_id in registry.get_job_ids()
    ]


def rounds(job_name: str) -> list[tuple[int, float]]:
    """(SFTP user id, seconds from now until due) of each scheduled round of `job_name`."""
    now = datetime.now(UTC)
    return [
        (job.args[0], (due - now).total_seconds())
        for job, due in scheduled()
        if job.func_name == job_name
    ]


def test_a_sent_push_asks_for_one_receipt_round_soon_however_many_pushes(
    world, pushable, django_capture_on_commit_callbacks
):
    """Rule: after a push ends `sent`, the sender's IN/ is looked at after POLL_SOON_SECONDS;
    a burst of pushes by the same sender makes one pending round, not one each."""
    first, second = pushable(b"a;b\n1;2\n"), pushable(b"a;b\n3;4\n")
    assert delivery_push(delivery_id=first.pk) == S.SENT
    assert delivery_push(delivery_id=second.pk) == S.SENT
    [(user_id, due_in)] = rounds(RECEIPT_ROUND_JOB)
    assert user_id == world.sender.sftp_user.pk
    # RQ keeps the due time in whole seconds.
    assert due_in <= 2

    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(490):
            soon.receipt_round_soon(sftp_user_id=world.sender.sftp_user.pk)
    assert len(rounds(RECEIPT_ROUND_JOB)) == 1


def test_a_new_push_moves_a_later_pending_round_earlier(
    world, clean_redis, django_capture_on_commit_callbacks
):
    """Rule: the round pending for a sender may be a late backoff step; a new push must not
    wait for it, so the pending round is moved to soon (still one round)."""
    user_id = world.sender.sftp_user.pk
    with django_capture_on_commit_callbacks(execute=True):
        soon.receipt_round_soon(sftp_user_id=user_id, delay=30)
    [(_, due_in)] = rounds(RECEIPT_ROUND_JOB)
    assert due_in > 25
    with django_capture_on_commit_callbacks(execute=True):
        soon.receipt_round_soon(sftp_user_id=user_id)
    [(_, due_in)] = rounds(RECEIPT_ROUND_JOB)
    assert due_in <= 2


def test_redis_unreachable_leaves_the_round_to_the_cron_interval(
    world, redis_down, django_capture_on_commit_callbacks, caplog
):
    """Rule: asking for a soon round never fails the caller (a push that has ended `sent`):
    with Redis unreachable the request is logged and the cron round comes as before."""
    with django_capture_on_commit_callbacks(execute=True):
        soon.receipt_round_soon(sftp_user_id=world.sender.sftp_user.pk)
    assert "not scheduled soon" in caplog.text


def test_a_distributed_delivery_asks_for_a_fetch_round_for_each_recipient(
    fetch_world, pushable, standin
):
    """Rule: once a receipt moves a delivery to `distributed`, each recipient on its route that
    the portal fetches for (FLIS and the kommune's LIS) gets a fetch round soon."""
    delivery = pushable(b"a;b\n1;2\n")
    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    standin.wait_idle()
    result = receipts_collect_for_user(sftp_user_id=fetch_world.sender.sftp_user.pk)
    assert result.distributed == 1

    fetches = rounds(FETCH_ROUND_JOB)
    assert sorted(user_id for user_id, _ in fetches) == sorted(
        [fetch_world.flis.sftp_user.pk, fetch_world.lis.sftp_user.pk]
    )
    assert all(due_in <= 2 for _, due_in in fetches)


@pytest.mark.parametrize(
    ("age", "step"),
    [(0, 2), (1.9, 2), (2, 2), (4, 4), (7.9, 4), (8, 8), (16, 16), (32, 32), (64, None)],
)
def test_the_step_doubles_with_the_age_of_the_awaited_answer_up_to_the_cron_interval(
    settings, age, step
):
    """Rule: backoff by age: the next look comes about as long after as the answer has been
    awaited (steps of POLL_SOON_SECONDS × 1, 2, 4, …), and none once the step reaches the cron
    interval, which then is the floor."""
    settings.POLL_SOON_SECONDS = 2
    assert soon.next_step(age, interval=60) == step


def test_a_round_that_finds_no_receipt_asks_again_after_the_next_step(
    world, pushable, django_capture_on_commit_callbacks
):
    """Rule: while a sent delivery awaits its receipt, the round asks for the next one after a
    step as long as the wait so far; a delivery sent longer ago than the cron interval is left
    to the cron round."""
    delivery = pushable(b"a;b\n1;2\n", status=S.SENT)
    Delivery.objects.filter(pk=delivery.pk).update(sent_at=timezone.now() - timedelta(seconds=5))
    with django_capture_on_commit_callbacks(execute=True):
        step = soon.receipt_round_again(sftp_user=world.sender.sftp_user)
    assert step == 4
    [(_, due_in)] = rounds(RECEIPT_ROUND_JOB)
    assert 2 < due_in <= 5

    django_rq.get_queue(SFTP).connection.flushdb()
    Delivery.objects.filter(pk=delivery.pk).update(sent_at=timezone.now() - timedelta(seconds=120))
    with django_capture_on_commit_callbacks(execute=True):
        assert soon.receipt_round_again(sftp_user=world.sender.sftp_user) is None
    assert scheduled() == []


def test_soon_rounds_that_find_nothing_yet_ask_for_the_next_step(
    fetch_world, pushable, standin, clean_redis
):
    """Rule: a soon round that logs in and finds the answer not there yet (a slow platform)
    asks for the next round itself: the receipt round while a delivery is `sent`, the fetch
    round while one routed to the recipient is `distributed`."""
    waiting = pushable(b"a;b\n1;2\n", status=S.SENT)
    distributed = pushable(b"a;b\n3;4\n", status=S.DISTRIBUTED)
    Delivery.objects.filter(pk=waiting.pk).update(sent_at=timezone.now())
    Delivery.objects.filter(pk=distributed.pk).update(receipt_at=timezone.now())

    assert receipts_collect_soon(sftp_user_id=fetch_world.sender.sftp_user.pk).users == 1
    summary = receipts_fetch_soon(sftp_user_id=fetch_world.flis.sftp_user.pk)
    assert summary is not None and summary.error == "" and summary.recorded == []

    assert [user_id for user_id, _ in rounds(RECEIPT_ROUND_JOB)] == [
        fetch_world.sender.sftp_user.pk
    ]
    assert [user_id for user_id, _ in rounds(FETCH_ROUND_JOB)] == [fetch_world.flis.sftp_user.pk]


def test_logins_of_the_extra_rounds_are_bounded_per_sftp_user_and_minute(
    world, clean_redis, settings, django_capture_on_commit_callbacks
):
    """Rule: the extra rounds log in at most SFTP_MAX_LOGINS_PER_MINUTE times per SFTP user
    and calendar minute; one over the bound waits for the next minute instead of logging in;
    another user's rounds are not held up."""
    settings.SFTP_MAX_LOGINS_PER_MINUTE = 3
    sender, flis = world.sender.sftp_user.pk, world.flis.sftp_user.pk
    # Ten seconds into a minute (near now): the whole test lies within that minute.
    start = datetime.fromtimestamp((time.time() // 60 + 1) * 60 + 10, tz=UTC)
    with (
        time_machine.travel(start, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        allowed = [soon.round_begin(soon.RECEIPTS, sftp_user_id=sender) for _ in range(4)]
        assert soon.round_begin(soon.FETCH, sftp_user_id=flis)
        waiting = rounds(RECEIPT_ROUND_JOB)
    assert allowed == [True, True, True, False]
    # The refused round is asked for again when the minute is over (50 s from then).
    [(user_id, due_in)] = waiting
    assert user_id == sender and 49 <= due_in <= 51


def test_nothing_extra_is_scheduled_while_nothing_is_expected(world, clean_redis, fetch_world):
    """Rule: idle means idle: with no delivery awaiting a receipt or a fetch, neither the cron
    round nor a round's follow-up schedules an extra round."""
    assert receipts_collect().users == 0
    assert soon.receipt_round_again(sftp_user=world.sender.sftp_user) is None
    assert soon.fetch_round_again(sftp_user=world.flis.sftp_user) is None
    assert scheduled() == []


def test_with_adaptive_polling_off_a_push_schedules_no_round(world, pushable, settings):
    """Rule: FLISPORTAL_ADAPTIVE_POLL=false leaves only the cron rounds (the benchmark's
    reference, and a way back should the platform object)."""
    settings.ADAPTIVE_POLL = False
    delivery = pushable(b"a;b\n1;2\n")
    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    assert scheduled() == []


def test_real_workers_take_a_push_to_fetched_through_the_soon_rounds(
    fetch_world, pushable, standin, run_worker
):
    """Rule: the soon rounds are real jobs a worker with the scheduler runs: the receipt round
    records the receipt and asks for the fetch rounds, which fetch the file; no cron round is
    involved."""
    delivery = pushable(b"a;b\n1;2\n")
    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    standin.wait_idle()
    for expected in (S.DISTRIBUTED, S.FETCHED):
        time.sleep(2)  # the round is due after POLL_SOON_SECONDS (1 s), in whole seconds
        result = run_worker(SFTP, scheduler=True)
        assert result.returncode == 0, result.stderr
        delivery.refresh_from_db()
        assert delivery.status == expected
