"""The stand-in cut off in the middle of a distribution (SIGKILL, power): after the restart the
trigger is answered exactly once, as by the real platform — one DISTRIBUTED decision, every
recipient with the data file and its metadata once under one FileTransferUUID, and the sender
with the success receipt of that FileTransferUUID, never a refusal.

The crash is simulated by raising a BaseException (as nothing in the stand-in catches it) at each
step of `routing._distribution_complete`; one test kills the real `manage.py serviceplatform`
process instead (see standin_paused.py).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from deliveries import protocol
from deliveries.serviceplatform import routing
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from deliveries.serviceplatform.server import StandinThread, standin_running
from tests.helpers.net import free_port
from tests.helpers.processes import ROOT
from tests.helpers.standin import (
    World,
    assert_every_written_file_validates,
    connect,
    deliver,
    route_trigger,
    wait_for,
)
from tests.helpers.workers import worker_env

EXTRACT = b"kommune;periode;beloeb\n0101;202610;1234,50\n" * 200
NAME = "crash.csv"


class Crash(KeyboardInterrupt):
    """Stands in for SIGKILL: a BaseException, so no `except Exception` in the stand-in sees it
    (the `finally` clauses still run, which a real kill would skip; the test with the real
    process covers that)."""


def _send(root: Path, world: World, *, senders_file_id: str | None = None) -> str:
    """What the sender's push leaves in OUT/: the data file, then the trigger. Returns the
    SendersFileId."""
    out = routing.home_of(root, world.sender.username) / "OUT"
    trigger = route_trigger(
        world, file_name=NAME, size=len(EXTRACT), senders_file_id=senders_file_id
    )
    (out / NAME).write_bytes(EXTRACT)
    (out / f"{NAME}.trigger").write_bytes(protocol.build_trigger(trigger))
    return trigger.descriptor.senders_file_id or ""


def _process(root: Path, world: World) -> PlatformDecision | None:
    return routing.trigger_process(
        endpoint_id=world.endpoint.pk,
        username=world.sender.username,
        root=root,
        trigger_name=f"{NAME}.trigger",
    )


def _recover(root: Path, world: World) -> PlatformDecision | None:
    return routing.trigger_recover(
        endpoint_id=world.endpoint.pk,
        username=world.sender.username,
        root=root,
        trigger_name=f"{NAME}.trigger",
    )


def _crash_at(monkeypatch: pytest.MonkeyPatch, step: str, when: str) -> list[str]:
    """Raise Crash `when` ("before"/"after") the distribution step `step`: a placed file as
    '<user>/<name>', or 'remove OUT'. Returns the steps done, in order."""
    done: list[str] = []

    def wrap(original: Callable[..., None], label: Callable[..., str]) -> Callable[..., None]:
        def step_function(*args: Any, **kwargs: Any) -> None:
            this = label(*args, **kwargs)
            if (this, when) == (step, "before"):
                raise Crash(this)
            original(*args, **kwargs)
            done.append(this)
            if (this, when) == (step, "after"):
                raise Crash(this)

        return step_function

    monkeypatch.setattr(
        routing,
        "_place",
        wrap(routing._place, lambda target, **_: f"{target.parent.parent.name}/{target.name}"),
    )
    monkeypatch.setattr(
        routing, "_remove_sent", wrap(routing._remove_sent, lambda *_: "remove OUT")
    )
    return done


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_distributed_exactly_once(root: Path, world: World, senders_file_id: str) -> None:
    decision = PlatformDecision.objects.get(outcome=PlatformOutcome.DISTRIBUTED)
    assert decision.senders_file_id == senders_file_id
    assert decision.recipients == [world.flis.username, world.lis.username]
    assert decision.recipients_placed == decision.recipients
    assert decision.staged_name == ""
    assert decision.message == f"Distribueret til {world.flis.username}, {world.lis.username}."
    assert (
        not PlatformDecision.objects.exclude(outcome=PlatformOutcome.DUPLICATE)
        .exclude(pk=decision.pk)
        .exists()
    )
    for party in (world.flis, world.lis):
        inbox = root / party.username / "IN"
        assert _files(inbox) == [NAME, f"{NAME}.metadata"], party.username
        assert (inbox / NAME).read_bytes() == EXTRACT
        metadata = protocol.parse_file_metadata((inbox / f"{NAME}.metadata").read_bytes())
        assert metadata.file_transfer_uuid == decision.file_transfer_uuid
        assert metadata.descriptor.senders_file_id == senders_file_id
    sender = root / world.sender.username
    assert _files(sender / "OUT") == []  # data file and trigger gone
    assert _files(sender / "IN") == [f"{NAME}.sftpreceipt"]
    receipt = protocol.parse_technical_receipt((sender / "IN" / f"{NAME}.sftpreceipt").read_bytes())
    assert receipt.succeeded
    assert receipt.file_transfer_uuid == decision.file_transfer_uuid
    assert receipt.senders_file_id == senders_file_id
    assert _files(root / ".staging") == []
    assert_every_written_file_validates(root)


# Every point of the distribution, in order; FLIS_HENT is the first recipient (sorted).
CRASH_POINTS = {
    "after the decision was written ahead": ("FLIS_HENT/crash.csv", "before"),
    "after the first recipient's data file": ("FLIS_HENT/crash.csv", "after"),
    "after the first recipient's metadata": ("FLIS_HENT/crash.csv.metadata", "after"),
    "after the second recipient's data file": ("KBH_LIS/crash.csv", "after"),
    "after all recipients": ("KBH_LIS/crash.csv.metadata", "after"),
    "after the data file left OUT/": ("remove OUT", "after"),
    "after the receipt": ("LEV-A_FLIS_SFTP/crash.csv.sftpreceipt", "after"),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_crash_during_distribution_then_trigger_recover_answers_once(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    root = tmp_path / "sp"
    senders_file_id = _send(root, world)
    done = _crash_at(monkeypatch, *CRASH_POINTS[point])
    with pytest.raises(Crash):
        _process(root, world)
    monkeypatch.undo()

    # Cut off: the decision is on record, in progress, with the copy it distributes from; the
    # trigger is still in OUT/ and (before the receipt step) the sender has no answer.
    pending = PlatformDecision.objects.get()
    assert pending.outcome == PlatformOutcome.DISTRIBUTING
    assert (root / ".staging" / pending.staged_name).read_bytes() == EXTRACT
    assert (root / world.sender.username / "OUT" / f"{NAME}.trigger").exists()
    receipt_placed = "LEV-A_FLIS_SFTP/crash.csv.sftpreceipt" in done
    assert _files(root / world.sender.username / "IN") == (
        [f"{NAME}.sftpreceipt"] if receipt_placed else []
    )

    assert _recover(root, world) == PlatformDecision.objects.get()
    assert_distributed_exactly_once(root, world, senders_file_id)
    # Recovering again (another restart) changes nothing.
    assert _recover(root, world) is None
    assert PlatformDecision.objects.count() == 1


@pytest.mark.parametrize(
    "point", ["after the first recipient's data file", "after the data file left OUT/"]
)
def test_crash_during_distribution_then_restart_completes_it_before_logins(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    root = tmp_path / "sp"
    senders_file_id = _send(root, world)
    _crash_at(monkeypatch, *CRASH_POINTS[point])
    with pytest.raises(Crash):
        _process(root, world)
    monkeypatch.undo()

    with standin_running(root=root) as runner:
        # Completed during start, before the listener accepted anyone.
        assert PlatformDecision.objects.get().outcome == PlatformOutcome.DISTRIBUTED
        runner.wait_idle()  # trigger_recover of the trigger still in OUT/: only removed
        with connect(runner, world.sender) as sftp:
            assert sftp.listdir("OUT") == []
    assert_distributed_exactly_once(root, world, senders_file_id)


def test_crash_while_a_file_was_being_written_leaves_no_temporary_file(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "sp"
    senders_file_id = _send(root, world)
    _crash_at(monkeypatch, "KBH_LIS/crash.csv", "before")
    with pytest.raises(Crash):
        _process(root, world)
    monkeypatch.undo()
    # SIGKILL between writing a file's hidden temporary copy and renaming it leaves the copy.
    inbox = root / world.lis.username / "IN"
    (inbox / f".{NAME}.0a1b2c3d.part").write_bytes(EXTRACT[:100])
    (inbox / f".{NAME}.metadata.0a1b2c3d.part").write_bytes(b"<FileMetadata")
    (inbox / ".other.csv.0a1b2c3d.part").write_bytes(b"not this distribution's")

    _recover(root, world)
    assert (inbox / ".other.csv.0a1b2c3d.part").exists()
    (inbox / ".other.csv.0a1b2c3d.part").unlink()
    assert_distributed_exactly_once(root, world, senders_file_id)


def test_recipient_that_fetched_before_the_completion_does_not_get_the_file_again(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A distribution that failed half-way inside a running stand-in (not a crash: the stand-in
    kept serving) may be completed later, after a recipient fetched and removed its files."""
    root = tmp_path / "sp"
    _send(root, world)
    _crash_at(monkeypatch, "KBH_LIS/crash.csv", "before")
    with pytest.raises(Crash):
        _process(root, world)
    monkeypatch.undo()
    assert PlatformDecision.objects.get().recipients_placed == [world.flis.username]
    flis_inbox = root / world.flis.username / "IN"
    for path in flis_inbox.iterdir():  # FLIS fetched
        path.unlink()

    _recover(root, world)
    decision = PlatformDecision.objects.get()
    assert decision.outcome == PlatformOutcome.DISTRIBUTED
    assert _files(flis_inbox) == []
    assert _files(root / world.lis.username / "IN") == [NAME, f"{NAME}.metadata"]
    assert _files(root / world.sender.username / "IN") == [f"{NAME}.sftpreceipt"]


