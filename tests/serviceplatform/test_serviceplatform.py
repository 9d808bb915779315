"""The Serviceplatform stand-in, driven over real SFTP (paramiko): distribution by route, simple
transfer, duplicates, interrupted uploads and many clients at once."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from deliveries import protocol
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from deliveries.serviceplatform.server import StandinThread, standin_running
from tests import factories
from tests.helpers.standin import (
    World,
    assert_every_written_file_validates,
    connect,
    deliver,
    home,
    read_receipt,
    route_trigger,
    upload,
    wait_for,
)

EXTRACT = b"kommune;periode;beloeb\n0101;202610;1234,50\n" * 200


def test_route_based_delivery_reaches_flis_and_the_kommunes_lis(
    standin: StandinThread, world: World
) -> None:
    trigger = route_trigger(
        world, file_name="LEV-A_PERSONALE_0101_202610_ab12cd34.csv", size=len(EXTRACT)
    )
    name = trigger.descriptor.file_name

    with connect(standin, world.sender) as sftp:
        receipt = deliver(standin, sftp, trigger, data=EXTRACT)
        assert receipt.succeeded and receipt.message == "SUCCESS"
        assert receipt.senders_file_id == trigger.descriptor.senders_file_id
        # The platform removed the sender's copies; the receipt is all that is left.
        assert sftp.listdir("OUT") == []
        assert sftp.listdir("IN") == [f"{name}.sftpreceipt"]

    for party in (world.flis, world.lis):
        with connect(standin, party) as sftp:
            assert sorted(sftp.listdir("IN")) == [name, f"{name}.metadata"]
            with sftp.open(f"IN/{name}", "rb") as handle:
                assert handle.read() == EXTRACT
            with sftp.open(f"IN/{name}.metadata", "rb") as handle:
                metadata_xml = handle.read()
        assert protocol.schema_errors(metadata_xml) == []
        metadata = protocol.parse_file_metadata(metadata_xml)
        assert metadata.file_transfer_uuid == receipt.file_transfer_uuid
        assert metadata.descriptor == trigger.descriptor
        assert metadata.routing == trigger.routing

    decision = PlatformDecision.objects.get()
    assert decision.outcome == PlatformOutcome.DISTRIBUTED
    assert decision.sender_username == world.sender.username
    assert decision.file_name == name
    assert decision.senders_file_id == trigger.descriptor.senders_file_id
    assert decision.file_transfer_uuid == receipt.file_transfer_uuid
    assert decision.recipients == sorted([world.flis.username, world.lis.username])
    assert decision.error_codes == []
    assert len(assert_every_written_file_validates(standin.standin.root)) == 3
    # No temporary or staging files left anywhere.
    leftovers = [p for p in standin.standin.root.rglob(".*") if p.is_file()]
    assert leftovers == []


def test_recipient_it_system_pins_one_recipient(standin: StandinThread, world: World) -> None:
    trigger = route_trigger(
        world, file_name="pinned.csv", size=len(EXTRACT), recipient_system=world.lis.system.uuid
    )
    with connect(standin, world.sender) as sftp:
        assert deliver(standin, sftp, trigger, data=EXTRACT).succeeded
    assert sorted(p.name for p in (home(standin, world.lis) / "IN").iterdir()) == [
        "pinned.csv",
        "pinned.csv.metadata",
    ]
    assert list((home(standin, world.flis) / "IN").iterdir()) == []


def test_simple_transfer_names_the_recipient_sftp_user(
    standin: StandinThread, world: World
) -> None:
    trigger = protocol.Trigger(
        descriptor=protocol.FileDescriptor(
            file_name="simple.csv",
            size_in_bytes=len(EXTRACT),
            sender=world.sender.username,
            senders_file_id="simple-1",
            recipients=(world.flis.username,),
        )
    )
    with connect(standin, world.sender) as sftp:
        receipt = deliver(standin, sftp, trigger, data=EXTRACT)
    assert receipt.succeeded
    inbox = home(standin, world.flis) / "IN"
    assert (inbox / "simple.csv").read_bytes() == EXTRACT
    metadata = protocol.parse_file_metadata((inbox / "simple.csv.metadata").read_bytes())
    assert metadata.routing is None
    assert metadata.descriptor.recipients == (world.flis.username,)
    assert list((home(standin, world.lis) / "IN").iterdir()) == []
    assert_every_written_file_validates(standin.standin.root)


def test_duplicate_senders_file_id_gets_the_first_receipt_and_no_second_distribution(
    standin: StandinThread, world: World
) -> None:
    file_id = str(uuid.uuid4())
    first = route_trigger(world, file_name="first.csv", size=len(EXTRACT), senders_file_id=file_id)
    again = route_trigger(world, file_name="again.csv", size=len(EXTRACT), senders_file_id=file_id)
    with connect(standin, world.sender) as sftp:
        first_receipt = deliver(standin, sftp, first, data=EXTRACT)
        first_bytes = (home(standin, world.sender) / "IN" / "first.csv.sftpreceipt").read_bytes()
        second_receipt = deliver(standin, sftp, again, data=EXTRACT)
        assert sftp.listdir("OUT") == []
    second_bytes = (home(standin, world.sender) / "IN" / "again.csv.sftpreceipt").read_bytes()
    assert second_bytes == first_bytes
    assert second_receipt == first_receipt and first_receipt.succeeded
    assert sorted(p.name for p in (home(standin, world.flis) / "IN").iterdir()) == [
        "first.csv",
        "first.csv.metadata",
    ]
    outcomes = list(PlatformDecision.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [PlatformOutcome.DISTRIBUTED, PlatformOutcome.DUPLICATE]
    assert_every_written_file_validates(standin.standin.root)


def test_the_same_senders_file_id_from_another_sender_is_not_a_duplicate(
    standin: StandinThread, world: World
) -> None:
    file_id = "shared-id"
    simple = protocol.Trigger(
        descriptor=protocol.FileDescriptor(
            file_name="b.csv",
            size_in_bytes=3,
            sender=world.other.username,
            senders_file_id=file_id,
            recipients=(world.flis.username,),
        )
    )
    with connect(standin, world.sender) as sftp:
        trigger = route_trigger(world, file_name="a.csv", size=3, senders_file_id=file_id)
        assert deliver(standin, sftp, trigger, data=b"abc").succeeded
    # A simple transfer needs a route between the two systems too (code 405 otherwise).
    factories.route(sender_system=world.other.system, recipients=[world.flis.system])
    with connect(standin, world.other) as sftp:
        assert deliver(standin, sftp, simple, data=b"xyz").succeeded
    assert (home(standin, world.flis) / "IN" / "b.csv").read_bytes() == b"xyz"


def test_trigger_before_its_data_file_is_refused_and_nothing_is_lost(
    standin: StandinThread, world: World
) -> None:
    trigger = route_trigger(world, file_name="early.csv", size=len(EXTRACT))
    with connect(standin, world.sender) as sftp:
        refused = deliver(standin, sftp, trigger, data=None)
        assert [e.code for e in refused.errors] == [202]
        assert sftp.listdir("OUT") == []  # the trigger was consumed
        # The sender sends properly now: data first, then the same trigger again.
        accepted = deliver(standin, sftp, trigger, data=EXTRACT)
    assert accepted.succeeded
    assert (home(standin, world.flis) / "IN" / "early.csv").read_bytes() == EXTRACT


def _abrupt_upload(runner: StandinThread, party, path: str, data: bytes) -> None:
    """Write part of a file and drop the connection without closing the file."""
    sftp = connect(runner, party)
    handle = sftp.open(path, "wb")
    handle.write(data)
    handle.flush()
    # Kill the TCP connection under the SSH session: no CLOSE, no channel close.
    sftp.get_channel().get_transport().sock.close()


def test_disconnect_mid_data_upload_never_distributes_a_half_file(
    standin: StandinThread, world: World
) -> None:
    _abrupt_upload(standin, world.sender, "OUT/half.csv", EXTRACT[: len(EXTRACT) // 2])
    standin.wait_sessions_closed()
    trigger = route_trigger(world, file_name="half.csv", size=len(EXTRACT))
    with connect(standin, world.sender) as sftp:
        receipt = deliver(standin, sftp, trigger, data=None)
        assert [e.code for e in receipt.errors] == [203]
        assert sftp.listdir("OUT") == ["half.csv"]  # kept for the sender to replace
    assert list((home(standin, world.flis) / "IN").iterdir()) == []


def test_disconnect_mid_trigger_upload_is_not_processed(
    standin: StandinThread, world: World
) -> None:
    trigger = route_trigger(world, file_name="cut.csv", size=len(EXTRACT))
    xml = protocol.build_trigger(trigger)
    with connect(standin, world.sender) as sftp:
        upload(sftp, "cut.csv", EXTRACT)
    _abrupt_upload(standin, world.sender, "OUT/cut.csv.trigger", xml[: len(xml) // 2])
    # The server notices the dead connection a moment later and closes the handle itself.
    standin.wait_sessions_closed()
    sender_out = home(standin, world.sender) / "OUT"
    assert PlatformDecision.objects.count() == 0
    assert list((home(standin, world.sender) / "IN").iterdir()) == []
    assert sorted(p.name for p in sender_out.iterdir()) == ["cut.csv", "cut.csv.trigger"]
    # Re-uploading the whole trigger completes the delivery.
    with connect(standin, world.sender) as sftp:
        assert deliver(standin, sftp, trigger, data=None).succeeded


def test_many_clients_at_once(standin: StandinThread, world: World) -> None:
    errors: list[BaseException] = []
    receipts: list[protocol.TechnicalReceipt] = []

    def one(index: int) -> None:
        try:
            trigger = route_trigger(world, file_name=f"many-{index}.csv", size=len(EXTRACT))
            with connect(standin, world.sender) as sftp:
                upload(sftp, f"many-{index}.csv", EXTRACT)
                upload(sftp, f"many-{index}.csv.trigger", protocol.build_trigger(trigger))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    standin.wait_idle()
    with connect(standin, world.sender) as sftp:
        receipts = [read_receipt(sftp, f"many-{i}.csv") for i in range(8)]
    assert all(receipt.succeeded for receipt in receipts)
    assert len({receipt.file_transfer_uuid for receipt in receipts}) == 8
    assert len(list((home(standin, world.lis) / "IN").iterdir())) == 16
    assert PlatformDecision.objects.filter(outcome=PlatformOutcome.DISTRIBUTED).count() == 8


def test_rename_onto_a_trigger_name_completes_the_upload(
    standin: StandinThread, world: World
) -> None:
    trigger = route_trigger(world, file_name="renamed.csv", size=len(EXTRACT))
    with connect(standin, world.sender) as sftp:
        upload(sftp, "renamed.csv", EXTRACT)
        upload(sftp, "renamed.csv.trigger.tmp", protocol.build_trigger(trigger))
        sftp.rename("OUT/renamed.csv.trigger.tmp", "OUT/renamed.csv.trigger")
        standin.wait_idle()
        assert read_receipt(sftp, "renamed.csv").succeeded


def test_stopping_sends_connected_clients_away(world: World, tmp_path: Path) -> None:
    with standin_running(root=tmp_path / "sp") as runner:
        sftp = connect(runner, world.sender)
        assert sftp.listdir(".")
    # The stop above returned although this client never hung up: the server hung up on it.
    transport = sftp.get_channel().get_transport()
    wait_for(lambda: not transport.is_active(), timeout=5)
