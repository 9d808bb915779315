"""Every refusal of the stand-in, each with its own code, over real SFTP: the sender gets an
error receipt that follows KOMBIT's schema, nothing reaches a recipient, the trigger is
consumed and the data file stays in OUT/ for the sender to fix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from deliveries import protocol
from deliveries.serviceplatform.errors import PlatformError
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from deliveries.serviceplatform.server import StandinThread
from routes.models import Kommune
from tests.helpers.standin import (
    World,
    assert_every_written_file_validates,
    connect,
    deliver,
    home,
    route_trigger,
)

DATA = b"kommune;periode\n0101;202610\n"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ns2:Trigger xmlns:ns2="http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types">
<FileDescriptor><FileName>&lol9;</FileName></FileDescriptor></ns2:Trigger>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ns2:Trigger xmlns:ns2="http://serviceplatformen.dk/xml/wsdl/soap11/SFTP/1/types">
<FileDescriptor><FileName>&xxe;</FileName></FileDescriptor></ns2:Trigger>
"""


@dataclass
class Case:
    """What the sender uploads: trigger bytes, the data file (or None), under which name."""

    trigger: bytes
    data: bytes | None
    name: str = "udtraek.csv"


def _route(world: World, **changes: object) -> Case:
    options: dict = {"file_name": "udtraek.csv", "size": len(DATA), **changes}
    return Case(protocol.build_trigger(route_trigger(world, **options)), DATA)


def _simple(world: World, recipients: tuple[str, ...]) -> Case:
    trigger = protocol.Trigger(
        descriptor=protocol.FileDescriptor(
            file_name="udtraek.csv",
            size_in_bytes=len(DATA),
            sender=world.sender.username,
            senders_file_id="simple-refused",
            recipients=recipients,
        )
    )
    return Case(protocol.build_trigger(trigger), DATA)


def _schema_invalid(world: World) -> Case:
    case = _route(world)
    case.trigger = case.trigger.replace(
        f"<SizeInBytes>{len(DATA)}<".encode(), b"<SizeInBytes>mange<"
    )
    return case


def _lis_without_sftp_user(world: World) -> Case:
    world.lis.sftp_user.delete()
    return _route(world)


def _name_waiting_in_flis_inbox(world: World, runner: StandinThread) -> Case:
    inbox = home(runner, world.flis) / "IN"
    (inbox / "udtraek.csv").write_bytes(b"an earlier file of the same name")
    return _route(world)