def test_new_trigger_for_a_sendersfileid_in_progress_completes_it_and_is_a_duplicate(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "sp"
    senders_file_id = _send(root, world)
    _crash_at(monkeypatch, "FLIS_HENT/crash.csv.metadata", "after")
    with pytest.raises(Crash):
        _process(root, world)
    monkeypatch.undo()
    first = PlatformDecision.objects.get()

    # The sender's portal, with no receipt, pushes the same delivery again.
    _send(root, world, senders_file_id=senders_file_id)
    duplicate = _process(root, world)
    assert duplicate is not None and duplicate.outcome == PlatformOutcome.DUPLICATE
    assert duplicate.file_transfer_uuid == first.file_transfer_uuid
    assert duplicate.receipt_xml == PlatformDecision.objects.get(pk=first.pk).receipt_xml
    assert PlatformDecision.objects.filter(outcome=PlatformOutcome.DISTRIBUTED).get().pk == first.pk
    assert_distributed_exactly_once(root, world, senders_file_id)


def test_error_while_distributing_in_a_running_standin_completes_instead_of_refusing(
    standin: StandinThread, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ordinary exception half-way (a full disk for one file) must not turn into a refusal
    receipt while a recipient already has the file: the stand-in completes the distribution."""
    original = routing._place
    failures = []

    def place_failing_once(target: Path, **kwargs: Any) -> None:
        if target.parent.parent.name == world.lis.username and not failures:
            failures.append(target)
            raise OSError(28, "No space left on device")
        original(target, **kwargs)

    monkeypatch.setattr(routing, "_place", place_failing_once)
    trigger = route_trigger(world, file_name=NAME, size=len(EXTRACT))
    with connect(standin, world.sender) as sftp:
        receipt = deliver(standin, sftp, trigger, data=EXTRACT)
    assert failures  # the error happened
    assert receipt.succeeded
    decision = PlatformDecision.objects.get()
    assert decision.outcome == PlatformOutcome.DISTRIBUTED
    assert receipt.file_transfer_uuid == decision.file_transfer_uuid
    assert_distributed_exactly_once(
        standin.standin.root, world, trigger.descriptor.senders_file_id or ""
    )


def test_start_deletes_staged_copies_no_distribution_needs(world: World, tmp_path: Path) -> None:
    root = tmp_path / "sp"
    staging = root / ".staging"
    staging.mkdir(parents=True)
    # A crash between copying a data file out of OUT/ and deciding on it.
    (staging / "0123456789abcdef0123456789abcdef").write_bytes(EXTRACT)
    assert routing.distributions_resume(endpoint_id=world.endpoint.pk, root=root) == []
    assert _files(staging) == []


def test_one_distribution_per_sendersfileid_counts_one_in_progress(world: World) -> None:
    fields = {
        "endpoint": world.endpoint,
        "sender_username": world.sender.username,
        "trigger_name": f"{NAME}.trigger",
        "senders_file_id": "5d1c9e0a-6a57-4c1e-9b8e-6f1f3c2a7d10",
        "file_transfer_uuid": "9a7e6f10-2222-4333-8444-555566667777",
        "receipt_xml": "<TechnicalReceipt/>",
    }
    PlatformDecision.objects.create(**fields, outcome=PlatformOutcome.DISTRIBUTING)
    for outcome in (PlatformOutcome.DISTRIBUTING, PlatformOutcome.DISTRIBUTED):
        with pytest.raises(IntegrityError), transaction.atomic():
            PlatformDecision.objects.create(**fields, outcome=outcome)
    PlatformDecision.objects.create(**fields, outcome=PlatformOutcome.DUPLICATE)


# --- The real process, killed -----------------------------------------------------------------


def _start(tmp_path: Path, port: int, *, paused: bool) -> subprocess.Popen[str]:
    """`manage.py serviceplatform` on the test database; with `paused`, through
    standin_paused.py, which stops it after the first recipient has its files."""
    env = dict(
        os.environ,
        DATABASE_URL=worker_env("")["DATABASE_URL"],
        FLISPORTAL_DATA_DIR=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
        STANDIN_PAUSED_MARKER=str(tmp_path / "paused"),
    )
    program = ["-m", "tests.helpers.standin_paused"] if paused else [str(ROOT / "manage.py")]
    options = ["--port", str(port), "--root", str(tmp_path / "sp")]
    return subprocess.Popen(
        [sys.executable, *program, "serviceplatform", *options],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_listening(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 60)
    line = process.stdout.readline() if ready else ""
    if "lytter på" not in line:
        process.kill()
        _, err = process.communicate(timeout=30)
        raise AssertionError(f"the stand-in did not start: {line!r} {err[-2000:]}")


def _end(process: subprocess.Popen[str], sig: int) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    process.communicate(timeout=30)


def test_standin_process_killed_mid_distribution_completes_it_on_restart(
    world: World, tmp_path: Path
) -> None:
    root = tmp_path / "sp"
    port = free_port()
    process = _start(tmp_path, port, paused=True)
    try:
        _wait_listening(process)
        trigger = route_trigger(world, file_name=NAME, size=len(EXTRACT))
        with connect(port, world.sender) as sftp:
            with sftp.open(f"OUT/{NAME}", "wb") as handle:
                handle.write(EXTRACT)
            with sftp.open(f"OUT/{NAME}.trigger", "wb") as handle:
                handle.write(protocol.build_trigger(trigger))
        wait_for((tmp_path / "paused").exists, timeout=30)
    finally:
        _end(process, signal.SIGKILL)
    assert process.returncode == -signal.SIGKILL

    # Killed with FLIS served and LIS not: no receipt, the decision in progress.
    assert PlatformDecision.objects.get().outcome == PlatformOutcome.DISTRIBUTING
    assert _files(root / world.flis.username / "IN") == [NAME, f"{NAME}.metadata"]
    assert _files(root / world.lis.username / "IN") == []
    assert _files(root / world.sender.username / "IN") == []

    process = _start(tmp_path, port, paused=False)
    try:
        _wait_listening(process)
        with connect(port, world.sender) as sftp:
            wait_for(lambda: sftp.listdir("OUT") == [])
    finally:
        _end(process, signal.SIGTERM)
    assert process.returncode == 0
    assert_distributed_exactly_once(root, world, trigger.descriptor.senders_file_id or "")
