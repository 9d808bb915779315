"""The audit log as evidence: a keyed chain (HMAC with a key outside the database), each day's
head exported out of the database, and the three tamperings an unkeyed chain with its
checkpoint in the same database let through, each found: rows deleted after the last
checkpoint, rows deleted to the end together with the checkpoint, and an edited row with every
later hash recomputed."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import logging
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.test import override_settings
from django_rq.cron import DjangoCronScheduler

from flisportal.audit.jobs import export_audit_head, verify_audit_chain
from flisportal.audit.models import AuditCheckpoint, AuditEntry, AuditHeadExport, AuditKeyStart
from flisportal.audit.services import (
    GENESIS,
    audit_export_head,
    audit_record,
    audit_verify,
    compute_hash,
    content_of,
    read_heads,
)
from tests.helpers.audit import tampering

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(admin_user):
    return [
        audit_record(action="test.step", object_repr=f"trin {n}", after={"n": n}, actor=admin_user)
        for n in range(1, 5)
    ]


@pytest.fixture
def heads_file(settings):
    return settings.AUDIT_HEADS_FILE


def _recompute_from(seq: int, *, keyed: bool) -> None:
    """The tamperer's rewrite: every hash from `seq` on recomputed and linked again, with the
    plain SHA-256 (`keyed=False`) or whatever key the test has put in the settings."""
    prev = AuditEntry.objects.get(seq=seq - 1).hash if seq > 1 else GENESIS
    for entry in AuditEntry.objects.filter(seq__gte=seq).order_by("seq"):
        entry.prev_hash = prev
        entry.hash = compute_hash(entry, keyed=keyed)
        AuditEntry.objects.filter(pk=entry.pk).update(prev_hash=entry.prev_hash, hash=entry.hash)
        prev = entry.hash


def test_rows_carry_an_hmac_under_the_configured_key(chain, settings):
    # Rule: the chain is keyed; without the key (outside the database) nobody can compute a
    # row's hash. Under another key the whole chain fails, with a hint at the key.
    stored = AuditEntry.objects.get(seq=2)
    canonical = json.dumps(
        content_of(stored), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    message = (canonical + stored.prev_hash).encode()
    key = settings.AUDIT_HMAC_KEY.encode()
    assert stored.hash == hmac.new(key, message, hashlib.sha256).hexdigest()
    assert stored.hash != hashlib.sha256(message).hexdigest()
    settings.AUDIT_HMAC_KEY = "another installation's audit key, 32+ chars"
    problems = audit_verify().problems
    assert len(problems) == 5
    assert "er FLISPORTAL_AUDIT_HMAC_KEY den samme nøgle" in problems[-1]


@pytest.mark.parametrize("rewrite", ["uden nøgle", "med en anden nøgle"])
def test_an_edit_with_every_later_hash_recomputed_is_found(chain, settings, rewrite):
    # Tampering 3: a row edited and every hash after it recomputed, so every link holds. An
    # unkeyed chain verified that as intact; the keyed one cannot be recomputed without the key.
    with tampering():
        AuditEntry.objects.filter(seq=2).update(actor_label="en anden")
        if rewrite == "uden nøgle":
            _recompute_from(2, keyed=False)
        else:
            with override_settings(AUDIT_HMAC_KEY="the tamperer's own key, 32+ characters"):
                _recompute_from(2, keyed=True)
    assert audit_verify().problems == [
        f"#{n}: indholdet passer ikke med hash (ændret?)" for n in (2, 3, 4)
    ]
    with pytest.raises(CommandError, match="Revisionsloggen er brudt: 3 fejl i 4 poster"):
        call_command("audit_verify")


def test_rows_deleted_after_the_last_checkpoint_are_found_against_the_heads(chain, heads_file):
    # Tampering 1: rows after the last checkpoint deleted. The database alone cannot tell (the
    # checkpoint still matches); the head exported since then is missing.
    assert audit_verify().ok  # checkpoint at #4
    audit_record(action="test.step", object_repr="trin 5")
    audit_record(action="test.step", object_repr="trin 6")
    audit_export_head()
    with tampering():
        AuditEntry.objects.filter(seq__gte=5).delete()
    assert audit_verify(checkpoint=False).ok  # what the checkpoint alone sees
    [problem] = audit_verify(heads=read_heads(heads_file)).problems
    assert problem.startswith("#6 (eksporteret som hoved ")
    assert problem.endswith("findes ikke i databasen: poster er slettet fra enden af loggen")
    with pytest.raises(CommandError, match="Revisionsloggen er brudt: 1 fejl i 4 poster"):
        call_command("audit_verify", "--heads", str(heads_file))


def test_rows_deleted_to_the_end_with_the_checkpoint_are_found_against_the_heads(
    heads_file, capsys
):
    # Tampering 2: rows cut off the end together with the checkpoint that named them. Two heads
    # exported (one day at #3, the next at #4): both gone, said once with the count.
    for n in range(1, 5):
        audit_record(action="test.step", object_repr=f"trin {n}")
        if n >= 3:
            audit_export_head()
    assert audit_verify().ok
    with tampering():
        AuditEntry.objects.filter(seq__gte=3).delete()
        AuditCheckpoint.objects.all().delete()
    assert audit_verify(checkpoint=False).ok  # what the database alone sees
    with pytest.raises(CommandError):
        call_command("audit_verify", "--heads", str(heads_file))
    [problem] = capsys.readouterr().err.strip().splitlines()
    assert problem.startswith("#3 (eksporteret som hoved ")
    assert ", og 1 senere eksporterede hoveder heller ikke: poster er slettet" in problem


def test_a_rewritten_chain_differs_from_its_exported_head(chain, heads_file):
    # Even a tamperer holding the key is caught by a head exported before the rewrite.
    audit_export_head()
    with tampering():
        AuditEntry.objects.filter(seq=2).update(object_repr="ændret")
        _recompute_from(2, keyed=True)
    [problem] = audit_verify(heads=read_heads(heads_file)).problems
    assert problem.startswith("#4: hash afviger fra hovedet eksporteret ")
    assert problem.endswith("posten er ændret, eller kæden er skrevet om")


def test_the_command_verifies_against_an_intact_heads_file(chain, heads_file, capsys):
    audit_export_head()
    audit_record(action="test.step", object_repr="trin 5")
    audit_export_head()
    call_command("audit_verify", "--heads", str(heads_file))
    assert capsys.readouterr().out.strip() == (
        "Revisionsloggen er hel: 5 poster kontrolleret, 2 eksporterede hoveder fundet uændrede."
    )


def test_a_missing_or_damaged_heads_file_is_reported_not_skipped(chain, tmp_path):
    # A damaged copy of the evidence proves nothing: the command says which line, and stops.
    with pytest.raises(CommandError, match="Filen med eksporterede hoveder findes ikke: "):
        call_command("audit_verify", "--heads", str(tmp_path / "ingen.jsonl"))
    damaged = tmp_path / "heads.jsonl"
    audit_export_head(path=damaged)
    with damaged.open("a") as file:
        file.write('{"seq": 4, "hash": "abc"\n')
    with pytest.raises(
        CommandError, match=r"Linje 2 i .*heads\.jsonl er ikke et eksporteret hoved"
    ):
        call_command("audit_verify", "--heads", str(damaged))
    assert not AuditCheckpoint.objects.exists()


def test_the_daily_export_goes_to_the_log_stream_and_is_appended_to_the_file(
    chain, heads_file, caplog
):
    # Rule: each day's head leaves the database twice: a log line (logger flisportal.audit)
    # and a line appended to the heads file; earlier lines are never rewritten.
    caplog.set_level(logging.INFO, logger="flisportal.audit")
    assert export_audit_head()["seq"] == 4
    first_line = heads_file.read_text()
    audit_record(action="test.step", object_repr="trin 5")
    assert export_audit_head()["seq"] == 5
    lines = heads_file.read_text().splitlines()
    assert heads_file.read_text().startswith(first_line) and len(lines) == 2
    head = json.loads(lines[1])
    assert head["seq"] == 5 and head["hash"] == AuditEntry.objects.get(seq=5).hash
    assert head["keyed_from"] == 1 and head["at"].endswith("+00:00")
    logged = [r.getMessage() for r in caplog.records if r.name == "flisportal.audit"]
    assert logged == [f"audit head {line}" for line in lines]
    assert list(AuditHeadExport.objects.values_list("seq", flat=True)) == [5, 4]


def test_heads_copied_from_the_log_stream_can_be_verified_against(chain, tmp_path, caplog):
    # The operator may keep the log stream rather than the file: its lines read as heads.
    caplog.set_level(logging.INFO, logger="flisportal.audit")
    audit_export_head(path=tmp_path / "heads.jsonl")
    copied = tmp_path / "from-the-log.txt"
    copied.write_text(f"2026-12-04 23:55:00,123 INFO flisportal.audit {caplog.messages[-1]}\n")
    [head] = read_heads(copied)
    assert head.seq == 4 and audit_verify(heads=[head]).ok


@pytest.mark.redis
def test_the_head_export_is_a_daily_cron_job(clean_redis):
    # Rule: a head leaves the database every day without anyone remembering to do it.
    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("flisportal.cron")
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    job = jobs["flisportal.audit.jobs.export_audit_head"]
    assert (job.cron, job.queue_name) == ("55 23 * * *", "default")  # AUDIT_HEAD_EXPORT_CRON


def test_an_empty_chain_exports_nothing(heads_file):
    assert export_audit_head() == {"seq": None}
    assert not heads_file.exists() and not AuditHeadExport.objects.exists()


def test_the_nightly_check_verifies_against_the_heads_file(chain, heads_file, admin_user):
    # Rule: the periodic check reads FLISPORTAL_AUDIT_HEADS_FILE when it exists, so tampering 2
    # is found (and mailed) without anyone running the command.
    audit_export_head()
    with tampering():
        AuditEntry.objects.filter(seq=4).delete()
        AuditCheckpoint.objects.all().delete()
    [problem] = verify_audit_chain()["problems"]
    assert problem.startswith("#4 (eksporteret som hoved ")
    heads_file.write_text("ikke et hoved\n")
    problems = verify_audit_chain()["problems"]
    assert problems[-1].startswith("Linje 1 i ")


def _legacy_chain(count: int) -> None:
    """Rows as the portal wrote them before the chain was keyed: plain SHA-256."""
    prev = GENESIS
    for seq in range(1, count + 1):
        entry = AuditEntry(seq=seq, action="test.old", object_repr=f"gammel {seq}", prev_hash=prev)
        entry.hash = compute_hash(entry, keyed=False)
        entry.save(force_insert=True)
        prev = entry.hash


def test_rows_written_before_the_key_are_verified_the_old_way_up_to_the_keyed_start():
    # Rule: the unkeyed rows are not re-keyed; the start of the keyed chain is recorded, rows
    # before it are checked with the plain SHA-256, every row from it on with the HMAC.
    _legacy_chain(2)
    migration = importlib.import_module(
        "flisportal.audit.migrations.0002_keyed_chain_and_head_exports"
    )
    migration.record_unkeyed_rows(apps, SimpleNamespace(connection=connection))
    start = AuditKeyStart.objects.get()
    assert start.first_keyed_seq == 3
    assert start.legacy_head_hash == AuditEntry.objects.get(seq=2).hash
    audit_record(action="test.new", object_repr="ny 3")
    assert audit_verify().ok and audit_verify().checked == 3
    with tampering():
        # An old row edited, every old hash recomputed: the first keyed row's HMAC covers the
        # last old hash, and cannot be recomputed without the key.
        AuditEntry.objects.filter(seq=1).update(object_repr="ændret")
        _recompute_from(1, keyed=False)
    problems = audit_verify().problems
    assert "#3: indholdet passer ikke med hash (ændret?)" in problems


def test_an_unkeyed_row_after_the_keyed_start_is_found():
    _legacy_chain(2)
    AuditKeyStart.objects.create(first_keyed_seq=2, legacy_head_hash="x" * 64)
    assert audit_verify().problems == ["#2: indholdet passer ikke med hash (ændret?)"]


def test_a_new_database_has_no_unkeyed_rows():
    migration = importlib.import_module(
        "flisportal.audit.migrations.0002_keyed_chain_and_head_exports"
    )
    migration.record_unkeyed_rows(apps, SimpleNamespace(connection=connection))
    assert not AuditKeyStart.objects.exists()


def test_moving_the_keyed_start_is_found_against_the_heads(chain, heads_file):
    # A tamperer without the key declares every row "old" and rewrites them with the plain
    # SHA-256: the database alone then verifies, the exported head does not.
    audit_export_head()
    with tampering():
        AuditEntry.objects.filter(seq=2).update(object_repr="ændret")
        AuditKeyStart.objects.create(first_keyed_seq=5, legacy_head_hash="x" * 64)
        _recompute_from(1, keyed=False)
    assert audit_verify(checkpoint=False).ok
    problems = audit_verify(heads=read_heads(heads_file)).problems
    assert problems[0].startswith("#4: hash afviger fra hovedet eksporteret ")
    assert problems[1].startswith("Kæden er nøglet fra #5 i databasen, men fra #1 ifølge ")


def test_a_user_named_in_the_audit_log_cannot_be_deleted(chain, admin_user):
    # Rule: the actor's id is hashed; clearing it (SET NULL) would break the chain.
    with pytest.raises(ProtectedError):
        admin_user.delete()
    assert audit_verify().ok


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditentry SET object_repr = 'ændret' WHERE seq = 2",
        "DELETE FROM audit_auditentry WHERE seq = 4",
        "TRUNCATE audit_auditentry CASCADE",
        "DELETE FROM audit_auditcheckpoint",
        "UPDATE audit_auditheadexport SET seq = 1",
    ],
)
def test_postgresql_refuses_to_change_or_delete_audit_rows(chain, statement):
    # Rule: on PostgreSQL the audit tables only grow, whichever role asks (the owner too,
    # unless it disables the trigger on purpose).
    assert audit_verify().ok
    audit_export_head()
    with connection.cursor() as cursor:
        # The test's rows have deferred foreign-key checks pending, and PostgreSQL refuses a
        # TRUNCATE with pending trigger events before it reaches our trigger: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with (
        pytest.raises(DatabaseError, match="Revisionsloggen kan kun udvides"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEntry.objects.count() == 4 and AuditCheckpoint.objects.count() == 1