SCENARIOS: dict[str, tuple[int, Callable[[World, StandinThread], Case]]] = {
    "trigger too large": (
        101,
        lambda w, r: Case(b"<a>" + b" " * protocol.MAX_XML_BYTES + b"</a>", DATA),
    ),
    "malformed xml": (102, lambda w, r: Case(b"<ns2:Trigger xmlns:ns2='x'><FileDescriptor>", DATA)),
    "billion laughs": (103, lambda w, r: Case(BILLION_LAUGHS, DATA)),
    "external entity": (103, lambda w, r: Case(EXTERNAL_ENTITY, DATA)),
    "fails the schema": (104, lambda w, r: _schema_invalid(w)),
    "unsafe file name": (201, lambda w, r: _route(w, file_name="../IN/udtraek.csv")),
    "data file missing": (202, lambda w, r: Case(_route(w).trigger, None)),
    "size mismatch": (203, lambda w, r: _route(w, size=len(DATA) + 1)),
    "sender is someone else": (301, lambda w, r: _route(w, sender=w.other.username)),
    "sender system is someone else's": (
        302,
        lambda w, r: _route(w, sender_system=w.other.system.uuid),
    ),
    "unknown infref": (401, lambda w, r: _route(w, infref="FLISUkendtAflever_1")),
    "no route to that authority": (
        402,
        lambda w, r: _route(w, recipient_cvr=Kommune.objects.get(code="751").cvr),
    ),
    "route does not reach the pinned system": (
        402,
        lambda w, r: _route(w, recipient_system="abcdefab-1234-4123-8123-123456789abc"),
    ),
    "recipient system without sftp user": (403, lambda w, r: _lis_without_sftp_user(w)),
    "simple transfer to unknown user": (403, lambda w, r: _simple(w, ("NOBODY",))),
    "route-based with named recipients": (
        404,
        lambda w, r: _route(w, recipients=(w.flis.username,)),
    ),
    "simple transfer to ROUTING_V1_0_0": (
        404,
        lambda w, r: _simple(w, (protocol.ROUTING_RECIPIENT,)),
    ),
    "name already waiting in IN": (501, _name_waiting_in_flis_inbox),
    # A data file must not pass for the platform's own files in a recipient's IN/.
    "data file named like a metadata file": (
        204,
        lambda w, r: Case(_route(w, file_name="x.csv.metadata").trigger, DATA, "x.csv.metadata"),
    ),
    "data file named like a receipt": (
        204,
        lambda w, r: Case(_route(w, file_name="x.sftpreceipt").trigger, DATA, "x.sftpreceipt"),
    ),
    # A simple transfer reaches only SFTP users a route leads to (LEV-B has none from LEV-A).
    "simple transfer without a route": (405, lambda w, r: _simple(w, (w.other.username,))),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_refusal(standin: StandinThread, world: World, scenario: str) -> None:
    code, make = SCENARIOS[scenario]
    case = make(world, standin)
    with connect(standin, world.sender) as sftp:
        receipt = deliver(standin, sftp, case.trigger, data=case.data, trigger_name=case.name)
        out = sorted(sftp.listdir("OUT"))

    assert [error.code for error in receipt.errors] == [code]
    error = receipt.errors[0]
    assert error.code_description == PlatformError.by_code(code).danish
    assert "English:" in error.description
    # The trigger is consumed; the data file waits in OUT/ for the sender.
    assert out == ([case.name] if case.data is not None else [])
    decision = PlatformDecision.objects.get()
    assert decision.outcome == PlatformOutcome.REFUSED
    assert decision.error_codes == [code]
    assert decision.file_transfer_uuid == receipt.file_transfer_uuid
    # Nothing reached a recipient (apart from the file that was already waiting).
    flis_inbox = sorted(p.name for p in (home(standin, world.flis) / "IN").iterdir())
    assert flis_inbox == (["udtraek.csv"] if code == 501 else [])
    assert list((home(standin, world.lis) / "IN").iterdir()) == []
    assert assert_every_written_file_validates(standin.standin.root)


def test_independent_problems_are_all_reported(standin: StandinThread, world: World) -> None:
    case = _route(world, sender=world.other.username, infref="FLISUkendtAflever_1")
    with connect(standin, world.sender) as sftp:
        receipt = deliver(standin, sftp, case.trigger, data=None, trigger_name=case.name)
    assert [error.code for error in receipt.errors] == [301, 202, 401]


def test_a_data_file_that_is_a_planted_symlink_is_not_distributed(
    standin: StandinThread, world: World
) -> None:
    outside = standin.standin.root.parent / "secret.txt"
    outside.write_bytes(DATA)
    (home(standin, world.sender) / "OUT" / "udtraek.csv").symlink_to(outside)
    case = _route(world)
    with connect(standin, world.sender) as sftp:
        receipt = deliver(standin, sftp, case.trigger, data=None, trigger_name=case.name)
    assert [error.code for error in receipt.errors] == [202]
    assert list((home(standin, world.flis) / "IN").iterdir()) == []


def test_an_unexpected_failure_still_answers_the_sender(
    standin: StandinThread, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("deliveries.serviceplatform.server.trigger_process", broken)
    case = _route(world)
    with connect(standin, world.sender) as sftp:
        receipt = deliver(standin, sftp, case.trigger, data=case.data, trigger_name=case.name)
    assert [error.code for error in receipt.errors] == [901]
    assert "disk on fire" in receipt.errors[0].description
    assert PlatformDecision.objects.get().error_codes == [901]
    assert list((home(standin, world.flis) / "IN").iterdir()) == []
