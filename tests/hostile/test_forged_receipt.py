"""A receipt in one sender's IN/ that names another sender's delivery (a forged or mistaken
SendersFileId, or that delivery's file name) must never be recorded on that delivery: receipts
are matched only among the deliveries of the SFTP user whose IN/ they were found in."""

from __future__ import annotations

import pytest

from deliveries import protocol
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ReceiptProblem
from deliveries.services.push import delivery_push
from deliveries.services.technical_receipts import receipts_collect
from tests import factories
from tests.helpers.pushing import delivery_of, sender_in

pytestmark = pytest.mark.redis


@pytest.fixture
def other_senders_delivery(world, private_media):
    """Vendor B's delivery, sent and waiting for its own receipt."""
    route = factories.route(
        sender_system=world.other.system,
        kommune=world.kommune,
        endpoint=world.endpoint,
        data_area="dagtilbud",
    )
    user = factories.vendor_staff(world.other.system.vendor, "lev-b")
    delivery = delivery_of(route, user, private_media, content=b"x;y\n", status=DeliveryStatus.SENT)
    delivery.wire_name = f"LEV-B_SFTP_DAGTILBUD_0101_202610_{delivery.uuid.hex[:8]}.csv"
    delivery.save(update_fields=["wire_name"])
    return delivery


@pytest.mark.parametrize("named_by", ["senders_file_id", "file_name", "both"])
def test_receipt_naming_another_senders_delivery_is_kept_aside(
    world, pushable, standin, other_senders_delivery, named_by
):
    # Sender A has a delivery of its own in `sent`, so its IN/ is read this round.
    own = pushable(b"kommunekode;periode\n101;202610\n")
    assert delivery_push(delivery_id=own.pk) == DeliveryStatus.SENT
    standin.wait_idle()
    victim = other_senders_delivery
    forged = protocol.build_technical_receipt(
        protocol.TechnicalReceipt(
            file_transfer_uuid="11111111-2222-4333-8444-555555555555",
            senders_file_id=str(victim.uuid) if named_by != "file_name" else None,
            errors=(),
        )
    )
    name = victim.wire_name if named_by != "senders_file_id" else "forged.csv"
    (sender_in(standin, world) / f"{name}{protocol.RECEIPT_SUFFIX}").write_bytes(forged)

    result = receipts_collect()

    victim.refresh_from_db()
    assert victim.status == DeliveryStatus.SENT
    assert victim.file_transfer_uuid == ""
    assert not victim.events.filter(new_status=DeliveryStatus.DISTRIBUTED).exists()
    # Sender A's own receipt is recorded as usual; the forged one is kept and reported.
    own.refresh_from_db()
    assert own.status == DeliveryStatus.DISTRIBUTED
    assert result.kept == 1
    problem = ReceiptProblem.objects.get()
    assert problem.sftp_user == world.sender.sftp_user
    assert "Ingen leverance fra LEV-A_FLIS_SFTP" in problem.reason


# A metadata file naming a route that does not exist: the fetcher quarantines it with the verdict
# `unknown_route` (tests/hent/test_fetching.py::test_unknown_sender_or_route_is_quarantined).
