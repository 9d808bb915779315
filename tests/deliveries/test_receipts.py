"""Technical receipts read from the sender's IN/ on the real stand-in: recorded on the delivery,
removed only after the row is committed, unknown or malformed ones kept and reported, the same
receipt twice handled once, and the sender's OUT/ cleaned of finished deliveries."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction
from django.urls import reverse

from deliveries import protocol, sftp
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.lifecycle.transitions import delivery_transition
from deliveries.models import Delivery, ReceiptProblem
from deliveries.serviceplatform.models import PlatformDecision
from deliveries.services.push import delivery_push
from deliveries.services.technical_receipts import receipts_collect, receipts_collect_for_user
from routes.models import User
from tests.helpers.pushing import sender_in, sender_out

pytestmark = pytest.mark.redis

S = DeliveryStatus


def sent(pushable, standin, content: bytes = b"kommunekode;periode\n101;202610\n") -> Delivery:
    delivery = pushable(content)
    assert delivery_push(delivery_id=delivery.pk) == S.SENT
    standin.wait_idle()
    delivery.refresh_from_db()
    return delivery


def committed_status(delivery_id: int) -> str:
    """The status another database connection sees: only what is committed."""
    seen: list[str] = []

    def look() -> None:
        try:
            seen.append(Delivery.objects.get(pk=delivery_id).status)
        finally:
            connections.close_all()

    thread = threading.Thread(target=look)
    thread.start()
    thread.join(10)
    return seen[0]


def test_receipt_is_removed_only_after_its_row_is_committed(world, pushable, standin, monkeypatch):
    delivery = sent(pushable, standin)
    receipt = sender_in(standin, world) / f"{delivery.wire_name}{protocol.RECEIPT_SUFFIX}"
    assert receipt.exists()

    # 1. The database write fails inside its transaction: the receipt must stay on the server.
    real_transition = delivery_transition

    def failing_transition(**kwargs):
        if kwargs["new"] == S.DISTRIBUTED:
            raise RuntimeError("database is gone")
        return real_transition(**kwargs)

    monkeypatch.setattr(
        "deliveries.services.technical_receipts.delivery_transition", failing_transition
    )
    result = receipts_collect()
    assert len(result.failed_users) == 1 and "database is gone" in result.failed_users[0]
    assert receipt.exists()
    delivery.refresh_from_db()
    assert delivery.status == S.SENT

    # 2. The next round records it; at the moment of removal the row is committed.
    monkeypatch.setattr(
        "deliveries.services.technical_receipts.delivery_transition", real_transition
    )
    seen_at_remove: list[tuple[bool, str]] = []
    real_remove = sftp.SftpConnection.remove

    def watching_remove(self, remote_path):
        seen_at_remove.append((connection.in_atomic_block, committed_status(delivery.pk)))
        return real_remove(self, remote_path)

    monkeypatch.setattr(sftp.SftpConnection, "remove", watching_remove)
    result = receipts_collect()
    assert result.distributed == 1
    assert seen_at_remove == [(False, S.DISTRIBUTED)]
    assert not receipt.exists()
    delivery.refresh_from_db()
    assert delivery.file_transfer_uuid == PlatformDecision.objects.get().file_transfer_uuid


def test_collecting_inside_a_transaction_is_refused(world, pushable, standin):
    delivery = sent(pushable, standin)
    with pytest.raises(RuntimeError), transaction.atomic():
        receipts_collect_for_user(sftp_user_id=world.sender.sftp_user.pk)
    assert Delivery.objects.get(pk=delivery.pk).status == S.SENT


def test_malformed_and_unknown_receipts_are_kept_and_reported(world, pushable, standin, client):
    delivery = sent(pushable, standin)
    inbox = sender_in(standin, world)
    (inbox / "garbage.sftpreceipt").write_bytes(b"<TechnicalReceipt><unclosed>")
    stranger = protocol.build_technical_receipt(
        protocol.TechnicalReceipt(
            file_transfer_uuid="11111111-2222-4333-8444-555555555555",
            senders_file_id="99999999-8888-4777-8666-555555555555",
        )
    )
    (inbox / "stranger.sftpreceipt").write_bytes(stranger)
    (inbox / "notes.txt").write_text("not a receipt")

    result = receipts_collect()
    assert (result.distributed, result.kept) == (1, 2)
    delivery.refresh_from_db()
    assert delivery.status == S.DISTRIBUTED
    # Kept on the server, listed for administrators.
    assert sorted(p.name for p in inbox.iterdir()) == [
        "garbage.sftpreceipt",
        "notes.txt",
        "stranger.sftpreceipt",
    ]
    problems = {p.file_name: p for p in ReceiptProblem.objects.all()}
    assert set(problems) == {"garbage.sftpreceipt", "stranger.sftpreceipt"}
    assert problems["garbage.sftpreceipt"].reason.startswith("Kvitteringen kan ikke læses")
    assert "<unclosed>" in problems["garbage.sftpreceipt"].content
    assert "99999999-8888-4777-8666-555555555555" in problems["stranger.sftpreceipt"].reason
    assert problems["stranger.sftpreceipt"].sftp_user == world.sender.sftp_user

    # The next round (another delivery is sent) sees them again: one row each, counted.
    sent(pushable, standin)
    receipts_collect()
    assert ReceiptProblem.objects.count() == 2
    assert set(ReceiptProblem.objects.values_list("times_seen", flat=True)) == {2}
    assert (inbox / "garbage.sftpreceipt").exists()

    admin = User.objects.create_user("admin2", password="pw-admin-1234", is_staff=True,
                                     is_superuser=True)  # fmt: skip
    client.force_login(admin)
    page = client.get(reverse("admin:deliveries_receiptproblem_changelist")).content.decode()
    assert "garbage.sftpreceipt" in page and "stranger.sftpreceipt" in page


def test_same_receipt_again_is_removed_and_out_is_cleaned_of_finished_deliveries(
    world, pushable, standin
):
    first = sent(pushable, standin)
    receipts_collect()
    first.refresh_from_db()
    assert first.status == S.DISTRIBUTED
    events = first.events.count()

    # The platform answers a retried trigger with the first receipt again; and a leftover of
    # the finished delivery lies in OUT/ (say a trigger upload that was retried).
    decision = PlatformDecision.objects.get(senders_file_id=str(first.uuid))
    inbox, outbox = sender_in(standin, world), sender_out(standin, world)
    (inbox / f"{first.wire_name}.sftpreceipt").write_text(decision.receipt_xml)
    (outbox / f"{first.wire_name}.trigger.part").write_text("not ours to judge")
    (outbox / first.wire_name).write_text("leftover")
    second = sent(pushable, standin)  # so that the sender is visited again

    result = receipts_collect()
    assert (result.distributed, result.duplicates, result.cleaned) == (1, 1, 1)
    assert first.events.count() == events  # nothing new recorded for the first
    assert sorted(p.name for p in inbox.iterdir()) == []
    # Only the finished delivery's own file went; a name that is not one of its files stays.
    assert sorted(p.name for p in outbox.iterdir()) == [f"{first.wire_name}.trigger.part"]
    second.refresh_from_db()
    assert second.status == S.DISTRIBUTED


def test_receipt_after_the_portal_gave_up_records_the_platforms_word(world, pushable, standin):
    delivery = sent(pushable, standin)
    # As if the answer to the trigger upload had been lost and the push given up.
    Delivery.objects.filter(pk=delivery.pk).update(status=S.FAILED)
    other = sent(pushable, standin)

    result = receipts_collect()
    assert result.distributed == 2
    delivery.refresh_from_db()
    assert delivery.status == S.DISTRIBUTED
    assert "efter, at portalen havde opgivet" in delivery.events.last().message
    other.refresh_from_db()
    assert other.status == S.DISTRIBUTED


def test_receipt_for_a_failed_delivery_is_collected_without_a_sent_one(world, pushable, standin):
    delivery = sent(pushable, standin)
    # The trigger reached the platform, but the portal gave up on the push; the sender has no
    # other delivery in `sent`.
    Delivery.objects.filter(pk=delivery.pk).update(status=S.FAILED)
    receipt = sender_in(standin, world) / f"{delivery.wire_name}{protocol.RECEIPT_SUFFIX}"
    assert receipt.exists()

    result = receipts_collect()
    assert (result.users, result.distributed, result.failed_users) == (1, 1, [])
    delivery.refresh_from_db()
    assert delivery.status == S.DISTRIBUTED
    assert delivery.receipt_at is not None
    assert "efter, at portalen havde opgivet" in delivery.events.last().message
    assert not receipt.exists()


def test_a_delivery_that_failed_before_any_push_awaits_no_receipt(world, pushable, standin):
    # Failed in validation: never pushed, so there is nothing to log in for.
    pushable(b"kommunekode;periode\n", status=S.FAILED)
    assert receipts_collect().users == 0
