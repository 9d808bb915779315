"""Driftsstatus (/drift/): administrators see whether the machinery works — Redis, queues and
workers, periodic jobs, stuck deliveries, endpoints, mails, the audit chain — with what to do.
Real Redis and a real worker process where the page reads them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import django_rq
import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rq import Queue, Worker
from rq.cron import CronJob, CronScheduler

from deliveries import jobs as delivery_jobs
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Receipt, ReceiptVerdict
from flisportal import checks
from flisportal.audit.models import AuditCheckpoint, AuditHeadExport
from flisportal.front import health
from flisportal.lib.queues import ping
from flisportal.notifications.models import MailStatus, OutgoingMail
from routes.models import Endpoint
from tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.redis
def test_admin_sees_queues_workers_and_failed_jobs(clean_redis, run_worker, admin_user, client):
    # A cron run that fails on a real worker: `ping` takes no arguments.
    CronScheduler(connection=clean_redis).register_birth()
    CronJob(
        queue_name="default",
        func=ping,
        args=("boom",),
        cron="15 3 * * *",
        name="flisportal.jobs.clear_expired_sessions",
    ).enqueue(clean_redis)
    result = run_worker("default")
    assert result.returncode == 0, result.stderr
    # Two jobs waiting on a queue nobody serves; a worker listening on sftp.
    # (rq's own Queue: django-rq's waits for a commit that a test's transaction never makes)
    Queue("validation", connection=clean_redis).enqueue(ping)
    Queue("validation", connection=clean_redis).enqueue(ping)
    worker = Worker([Queue("sftp", connection=clean_redis)], connection=clean_redis, name="w-sftp")
    worker.register_birth()
    worker.heartbeat()

    client.force_login(admin_user)
    response = client.get(reverse("front:drift"))

    assert response.status_code == 200
    status = response.context["status"]
    assert status.redis_ok
    queues = {queue.name: queue for queue in status.queues}
    assert (queues["validation"].queued, queues["validation"].failed) == (2, 0)
    assert queues["validation"].state == health.WARNING
    assert "ingen worker" in queues["validation"].message
    assert queues["default"].failed == 1
    assert queues["default"].state == health.ERROR
    index = django_rq.settings.get_queues_map()["default"]
    assert reverse("django_rq:failed_jobs", args=[index]) in response.content.decode()
    assert [w.name for w in queues["sftp"].workers] == ["w-sftp"]
    assert queues["sftp"].workers[0].last_heartbeat is not None
    assert queues["sftp"].state == health.OK  # served, nothing failed
    # The failed cron run shows under the periodic jobs too.
    periodic = {job.name: job for job in status.periodic.jobs}
    assert periodic["clear_expired_sessions"].last_status == "failed"
    assert periodic["clear_expired_sessions"].state == health.ERROR
    assert status.periodic.schedulers
    page = response.content.decode()
    assert "Redis svarer." in page
    assert "Fejl" in page and "Advarsel" in page  # the state in words, not colour alone
    worker.register_death()


@pytest.mark.redis
def test_a_workers_state_is_said_in_danish(clean_redis, admin_client):
    # The Danish page showed RQ's own English word for what a worker is doing ("busy").
    worker = Worker([Queue("sftp", connection=clean_redis)], connection=clean_redis, name="w-busy")
    worker.register_birth()
    worker.set_state("busy")
    page = admin_client.get(reverse("front:drift")).content.decode()
    assert "Workere: tilstand og seneste livstegn" in page
    assert "· arbejder ·" in page and "· busy ·" not in page
    worker.register_death()


@pytest.mark.redis
def test_periodic_jobs_without_a_scheduler_are_an_error(clean_redis):
    status = health.periodic_jobs(clean_redis, now=NOW)
    assert status.state == health.ERROR
    assert "Ingen cron-scheduler kører" in status.message
    # Every job of flisportal/cron.py is listed.
    assert {job.name for job in status.jobs} >= {
        "fetch_all_recipients",
        "collect_receipts",
        "reconcile_deliveries",
        "verify_audit_chain",
    }


@pytest.mark.redis
def test_fetch_job_is_overdue_after_three_intervals(clean_redis, settings):
    interval = django_settings.FETCH_POLL_SECONDS
    CronScheduler(connection=clean_redis).register_birth()
    with time_machine.travel(NOW, tick=False):
        CronJob(
            queue_name="sftp", func=delivery_jobs.fetch_all_recipients, interval=interval
        ).enqueue(clean_redis)

    def fetch_row(now: datetime) -> health.PeriodicJobState:
        jobs = {job.name: job for job in health.periodic_jobs(clean_redis, now=now).jobs}
        return jobs["fetch_all_recipients"]

    on_time = fetch_row(NOW + timedelta(seconds=2 * interval))
    assert on_time.last_enqueued == NOW
    assert on_time.due == NOW + timedelta(seconds=interval)
    assert on_time.state == health.OK
    late = fetch_row(NOW + timedelta(seconds=3 * interval + 1))
    assert late.state == health.WARNING
    assert "Forsinket" in late.message


def test_redis_down_still_renders_and_says_so(redis_down, admin_user, client):
    client.force_login(admin_user)
    response = client.get(reverse("front:drift"))
    assert response.status_code == 200
    assert not response.context["status"].redis_ok
    page = response.content.decode()
    assert "Redis kan ikke nås" in page
    assert "uploads gemmes stadig" in page.lower()
    # The database sections are still there.
    assert "Leverancer der sidder fast" in page


def test_others_get_404_and_anonymous_the_login(client, vendor_a_user, consultant_user, redis_down):
    path = reverse("front:drift")
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    for user in (vendor_a_user, consultant_user):
        client.force_login(user)
        assert client.get(path).status_code == 404
    assert client.post(path).status_code == 405


def test_stuck_deliveries_are_counted_by_the_reconcilers_limits(
    upload_route, settings, admin_user, client, redis_down
):
    settings.RECONCILE_STUCK_MINUTES = 15
    settings.RECEIPT_OVERDUE_MINUTES = 60
    settings.NOTIFY_NOT_FETCHED_HOURS = 48
    S = DeliveryStatus
    old = NOW - timedelta(hours=72)
    recent = NOW - timedelta(minutes=5)

    def on_route(status: str, **fields: object) -> None:
        factories.delivery(upload_route, status=status, **fields)

    on_route(S.VALIDATING, status_changed_at=old)  # stuck
    on_route(S.VALIDATING, status_changed_at=old, heartbeat_at=recent)  # alive
    on_route(S.PUSHING, status_changed_at=old, heartbeat_at=old)  # stuck
    on_route(S.PUSHING, status_changed_at=recent)
    on_route(S.SENT, status_changed_at=old, sent_at=old)  # no receipt
    on_route(S.SENT, status_changed_at=recent, sent_at=recent)
    on_route(S.DISTRIBUTED, status_changed_at=old)  # not fetched
    on_route(S.DISTRIBUTED, status_changed_at=recent)
    on_route(S.FETCHED, status_changed_at=old)

    stuck = health.stuck_deliveries(now=NOW)
    counts = {row.status: row.count for row in stuck.rows}
    assert counts == {S.VALIDATING: 1, S.PUSHING: 1, S.SENT: 1, S.DISTRIBUTED: 1}
    assert stuck.state == health.ERROR

    # On the page each count links to the list filtered on its status.
    with time_machine.travel(NOW, tick=False):
        client.force_login(admin_user)
        page = client.get(reverse("front:drift")).content.decode()
        listed = client.get(reverse("deliveries:list"), {"status": "pushing"})
    assert f'href="{reverse("deliveries:list")}?status=pushing" data-stuck="pushing">1<' in page
    assert listed.context["page"].paginator.count == 2  # the list shows all in that status


def test_nothing_stuck_is_ok(db):
    stuck = health.stuck_deliveries(now=NOW)
    assert stuck.state == health.OK
    assert [row.count for row in stuck.rows] == [0, 0, 0, 0]


def test_endpoint_without_pinned_key_is_flagged_like_the_system_check(upload_route):
    from routes.keys import generate_key_pair

    factories.route(sender_system=upload_route.sender_system, endpoint="exttest")
    Endpoint.objects.filter(slug="produktion").update(
        host_key=generate_key_pair("ed25519").fingerprint
    )
    sent = factories.delivery(upload_route, status=DeliveryStatus.SENT, sent_at=NOW)
    factories.delivery(upload_route, status=DeliveryStatus.SENT, sent_at=NOW - timedelta(days=1))

    states = {endpoint.slug: endpoint for endpoint in health.endpoint_states()}

    assert states["exttest"].state == health.ERROR
    assert not states["exttest"].pinned
    assert "ingen fastlåst værtsnøgle" in states["exttest"].message
    # The same endpoints as system check E010, by the same rule.
    flagged = {slug for slug, state in states.items() if state.state == health.ERROR}
    e010 = {m.obj.slug for m in checks.check_pinned_host_keys(databases=["default"])}
    assert flagged == e010 == {"exttest"}
    assert states["produktion"].pinned and states["produktion"].state == health.OK
    # The stand-in without a key and with routes is fine: it registers its own.
    assert states["lokal"].state == health.OK
    assert states["lokal"].last_sent == sent.sent_at
    assert states["exttest"].last_sent is None


def test_mails_and_audit_chain(db):
    for status in (MailStatus.PENDING, MailStatus.SENDING, MailStatus.FAILED, MailStatus.SENT):
        OutgoingMail.objects.create(kind="x", to="a@example.dk", subject="s", status=status)
    mail = health.mail_state()
    assert (mail.waiting, mail.failed, mail.state) == (2, 1, health.ERROR)

    assert health.audit_state(now=NOW).state == health.WARNING  # never verified
    AuditCheckpoint.objects.create(seq=5, hash="a" * 64, verified_at=NOW - timedelta(days=1))
    AuditHeadExport.objects.create(
        seq=5, hash="a" * 64, at=NOW, exported_at=NOW - timedelta(days=1), destination="/x"
    )
    assert health.audit_state(now=NOW).state == health.OK
    OutgoingMail.objects.create(
        kind="audit_broken", to="admin@example.dk", subject="brud", created_at=NOW
    )
    audit = health.audit_state(now=NOW)
    assert audit.state == health.ERROR
    assert audit.broken_at == NOW


def _fetched(recipient, *, verdict: str, at: datetime, name: str = "fil.csv") -> Receipt:
    return Receipt.objects.create(
        filetransfer_uuid=str(uuid.uuid4()),
        recipient_sftp_user=recipient,
        recipient_system=recipient.it_system,
        file_name=name,
        size=3,
        sender="UKENDT_AFSENDER",
        verdict=verdict,
        verdict_detail="" if verdict == ReceiptVerdict.OK else "Filen er 3 bytes for lang.",
        fetched_at=at,
    )


def test_quarantined_fetches_of_the_last_week_are_shown_with_links(admin_user, client, redis_down):
    """Rule: a pair the Hent side could not trust is recorded as a problem that operations see:
    Driftsstatus counts the last week's quarantined receipts per reason, links each reason to
    the inbox filtered on it, and lists the newest with why."""
    flis = factories.sftp_user(factories.flis_system(), "FLIS_HENT")
    _fetched(flis, verdict=ReceiptVerdict.OK, at=NOW)
    assert health.quarantine_state(now=NOW).state == health.OK
    _fetched(flis, verdict=ReceiptVerdict.SIZE_MISMATCH, at=NOW - timedelta(days=8))
    assert health.quarantine_state(now=NOW).state == health.OK  # older than a week
    _fetched(flis, verdict=ReceiptVerdict.SIZE_MISMATCH, at=NOW - timedelta(hours=1), name="a.csv")
    _fetched(flis, verdict=ReceiptVerdict.SIZE_MISMATCH, at=NOW - timedelta(hours=2))
    _fetched(flis, verdict=ReceiptVerdict.MALFORMED_METADATA, at=NOW - timedelta(days=1))

    state = health.quarantine_state(now=NOW)
    assert state.state == health.WARNING
    assert [(c.verdict, c.count) for c in state.counts] == [
        (ReceiptVerdict.SIZE_MISMATCH, 2),
        (ReceiptVerdict.MALFORMED_METADATA, 1),
    ]
    assert state.newest[0].file_name == "a.csv"

    client.force_login(admin_user)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("front:drift")).content.decode()
    assert "Hentning: filer i karantæne" in page
    assert f'href="{reverse("deliveries:inbox")}?verdict=size_mismatch"' in page
    assert "Filen er 3 bytes for lang." in page
    assert "kontakt afsenderen" in page


def test_audit_head_export_shown_and_warned_when_stale(db, admin_user, client, redis_down):
    # Rule: without a fresh exported head, rows cut off the end of the audit log (checkpoint
    # and all) would go unseen; Driftsstatus says when the last head went out, and warns after
    # two days without one.
    AuditCheckpoint.objects.create(seq=5, hash="a" * 64, verified_at=NOW - timedelta(hours=1))
    assert health.audit_state(now=NOW).state == health.WARNING  # never exported
    AuditHeadExport.objects.create(
        seq=5,
        hash="a" * 64,
        at=NOW,
        exported_at=NOW - timedelta(days=2, minutes=1),
        destination="/x",
    )
    stale = health.audit_state(now=NOW)
    assert stale.state == health.WARNING and "ikke eksporteret" in stale.message
    AuditHeadExport.objects.create(
        seq=5, hash="a" * 64, at=NOW, exported_at=NOW - timedelta(hours=3), destination="/x"
    )
    fresh = health.audit_state(now=NOW)
    assert fresh.state == health.OK and fresh.head_export.exported_at == NOW - timedelta(hours=3)
    client.force_login(admin_user)
    with time_machine.travel(NOW, tick=False):
        page = client.get(reverse("front:drift")).content.decode()
    # 09:00 UTC is 10:00 in Copenhagen in November.
    assert "Seneste hoved eksporteret 27.11.2026 10:00 (post #5)." in page


@pytest.mark.redis
def test_page_reads_a_fixed_number_of_queries(
    clean_redis, admin_user, client, upload_route, flis_system
):
    client.force_login(admin_user)
    client.get(reverse("front:drift"))  # warm up: the session and the user

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("front:drift")).status_code == 200
        return len(queries)

    before = count()
    for status in DeliveryStatus.values:
        for _ in range(3):
            factories.delivery(upload_route, status=status, sent_at=NOW, status_changed_at=NOW)
    factories.route(sender_system=upload_route.sender_system, endpoint="exttest")
    for n in range(5):
        OutgoingMail.objects.create(kind="x", to=f"{n}@example.dk", subject="s")
    AuditCheckpoint.objects.create(seq=1, hash="a" * 64)
    flis = factories.sftp_user(flis_system, "FLIS_HENT")
    for verdict in ReceiptVerdict.values:
        for _ in range(3):
            _fetched(flis, verdict=verdict, at=NOW)
    assert count() == before
    # Session, user, then one each: stuck deliveries, endpoints, mails; two for quarantined
    # fetches and three for the audit log (checkpoint, break, exported head).
    assert before == 10


def test_page_in_english(admin_user, client, redis_down, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(admin_user)
    page = client.get(reverse("front:drift")).content.decode()
    assert "Operations status" in page and "Stuck deliveries" in page
    assert "Redis cannot be reached" in page
    assert "No head has been exported yet." in page
    assert "Driftsstatus" not in page


def test_linked_from_the_menu_and_the_start_page(admin_user, client, redis_down):
    client.force_login(admin_user)
    page = client.get(reverse("front:start")).content.decode()
    assert page.count(f'href="{reverse("front:drift")}"') == 2
