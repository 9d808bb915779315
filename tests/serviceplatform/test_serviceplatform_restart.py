"""Triggers waiting in OUT/ when the stand-in starts: processed once, as the real platform
would, and never a second time for a trigger answered before a crash."""

from __future__ import annotations

import os
from pathlib import Path

from deliveries import protocol
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from deliveries.serviceplatform.routing import home_of
from deliveries.serviceplatform.server import standin_running
from tests.helpers.standin import World, connect, deliver, read_receipt, route_trigger

EXTRACT = b"kommune;periode;beloeb\n0101;202610;1234,50\n" * 50


def _leave_in_out(root: Path, world: World, name: str, trigger_xml: bytes) -> Path:
    """What a sender's upload left in OUT/ while no stand-in was running."""
    out = home_of(root, world.sender.username) / "OUT"
    (out / name).write_bytes(EXTRACT)
    trigger_path = out / f"{name}.trigger"
    trigger_path.write_bytes(trigger_xml)
    return trigger_path


def test_trigger_left_while_stopped_is_distributed_once_on_start(
    world: World, tmp_path: Path
) -> None:
    root = tmp_path / "sp"
    trigger = route_trigger(world, file_name="waiting.csv", size=len(EXTRACT))
    _leave_in_out(root, world, "waiting.csv", protocol.build_trigger(trigger))

    with standin_running(root=root) as runner:
        runner.wait_idle()
        with connect(runner, world.sender) as sftp:
            receipt = read_receipt(sftp, "waiting.csv")
            assert receipt.succeeded
            assert sftp.listdir("OUT") == []
            assert sftp.listdir("IN") == ["waiting.csv.sftpreceipt"]
            sftp.remove("IN/waiting.csv.sftpreceipt")  # the sender collects its receipt
        for party in (world.flis, world.lis):
            assert sorted(p.name for p in (root / party.username / "IN").iterdir()) == [
                "waiting.csv",
                "waiting.csv.metadata",
            ]
    decision = PlatformDecision.objects.get()
    assert decision.outcome == PlatformOutcome.DISTRIBUTED
    assert decision.file_transfer_uuid == receipt.file_transfer_uuid

    # A second start finds nothing left to do.
    with standin_running(root=root) as runner:
        runner.wait_idle()
    assert PlatformDecision.objects.count() == 1
    assert list((root / world.sender.username / "IN").iterdir()) == []


def test_trigger_answered_before_a_crash_is_not_answered_again(
    world: World, tmp_path: Path
) -> None:
    root = tmp_path / "sp"
    trigger = route_trigger(world, file_name="crash.csv", size=len(EXTRACT))
    xml = protocol.build_trigger(trigger)
    with standin_running(root=root) as runner, connect(runner, world.sender) as sftp:
        assert deliver(runner, sftp, trigger, data=EXTRACT).succeeded
        sftp.remove("IN/crash.csv.sftpreceipt")
    decision = PlatformDecision.objects.get()
    # The crash came after the decision but before the trigger was removed: the trigger is
    # back in OUT/ with the time of its upload, which is before the decision.
    trigger_path = home_of(root, world.sender.username) / "OUT" / "crash.csv.trigger"
    trigger_path.write_bytes(xml)
    uploaded = decision.at.timestamp() - 1
    os.utime(trigger_path, (uploaded, uploaded))

    with standin_running(root=root) as runner:
        runner.wait_idle()
    assert not trigger_path.exists()
    assert PlatformDecision.objects.count() == 1
    assert list((root / world.sender.username / "IN").iterdir()) == []
    for party in (world.flis, world.lis):
        assert len(list((root / party.username / "IN").iterdir())) == 2


def test_half_written_trigger_left_in_out_is_not_processed_on_start(
    world: World, tmp_path: Path
) -> None:
    root = tmp_path / "sp"
    trigger = route_trigger(world, file_name="cut.csv", size=len(EXTRACT))
    xml = protocol.build_trigger(trigger)
    trigger_path = _leave_in_out(root, world, "cut.csv", xml[: len(xml) // 2])

    with standin_running(root=root) as runner:
        runner.wait_idle()
    assert PlatformDecision.objects.count() == 0
    assert trigger_path.exists()
    assert list((root / world.sender.username / "IN").iterdir()) == []
    assert not (root / world.flis.username).exists()  # nothing was distributed to FLIS
