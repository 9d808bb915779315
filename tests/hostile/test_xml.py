"""XML attacks where the portal reads XML: receipts (read by the portal from the sender's IN/),
triggers (read by the Serviceplatform stand-in) and metadata files (read by the Hent side).

Also covered elsewhere, at parser level for all three readers in UTF-8 and UTF-16:
tests/deliveries/test_protocol.py::test_dtds_and_entities_are_refused; and for triggers sent to
the stand-in over SFTP: tests/serviceplatform/test_serviceplatform_refusals.py (scenarios "billion
laughs" and "external entity", error code 103).
"""

from __future__ import annotations

import pytest

from deliveries import protocol
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ReceiptProblem
from deliveries.serviceplatform.models import PlatformDecision
from deliveries.services.push import delivery_push
from deliveries.services.technical_receipts import receipts_collect
from tests.helpers.pushing import sender_in
from tests.helpers.standin import connect, deliver

pytestmark = pytest.mark.redis

NS = protocol.NAMESPACE
ENTITIES = "".join(
    f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
    for i in range(1, 10)
)
ATTACKS = {
    "billion-laughs": (
        f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY lol "lol">{ENTITIES}]>\n'
        f'<ns2:{{root}} xmlns:ns2="{NS}"><FileTransferUUID>&lol9;</FileTransferUUID></ns2:{{root}}>'
    ),
    "external-entity": (
        '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        f'<ns2:{{root}} xmlns:ns2="{NS}"><FileTransferUUID>&xxe;</FileTransferUUID></ns2:{{root}}>'
    ),
    "external-dtd": (
        '<?xml version="1.0"?>\n<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd">\n'
        f'<ns2:{{root}} xmlns:ns2="{NS}"/>'
    ),
}


def attack(kind: str, root: str) -> bytes:
    return ATTACKS[kind].replace("{root}", root).encode()


@pytest.mark.parametrize("kind", list(ATTACKS))
def test_hostile_receipt_is_kept_aside_unread_and_the_delivery_is_untouched(
    world, pushable, standin, kind
):
    delivery = pushable(b"kommunekode;periode\n101;202610\n")
    assert delivery_push(delivery_id=delivery.pk) == DeliveryStatus.SENT
    standin.wait_idle()
    delivery.refresh_from_db()
    inbox = sender_in(standin, world)
    # The attack takes the place of the platform's real receipt for this delivery.
    receipt = inbox / f"{delivery.wire_name}{protocol.RECEIPT_SUFFIX}"
    receipt.write_bytes(attack(kind, "TechnicalReceipt"))

    result = receipts_collect()

    assert (result.distributed, result.refused, result.kept) == (0, 0, 1)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    problem = ReceiptProblem.objects.get()
    assert problem.reason.startswith("Kvitteringen kan ikke læses")
    assert "root:" not in problem.reason and "lollol" not in problem.reason
    assert receipt.exists()  # kept on the server for an administrator to look at


@pytest.mark.parametrize("kind", list(ATTACKS))
def test_hostile_trigger_gets_an_error_receipt_and_nothing_is_distributed(world, standin, kind):
    data = b"kommunekode;periode\n101;202610\n"
    with connect(standin, world.sender) as sftp:
        receipt = deliver(
            standin, sftp, attack(kind, "Trigger"), data=data, trigger_name="angreb.csv"
        )
    assert [error.code for error in receipt.errors] == [103]
    assert "root:" not in receipt.errors[0].description
    assert PlatformDecision.objects.get().error_codes == [103]
    assert not any((standin.standin.root).rglob("*.metadata"))


@pytest.mark.parametrize("kind", list(ATTACKS))
def test_hostile_metadata_file_is_refused_by_the_reader(kind):
    # The Hent-side fetcher (branch `fetch`) reads metadata files through this function; until
    # it is merged, the reader itself is what can be tested here.
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.parse_file_metadata(attack(kind, "FileMetadata"))
    assert caught.value.kind == protocol.ProtocolError.FORBIDDEN
    assert "root:" not in caught.value.message_da
