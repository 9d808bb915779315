"""Failed logins in the audit log (flisportal/audit/login_failures.py): anonymous, with the tried
user name escaped and bounded, and counted rather than written once per attempt."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from flisportal import cron
from flisportal.audit.jobs import summarise_login_failures
from flisportal.audit.login_failures import (
    ANONYMOUS_LABEL,
    FURTHER_USERNAMES,
    login_failure_record,
)
from flisportal.audit.models import AuditEntry, LoginFailureTally
from flisportal.audit.services import audit_record, audit_verify

pytestmark = pytest.mark.django_db

RLO = "\u202e"
# One minute into a 15-minute window (windows are cut at :00, :15, :30, :45 UTC).
IN_WINDOW = datetime(2026, 3, 2, 10, 1, tzinfo=UTC)
AFTER_WINDOW = IN_WINDOW + timedelta(minutes=15)


def failed_login(client, username, **extra):
    return client.post(reverse("login"), {"username": username, "password": "forkert"}, **extra)


def test_a_thousand_failed_logins_write_one_row_and_then_their_count(client, vendor_a_user):
    # Rule: whoever fails decides how many failures there are, not how many audit rows: one row
    # at the first failure of an address and user name in a window, one with the count after it.
    with time_machine.travel(IN_WINDOW, tick=False):
        for _ in range(1000):
            failed_login(client, "vendor-a")
    first = AuditEntry.objects.get()
    assert first.action == "auth.login_failed"
    assert first.after == {"source": "127.0.0.1", "username": "vendor-a"}
    with time_machine.travel(AFTER_WINDOW, tick=False):
        assert summarise_login_failures() == {"written": 1}
    summary = AuditEntry.objects.order_by("seq").last()
    assert summary.action == "auth.login_failed_repeated"
    assert summary.actor_label == ANONYMOUS_LABEL
    assert summary.after["further_failures"] == 999
    assert summary.after["window_start"] == "2026-03-02T10:00:00+00:00"
    assert not LoginFailureTally.objects.exists()
    assert audit_verify().ok  # only appended: the chain is intact


def test_a_window_with_a_single_failure_adds_no_summary():
    with time_machine.travel(IN_WINDOW, tick=False):
        login_failure_record(source="192.0.2.1", username="vendor-a")
    with time_machine.travel(AFTER_WINDOW, tick=False):
        assert summarise_login_failures() == {"written": 0}
    assert AuditEntry.objects.count() == 1
    assert not LoginFailureTally.objects.exists()


def test_an_open_window_is_not_summarised_yet():
    with time_machine.travel(IN_WINDOW, tick=False):
        for _ in range(3):
            login_failure_record(source="192.0.2.1", username="vendor-a")
        assert summarise_login_failures() == {"written": 0}
    assert LoginFailureTally.objects.get().failures == 3


def test_spraying_user_names_writes_rows_only_up_to_the_address_limit(settings):
    # Rule: past FLISPORTAL_LOGIN_FAILURES_PER_ADDRESS names in a window, further names from the
    # address are counted together, so 200 names do not write 200 rows.
    settings.FLISPORTAL_LOGIN_FAILURES_PER_ADDRESS = 20
    with time_machine.travel(IN_WINDOW, tick=False):
        for n in range(200):
            login_failure_record(source="198.51.100.66", username=f"bruger-{n}")
        login_failure_record(source="203.0.113.9", username="bruger-0")  # another address
    assert AuditEntry.objects.count() == 22
    further = AuditEntry.objects.get(object_repr=FURTHER_USERNAMES)
    assert further.after == {"source": "198.51.100.66", "further_usernames": True}
    with time_machine.travel(AFTER_WINDOW, tick=False):
        summarise_login_failures()
    summary = AuditEntry.objects.get(action="auth.login_failed_repeated")
    assert summary.after["further_failures"] == 179


def test_a_right_to_left_override_never_reaches_the_actor_label(client, db):
    # Rule: a failed login is anonymous; the tried name is kept, escaped, never as the actor.
    tried = f"admin{RLO}gpj.exe"
    failed_login(client, tried)
    entry = AuditEntry.objects.get()
    assert entry.actor_label == ANONYMOUS_LABEL
    assert entry.actor is None
    assert entry.object_repr == "admin\\u202egpj.exe"
    assert entry.after["username"] == "admin\\u202egpj.exe"
    assert RLO not in entry.actor_label + entry.object_repr + str(entry.after)


def test_a_long_tried_name_is_bounded(client, db):
    failed_login(client, "x" * 150)
    entry = AuditEntry.objects.get()
    assert len(entry.after["username"]) == 80 and entry.after["username"].endswith("…")


def test_the_audit_page_shows_tried_names_harmlessly(client, admin_user):
    # Rule: where a tried name is shown it cannot turn the row round: new rows hold it escaped,
    # and an older row's raw text sits in <bdi>, isolated from the rest of the row.
    failed_login(client, f"ny{RLO}navn")
    audit_record(action="auth.login_failed", object_repr=f"gammel{RLO}navn", actor_label="x")
    client.force_login(admin_user)
    page = client.get(reverse("audit:log")).content.decode()
    assert "ny\\u202enavn" in page and f"ny{RLO}navn" not in page
    assert f"<bdi>gammel{RLO}navn</bdi>" in page
    admin_page = client.get(reverse("admin:audit_auditentry_changelist")).content.decode()
    assert f"<bdi>gammel{RLO}navn</bdi>" in admin_page


def test_a_login_is_recorded_with_the_address_our_proxy_saw(client, vendor_a_user, settings):
    # Rule: the audit log names the same client address the lockout counts, from one function.
    settings.FLISPORTAL_TRUSTED_PROXY_COUNT = 1
    proxied = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.9"}
    failed_login(client, "vendor-a", **proxied)
    client.post(
        reverse("login"), {"username": "vendor-a", "password": "pw-vendor-a-1234"}, **proxied
    )
    failed, ok = AuditEntry.objects.order_by("seq")
    assert failed.after["source"] == "203.0.113.9"
    assert ok.action == "auth.login" and ok.after == {"source": "203.0.113.9"}


def test_the_summary_runs_once_per_window():
    # Rule: counts are written soon after their window closes, so the summary is a cron job with
    # the window's length (flisportal/cron.py).
    (job,) = [job for job in cron.JOBS if job["func"] is summarise_login_failures]
    assert job["interval"] == 15 * 60
