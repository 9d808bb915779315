"""Retention of the personal data around deliveries: finished outgoing mails after
RETENTION_MAIL_DAYS, django-axes' lockout counters after the cool-off and its login logs after
RETENTION_LOGIN_LOG_DAYS; waiting mails never; dry run; one audit row per kind and run."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessLog
from django.core.management import call_command
from django.urls import reverse

from deliveries.services.retention import login_records_purge, mails_purge, retention_run
from flisportal.audit.models import AuditEntry
from flisportal.audit.services import audit_verify
from flisportal.lib.periods import COPENHAGEN
from flisportal.notifications.models import MailStatus, OutgoingMail

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, 10, 0, tzinfo=COPENHAGEN)
DAY = timedelta(days=1)


def mail(status: str, **times: datetime) -> OutgoingMail:
    return OutgoingMail.objects.create(
        kind="overdue",
        to="konsulent@kk.dk",
        subject="Leverance mangler",
        body_text="Personale for København, 2025-12, mangler.",
        status=status,
        created_at=times.pop("created_at", START),
        **times,
    )


def remaining() -> set[int]:
    return set(OutgoingMail.objects.values_list("pk", flat=True))


def test_finished_mails_go_after_the_retention_and_waiting_ones_never(settings):
    settings.RETENTION_MAIL_DAYS = 180
    sent = mail(MailStatus.SENT, sent_at=START, last_attempt_at=START)
    given_up = mail(MailStatus.FAILED, last_attempt_at=START, created_at=START - DAY)
    digest = mail(MailStatus.SENT, sent_at=START + DAY, created_at=START + DAY)
    item = mail(MailStatus.DIGESTED, digest=digest)
    pending = mail(MailStatus.PENDING, created_at=START - 400 * DAY)
    waiting = mail(MailStatus.DIGEST, created_at=START - 400 * DAY)
    sending = mail(MailStatus.SENDING, last_attempt_at=START - 400 * DAY)
    everything = {m.pk for m in (sent, given_up, digest, item, pending, waiting, sending)}

    assert mails_purge(now=START + 180 * DAY - timedelta(seconds=1)) == 0
    assert remaining() == everything
    assert mails_purge(now=START + 180 * DAY) == 3
    assert remaining() == everything - {sent.pk, given_up.pk, item.pk}
    assert mails_purge(now=START + 181 * DAY) == 1
    assert remaining() == {pending.pk, waiting.pk, sending.pk}

    rows = AuditEntry.objects.filter(action="outgoingmail.deleted").order_by("seq")
    assert [row.before["count"] for row in rows] == [3, 1]
    assert {row.actor_label for row in rows} == {"opbevaring"}
    assert rows[0].after["reason"] == "retention"
    assert audit_verify().ok


def test_dry_run_counts_mails_and_deletes_nothing(settings, capsys):
    settings.RETENTION_MAIL_DAYS = 30
    mail(MailStatus.SENT, sent_at=START)
    with time_machine.travel(START + 31 * DAY, tick=False):
        call_command("retention", "--dry-run")
        assert "1 udgående mails" in capsys.readouterr().out
        assert OutgoingMail.objects.count() == 1
        assert not AuditEntry.objects.filter(action="outgoingmail.deleted").exists()
        call_command("retention")
    assert "1 udgående mails" in capsys.readouterr().out
    assert OutgoingMail.objects.count() == 0


def login(client, username: str, password: str) -> int:
    return client.post(reverse("login"), {"username": username, "password": password}).status_code


def test_lockout_counters_go_after_the_cool_off_and_login_logs_after_their_days(
    client, vendor_a_user, settings
):
    settings.RETENTION_LOGIN_LOG_DAYS = 90
    cool_off = settings.AXES_COOLOFF_TIME
    with time_machine.travel(START, tick=False):
        assert login(client, "ukendt", "forkert") == 200  # a failure: a lockout counter
        assert login(client, "vendor-a", "pw-vendor-a-1234") == 302  # a success: a log row
    assert AccessAttempt.objects.count() == 1 and AccessLog.objects.count() == 1

    # Within the cool-off the counter still counts (it may be what locks an account).
    assert login_records_purge(now=START + cool_off - timedelta(seconds=1)) == (0, 0)
    assert login_records_purge(now=START + cool_off, dry_run=True) == (1, 0)
    assert AccessAttempt.objects.count() == 1
    assert login_records_purge(now=START + cool_off) == (1, 0)
    assert not AccessAttempt.objects.exists()

    assert retention_run(now=START + 90 * DAY - timedelta(seconds=1)).login_logs == 0
    result = retention_run(now=START + 90 * DAY)
    assert (result.login_attempts, result.login_logs) == (0, 1)
    assert not AccessLog.objects.exists()

    rows = AuditEntry.objects.filter(action="axes.deleted").order_by("seq")
    assert [(r.before["access_attempts"], r.before["access_logs"]) for r in rows] == [
        (1, 0),
        (0, 1),
    ]
    assert audit_verify().ok
