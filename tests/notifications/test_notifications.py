"""Notifications through Django's mail outbox: who gets what (content, recipients), immediate
vs daily digest, retries of failed sends, and the worker that sends after commit."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from deliveries.jobs import validate_delivery
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.services.expected import expected_deliveries_scan
from flisportal.notifications import services
from flisportal.notifications.models import (
    Cadence,
    MailStatus,
    NotificationPreference,
    OutgoingMail,
)
from routes.models import Endpoint, ITSystem, SftpKey, SftpUser, User
from routes.notify import notify_expiring_keys
from tests.factories import dagtilbud_csv, dagtilbud_row
from tests.helpers.clock import local
from tests.helpers.lifecycle import DISTRIBUTED, walk_to

pytestmark = pytest.mark.django_db

S = DeliveryStatus


def send_all() -> list[str | None]:
    """What the worker does for each queued mail (the tests' transactions never commit, so
    the on-commit enqueue does not run here; `test_worker_sends_after_commit` covers it)."""
    return [
        services.mail_send(mail_id=pk)
        for pk in OutgoingMail.objects.filter(status=MailStatus.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    ]


@pytest.fixture
def uploader(vendor_a_user):
    vendor_a_user.email = "uploader@leverandoer-a.dk"
    vendor_a_user.save()
    return vendor_a_user


@pytest.fixture
def people(consultant_user, admin_user, vendor_a, kommune_aarhus):
    consultant_user.email = "konsulent@kk.dk"
    consultant_user.save()
    admin_user.email = "admin@flisportal.dk"
    admin_user.save()
    vendor_a.contact_email = "drift@leverandoer-a.dk"
    vendor_a.save()
    other = User.objects.create_user("aarhus", password="pw-aarhus-1234", email="k@aarhus.dk")
    other.kommuner.add(kommune_aarhus)
    return consultant_user


# --- to the uploader --------------------------------------------------------------------------


def test_validation_failed_mail_lists_the_first_errors(
    make_delivery, upload_route, uploader, settings
):
    settings.NOTIFY_FIRST_ERRORS = 3
    rows = [dagtilbud_row(i, pladstype="halv") for i in range(6)]
    delivery = make_delivery(upload_route, uploader, dagtilbud_csv(*rows))
    assert validate_delivery(delivery.pk) == S.REJECTED
    assert send_all() == [MailStatus.SENT]
    [message] = mail.outbox
    assert message.to == ["uploader@leverandoer-a.dk"]
    assert message.subject == "Leverance afvist: Dagtilbud, Københavns Kommune, 2026-10"
    assert "blev afvist ved valideringen med 6 fejl" in message.body
    assert message.body.count("- række") == 3  # the first three errors, not all six
    assert f"/leverancer/{delivery.uuid}/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<li>række 2, pladstype" in html
    sent = OutgoingMail.objects.get()
    assert sent.status == MailStatus.SENT and sent.attempts == 1 and sent.sent_at is not None


def test_validation_failed_mail_carries_no_cell_values(make_delivery, upload_route, uploader):
    # Rule: a rejection mail says where (row, column) and which rule, never what the cell held:
    # the values are CPR numbers and the like, and mail leaves the portal's access control.
    cpr = "3213455001"  # not a date: refused, and CPR-shaped like the values it stands for
    delivery = make_delivery(upload_route, uploader, dagtilbud_csv(dagtilbud_row(cpr_barn=cpr)))
    assert validate_delivery(delivery.pk) == S.REJECTED
    issue = delivery.issues.get(column="cpr_barn")
    assert issue.value == cpr  # the report keeps it, behind the portal's login
    send_all()
    [message] = mail.outbox
    html, _mimetype = message.alternatives[0]
    for body in (message.body, html):
        assert cpr not in body
        assert issue.message not in body
        # Which rule, in words from the contract (deliveries.rules) and by its code.
        assert "række 2, cpr_barn: CPR-nummer: 10 cifre uden bindestreg" in body
        assert f"regel {issue.rule})" in body or f"regel <code>{issue.rule}</code>)" in body


def test_distributed_and_fetched_mails_to_the_uploader(make_delivery, upload_route, uploader):
    delivery = make_delivery(upload_route, uploader, "x")
    walk_to(delivery, *DISTRIBUTED, S.FETCHED)
    send_all()
    assert [m.subject for m in mail.outbox] == [
        "Leveret: Dagtilbud, Københavns Kommune, 2026-10",
        "Hentet af modtageren: Dagtilbud, Københavns Kommune, 2026-10",
    ]
    assert all(m.to == ["uploader@leverandoer-a.dk"] for m in mail.outbox)


def test_push_failed_mails_the_uploader_the_administrators_and_the_kommunes_consultant(
    make_delivery, upload_route, uploader, people
):
    # The consultant of København has made no choice: refusals reach them by default.
    delivery = make_delivery(upload_route, uploader, "x")
    walk_to(delivery, S.VALIDATING, S.VALID, S.PUSHING)
    from deliveries.lifecycle.transitions import delivery_transition

    delivery_transition(
        delivery_id=delivery.pk,
        old=S.PUSHING,
        new=S.FAILED,
        message="auth",
        last_error="Godkendelse afvist",
    )
    send_all()
    by_to = {m.to[0]: m for m in mail.outbox}
    assert set(by_to) == {"uploader@leverandoer-a.dk", "admin@flisportal.dk", "konsulent@kk.dk"}
    assert by_to["uploader@leverandoer-a.dk"].subject.startswith("Afsendelse fejlet: Dagtilbud")
    assert "Godkendelse afvist" in by_to["uploader@leverandoer-a.dk"].body
    assert by_to["admin@flisportal.dk"].subject == (
        "Afsendelser på en rute fejler: Dagtilbud, Københavns Kommune"
    )


def test_a_status_nobody_needs_to_hear_of_sends_nothing(make_delivery, upload_route, uploader):
    delivery = make_delivery(upload_route, uploader, "x")
    walk_to(delivery, S.VALIDATING, S.VALID, S.PUSHING, S.SENT)
    assert not OutgoingMail.objects.exists()


# --- to consultants and the vendor's contact --------------------------------------------------


def test_due_soon_and_overdue_go_to_the_kommunes_consultants_and_the_vendor(owing_route, people):
    with time_machine.travel(local(2026, 11, 8, 6, 0), tick=False):
        expected_deliveries_scan()
        expected_deliveries_scan()  # a second run tells nobody twice
        send_all()
    assert sorted(m.to[0] for m in mail.outbox) == ["drift@leverandoer-a.dk", "konsulent@kk.dk"]
    assert {m.subject for m in mail.outbox} == {
        "Frist nærmer sig: Dagtilbud, Københavns Kommune, 2026-10"
    }
    assert "skal være leveret senest 10.11.2026" in mail.outbox[0].body
    mail.outbox.clear()
    with time_machine.travel(local(2026, 11, 11, 0, 5), tick=False):
        expected_deliveries_scan()
        send_all()
    assert sorted(m.to[0] for m in mail.outbox) == ["drift@leverandoer-a.dk", "konsulent@kk.dk"]
    assert mail.outbox[0].subject == "Frist overskredet: Dagtilbud, Københavns Kommune, 2026-10"
    assert "/leverancer/kommune/101/" in mail.outbox[0].body


def test_distributed_but_not_fetched_is_reported_once(
    owing_route, people, make_delivery, uploader, settings
):
    settings.NOTIFY_NOT_FETCHED_HOURS = 48
    with time_machine.travel(local(2026, 11, 2, 9, 0), tick=False):
        delivery = make_delivery(owing_route, uploader, "x")
        walk_to(delivery, *DISTRIBUTED)
    OutgoingMail.objects.all().delete()  # the uploader's "distributed" mail
    with time_machine.travel(local(2026, 11, 4, 8, 59), tick=False):
        assert expected_deliveries_scan().not_fetched == 0
    with time_machine.travel(local(2026, 11, 4, 9, 0), tick=False):
        assert expected_deliveries_scan().not_fetched == 1
        assert expected_deliveries_scan().not_fetched == 0
        send_all()
    assert sorted(m.to[0] for m in mail.outbox) == ["drift@leverandoer-a.dk", "konsulent@kk.dk"]
    assert "ikke hentet det inden for 48 timer" in mail.outbox[0].body


# --- to administrators ------------------------------------------------------------------------


def test_administrators_hear_once_of_a_key_expiring_within_30_days(system_a, people):
    user = SftpUser.objects.create(
        it_system=system_a, endpoint=Endpoint.objects.get(slug="exttest"), username="A_SFTP"
    )
    now = timezone.now()
    SftpKey.objects.create(
        sftp_user=user,
        algorithm="ssh-ed25519",
        public_key="ssh-ed25519 AAAA",
        fingerprint="SHA256:soon",
        encrypted_private_key=b"x",
        expires_at=now + timedelta(days=20),
    )
    assert notify_expiring_keys(now=now) == 1
    assert notify_expiring_keys(now=now) == 0
    send_all()
    [message] = mail.outbox
    assert message.to == ["admin@flisportal.dk"]
    assert message.subject == "SSH-nøgle udløber snart: A_SFTP"
    assert "SHA256:soon" in message.body


def test_a_key_expiring_later_is_not_reported(system_a, people):
    user = SftpUser.objects.create(
        it_system=system_a, endpoint=Endpoint.objects.get(slug="exttest"), username="A_SFTP"
    )
    SftpKey.objects.create(
        sftp_user=user,
        algorithm="ssh-ed25519",
        public_key="ssh-ed25519 AAAA",
        fingerprint="SHA256:later",
        encrypted_private_key=b"x",
        expires_at=timezone.now() + timedelta(days=40),
    )
    assert notify_expiring_keys() == 0


# --- digest -----------------------------------------------------------------------------------


def test_digest_people_get_one_mail_a_day_with_everything(
    owing_route, people, make_delivery, uploader
):
    NotificationPreference.objects.create(user=people, cadence=Cadence.DIGEST)
    NotificationPreference.objects.create(user=uploader, cadence=Cadence.DIGEST)
    with time_machine.travel(local(2026, 11, 8, 6, 0), tick=False):
        expected_deliveries_scan()
        delivery = make_delivery(owing_route, uploader, "x", period="2026-09")
        walk_to(delivery, *DISTRIBUTED, S.FETCHED)
        send_all()
    # The vendor's contact is an address, not a person with a choice: told at once.
    assert [m.to[0] for m in mail.outbox] == ["drift@leverandoer-a.dk"]
    assert OutgoingMail.objects.filter(status=MailStatus.DIGEST).count() == 3
    mail.outbox.clear()
    assert services.digests_send() == 2
    send_all()
    by_to = {m.to[0]: m for m in mail.outbox}
    assert set(by_to) == {"konsulent@kk.dk", "uploader@leverandoer-a.dk"}
    assert by_to["konsulent@kk.dk"].subject == "FLIS-portalen: 1 besked"
    assert "Frist nærmer sig: Dagtilbud" in by_to["konsulent@kk.dk"].body
    uploader_digest = by_to["uploader@leverandoer-a.dk"]
    assert uploader_digest.subject == "FLIS-portalen: 2 beskeder"
    assert "Leveret: Dagtilbud, Københavns Kommune, 2026-09" in uploader_digest.body
    assert "Hentet af modtageren: Dagtilbud" in uploader_digest.body
    assert not OutgoingMail.objects.filter(status=MailStatus.DIGEST).exists()
    assert (
        OutgoingMail.objects.filter(status=MailStatus.DIGESTED, digest__isnull=False).count() == 3
    )
    assert services.digests_send() == 0  # nothing twice


# --- failures and retries ---------------------------------------------------------------------


def test_failed_sends_are_retried_after_doubling_delays_without_jitter(
    owing_route, settings, monkeypatch
):
    settings.EMAIL_BACKEND = "tests.notifications.failing.FailingBackend"
    settings.MAIL_RETRY_SECONDS = 60
    settings.MAIL_MAX_ATTEMPTS = 4
    delays: list[timedelta] = []
    monkeypatch.setattr(
        services, "enqueue_in_on_commit", lambda queue, delay, job, pk: delays.append(delay)
    )
    [pk] = services.notify(
        kind="key_expiring",
        recipients=[services.Recipient("admin@flisportal.dk")],
        context={
            "key": SftpKey(
                sftp_user=SftpUser(
                    it_system=ITSystem.objects.get(name="System A"),
                    endpoint=Endpoint.objects.get(slug="exttest"),
                    username="X",
                    pk=1,
                ),
                fingerprint="SHA256:x",
            )
        },
    )
    while services.mail_send(mail_id=pk) == MailStatus.PENDING:
        pass
    assert delays == [timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=240)]


def test_a_failed_send_is_retried_then_given_up_and_shown_to_administrators(
    client, owing_route, people, settings
):
    settings.EMAIL_BACKEND = "tests.helpers.mail.FailingBackend"
    settings.MAIL_MAX_ATTEMPTS = 2
    [pk] = services.notify(
        kind="key_expiring",
        recipients=[services.Recipient("admin@flisportal.dk")],
        context={
            "key": SftpKey(
                sftp_user=SftpUser(
                    it_system=ITSystem.objects.get(name="System A"),
                    endpoint=Endpoint.objects.get(slug="exttest"),
                    username="X",
                    pk=1,
                ),
                fingerprint="SHA256:x",
            )
        },
    )
    assert services.mail_send(mail_id=pk) == MailStatus.PENDING
    row = OutgoingMail.objects.get(pk=pk)
    assert row.attempts == 1
    assert row.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"
    assert services.mail_send(mail_id=pk) == MailStatus.FAILED
    assert services.mail_send(mail_id=pk) is None  # a failed mail is not sent by a stray job
    row.refresh_from_db()
    assert row.status == MailStatus.FAILED and row.attempts == 2
    client.force_login(people.__class__.objects.get(username="admin"))
    page = client.get(reverse("admin:notifications_outgoingmail_changelist"))
    assert page.status_code == 200
    assert "fejlet (opgivet)" in page.content.decode()
    response = client.post(
        reverse("admin:notifications_outgoingmail_changelist"),
        {"action": "send_again", "_selected_action": [pk]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == MailStatus.PENDING and row.attempts == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.mail_send(mail_id=pk) == MailStatus.SENT
    assert len(mail.outbox) == 1


def test_production_refuses_clear_text_smtp_when_sending_not_only_at_check_time(
    owing_route, people, settings
):
    """Rule: mails name people, deliveries and kommuner; in production they leave over TLS or
    not at all (unless FLISPORTAL_EMAIL_ALLOW_PLAINTEXT). gunicorn and the workers run no system
    checks, so the refusal is at the moment of sending, before any connection is made."""
    settings.DEBUG = False
    # Django's SMTP backend named by the operator is replaced by the portal's (settings.py).
    settings.EMAIL_BACKEND = "flisportal.lib.mail.SmtpBackend"
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_ALLOW_PLAINTEXT = False
    connections: list[object] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        settings.EMAIL_HOST, settings.EMAIL_PORT = listener.getsockname()
        settings.EMAIL_TIMEOUT = 2
        [pk] = services.notify(
            kind="audit_broken",
            recipients=[services.Recipient("admin@flisportal.dk")],
            context={"problems": ["#1"], "count": 1},
        )

        def accepted() -> None:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                return
            connections.append(conn)
            conn.close()

        assert services.mail_send(mail_id=pk) == MailStatus.PENDING
        accepted()
        row = OutgoingMail.objects.get(pk=pk)
        assert row.last_error.startswith("PlaintextMailRefused: Mailen er ikke sendt")
        assert "EMAIL_USE_TLS=true" in row.last_error
        assert connections == []

        # Allowed in so many words (a relay on this machine): the portal connects.
        settings.EMAIL_ALLOW_PLAINTEXT = True
        thread = threading.Thread(target=accepted)
        thread.start()
        services.mail_send(mail_id=pk)
        thread.join()
        assert len(connections) == 1


# --- preference page --------------------------------------------------------------------------


def test_preference_page_saves_the_persons_own_choice(client, consultant_user):
    client.force_login(consultant_user)
    url = reverse("notifications:preferences")
    assert client.get(url).status_code == 200
    response = client.post(url, {"cadence": "digest"})
    assert response.status_code == 302
    assert NotificationPreference.objects.get(user=consultant_user).cadence == Cadence.DIGEST
    client.post(url, {"cadence": "immediate"})
    assert NotificationPreference.objects.get().cadence == Cadence.IMMEDIATE
    assert client.put(url).status_code == 405
    assert client.post(url, {"cadence": "hourly"}).status_code == 200  # invalid: form again


def test_preference_page_needs_login(client):
    assert client.get(reverse("notifications:preferences")).status_code == 302


# --- the worker -------------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_worker_sends_after_commit(clean_redis, run_worker, monkeypatch):
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    with transaction.atomic():
        [pk] = services.notify(
            kind="digest",
            recipients=[services.Recipient("someone@kk.dk")],
            context={"items": []},
        )
        # Nothing is on the queue before the row is committed.
        import django_rq

        assert django_rq.get_queue("default").count == 0
    assert django_rq.get_queue("default").count == 1
    result = run_worker("default")
    assert result.returncode == 0, result.stderr
    row = OutgoingMail.objects.get(pk=pk)
    assert row.status == MailStatus.SENT, (row.last_error, result.stderr[-2000:])
    assert row.attempts == 1 and row.sent_at is not None


@pytest.mark.redis
def test_digest_and_key_warnings_are_registered_with_cron(clean_redis):
    from django_rq.cron import DjangoCronScheduler

    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("flisportal.cron")
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    assert jobs["flisportal.notifications.jobs.send_digests"].cron == "0 7 * * *"  # DIGEST_CRON
    assert "routes.jobs.warn_expiring_keys" in jobs


def test_mails_whose_job_was_lost_are_queued_again(settings, django_capture_on_commit_callbacks):
    settings.MAIL_STUCK_MINUTES = 60
    now = timezone.now()
    old = now - timedelta(minutes=61)
    waiting = OutgoingMail.objects.create(
        kind="x", to="a@kk.dk", subject="s", body_text="b", created_at=old
    )
    stuck = OutgoingMail.objects.create(
        kind="x",
        to="b@kk.dk",
        subject="s",
        body_text="b",
        created_at=old,
        status=MailStatus.SENDING,
        last_attempt_at=old,
        attempts=1,
    )
    fresh = OutgoingMail.objects.create(kind="x", to="c@kk.dk", subject="s", body_text="b")
    sending_now = OutgoingMail.objects.create(
        kind="x",
        to="d@kk.dk",
        subject="s",
        body_text="b",
        created_at=old,
        status=MailStatus.SENDING,
        last_attempt_at=now,
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.mails_requeue(now=now) == 2
    assert len(callbacks) == 2
    stuck.refresh_from_db()
    assert stuck.status == MailStatus.PENDING
    for row in (waiting, fresh, sending_now):
        before = row.status
        row.refresh_from_db()
        assert row.status == before
    # What the queued jobs then do: each mail once.
    assert services.mail_send(mail_id=waiting.pk) == MailStatus.SENT
    assert services.mail_send(mail_id=stuck.pk) == MailStatus.SENT
    assert services.mail_send(mail_id=stuck.pk) is None
    assert sorted(m.to[0] for m in mail.outbox) == ["a@kk.dk", "b@kk.dk"]
