"""The audit log's hash chain: append, verify, and tampering found (a changed row, a deleted
row in the middle, rows cut off the end), by the service, the command and the periodic job."""

from __future__ import annotations

import itertools

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from flisportal.audit.jobs import verify_audit_chain
from flisportal.audit.models import AuditCheckpoint, AuditEntry
from flisportal.audit.services import GENESIS, audit_record, audit_verify, compute_hash
from flisportal.notifications.models import OutgoingMail
from flisportal.notifications.services import mail_send
from tests.helpers.audit import tampering

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(admin_user, kommune_kbh):
    return [
        audit_record(
            action="test.step",
            object_type="test",
            object_id=n,
            object_repr=f"trin {n}",
            before={"n": n - 1},
            after={"n": n, "tekst": "æøå"},
            actor=admin_user,
            kommune_id=kommune_kbh.pk,
        )
        for n in range(1, 5)
    ]


def test_rows_are_numbered_and_linked(chain):
    assert [e.seq for e in chain] == [1, 2, 3, 4]
    assert chain[0].prev_hash == GENESIS
    for prev, entry in itertools.pairwise(chain):
        assert entry.prev_hash == prev.hash
    stored = AuditEntry.objects.get(seq=2)
    assert compute_hash(stored) == stored.hash  # the hash survives the database round trip
    assert stored.actor_label == "admin"


def test_an_intact_chain_verifies_and_moves_the_checkpoint(chain):
    result = audit_verify()
    assert result.ok and result.checked == 4
    assert AuditCheckpoint.objects.get().seq == 4


def test_a_row_edited_in_the_database_is_found(chain):
    with tampering():
        AuditEntry.objects.filter(seq=2).update(after={"n": 99, "tekst": "æøå"})
    result = audit_verify()
    assert result.problems == ["#2: indholdet passer ikke med hash (ændret?)"]
    assert not AuditCheckpoint.objects.exists()  # a broken chain moves no checkpoint


def test_an_edit_that_recomputes_its_own_hash_breaks_the_next_link(chain):
    forged = AuditEntry.objects.get(seq=2)
    forged.actor_label = "en anden"
    forged.hash = compute_hash(forged)
    with tampering():
        AuditEntry.objects.filter(seq=2).update(actor_label="en anden", hash=forged.hash)
    assert audit_verify().problems == ["#3: forrige hash passer ikke (kæden er brudt)"]


def test_a_row_deleted_in_the_middle_is_found(chain):
    with tampering():
        AuditEntry.objects.filter(seq=3).delete()
    problems = audit_verify().problems
    assert "#3–#3 mangler (slettet?)" in problems
    assert "#4: forrige hash passer ikke (kæden er brudt)" in problems


def test_rows_cut_off_the_end_are_found_by_the_checkpoint(chain):
    assert audit_verify().ok
    with tampering():
        AuditEntry.objects.filter(seq__gte=3).delete()
    [problem] = audit_verify().problems
    assert problem.startswith("#4 (kontrolleret ") and "slettet fra enden" in problem


def test_the_command_reports_an_intact_chain(chain, capsys):
    call_command("audit_verify")
    assert "Revisionsloggen er hel: 4 poster kontrolleret." in capsys.readouterr().out


def test_the_command_fails_on_a_break(chain):
    with tampering():
        AuditEntry.objects.filter(seq=1).update(action="noget andet")
    with pytest.raises(CommandError, match="Revisionsloggen er brudt: 1 fejl i 4 poster"):
        call_command("audit_verify")


def test_the_periodic_check_mails_administrators_on_a_break(chain, admin_user):
    admin_user.email = "admin@flisportal.dk"
    admin_user.save()
    assert verify_audit_chain()["problems"] == []
    assert not OutgoingMail.objects.exists()
    with tampering():
        AuditEntry.objects.filter(seq=4).update(object_repr="ændret")
    assert verify_audit_chain()["problems"] == ["#4: indholdet passer ikke med hash (ændret?)"]
    verify_audit_chain()  # the same break is mailed once a day, not every run
    [row] = OutgoingMail.objects.all()
    mail_send(mail_id=row.pk)
    [message] = mail.outbox
    assert message.to == ["admin@flisportal.dk"]
    assert message.subject == "Revisionsloggen er brudt"
    assert "#4: indholdet passer ikke med hash" in message.body


def test_the_chain_is_append_only_in_the_admin(client, admin_user, chain):
    client.force_login(admin_user)
    change = client.get(f"/admin/audit/auditentry/{chain[0].pk}/change/")
    assert change.status_code == 200
    assert 'name="action"' not in change.content.decode()  # read only
    delete = client.post(f"/admin/audit/auditentry/{chain[0].pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    # The four rows and the administrator's login: none removed.
    assert AuditEntry.objects.count() == 5 and audit_verify().ok


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_writers_never_fork_the_chain():
    import threading

    from django.db import connection

    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            for n in range(15):
                audit_record(action="test.concurrent", object_repr=f"{name} {n}")
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(f"t{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, 46)
    )
    assert audit_verify().ok
