"""The Hent-side fetcher against the real Serviceplatform stand-in over real SFTP.

Files reach the recipients' IN/ folders the way they do in production: the sender uploads data
file + trigger through the portal's SFTP module and the stand-in distributes them. Where the
point is the fetcher's handling of bad input, file + metadata are written into IN/ directly.
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime

import pytest
import time_machine
from django.core.files.storage import storages
from django.utils import timezone

from deliveries import protocol, sftp
from deliveries.hent import fetcher as fetching
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, DeliveryEvent, Receipt, ReceiptVerdict
from flisportal.lib.periods import COPENHAGEN
from routes.models import Endpoint, KeyState, SftpKey, SftpUser
from tests import factories
from tests.helpers.fetching import CONTENT, NAME, fetch, metadata_for, place
from tests.helpers.net import free_port
from tests.helpers.standin import World, home, route_trigger


def make_delivery(world: World, content: bytes, status: str = DeliveryStatus.SENT) -> Delivery:
    return factories.delivery(world.route, content=content, status=status)


def send(runner, world: World, data: bytes, *, name: str, senders_file_id: str) -> None:
    """Upload data file then trigger as the sender, through deliveries/sftp.py."""
    trigger = route_trigger(world, file_name=name, size=len(data), senders_file_id=senders_file_id)
    # Fresh from the database: the stand-in pinned its port and host key after `world` was made.
    sender = SftpUser.objects.select_related("endpoint").get(pk=world.sender.sftp_user.pk)
    with sftp.open_for_endpoint(
        sftp_user=sender, private_key=world.sender.private_key
    ) as connection:
        connection.upload(io.BytesIO(data), f"OUT/{name}", size=len(data))
        connection.upload(
            io.BytesIO(protocol.build_trigger(trigger)), f"OUT/{name}{protocol.TRIGGER_SUFFIX}"
        )
    runner.wait_idle()
    assert (home(runner, world.flis) / "IN" / name).exists(), "the stand-in did not distribute"


def test_good_file_is_fetched_recorded_and_removed(fetch_world, standin, private_media):
    world = fetch_world
    delivery = make_delivery(world, CONTENT, status=DeliveryStatus.DISTRIBUTED)
    send(standin, world, CONTENT, name=NAME, senders_file_id=str(delivery.uuid))

    summary = fetch(world.flis)

    receipt = Receipt.objects.get()
    assert summary.recorded == [receipt.filetransfer_uuid]
    assert receipt.verdict == ReceiptVerdict.OK
    assert not receipt.uuid_derived
    assert (receipt.size, receipt.declared_size) == (len(CONTENT), len(CONTENT))
    assert receipt.sha256 == delivery.sha256
    assert receipt.recipient_system == world.flis.system
    assert receipt.sender == world.sender.username
    assert receipt.sender_system == world.sender.system
    assert receipt.sender_authority == f"urn:oio:cvr-nr:{world.kommune.cvr}"
    assert (receipt.infref, receipt.data_area, receipt.kommune) == (
        world.area.infref,
        world.area,
        world.kommune,
    )
    assert (receipt.route, receipt.delivery, receipt.period) == (world.route, delivery, "2026-10")
    assert "FileMetadata" in receipt.metadata_xml
    # The stored file is byte for byte what was sent, outside the quarantine folder.
    assert not receipt.file.name.startswith("receipts/quarantine/")
    assert (private_media / receipt.file.name).read_bytes() == CONTENT
    # Removed from FLIS's IN/ only after recording; LIS's copy is still waiting for LIS.
    assert list((home(standin, world.flis) / "IN").iterdir()) == []
    assert (home(standin, world.lis) / "IN" / NAME).exists()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FETCHED
    event = delivery.events.last()
    assert (event.old_status, event.new_status, event.actor_label) == (
        "distributed",
        "fetched",
        "hent",
    )
    assert "FLIS" in event.message and receipt.filetransfer_uuid in event.message

    # LIS fetches the same transfer: its own receipt, the delivery already fetched.
    fetch(world.lis)
    assert Receipt.objects.count() == 2
    lis_receipt = Receipt.objects.get(recipient_system=world.lis.system)
    assert lis_receipt.filetransfer_uuid == receipt.filetransfer_uuid
    assert DeliveryEvent.objects.filter(delivery=delivery, new_status="fetched").count() == 1


def test_a_second_round_finds_nothing_new(fetch_world, standin):
    world = fetch_world
    delivery = make_delivery(world, CONTENT)
    send(standin, world, CONTENT, name=NAME, senders_file_id=str(delivery.uuid))
    fetch(world.flis)
    summary = fetch(world.flis)
    assert (summary.recorded, summary.already_recorded) == ([], [])
    assert Receipt.objects.count() == 1
    delivery.refresh_from_db()
    # Fetched straight from `sent`: the receipts job had not seen the platform's receipt yet.
    assert delivery.status == DeliveryStatus.FETCHED


def test_crash_between_recording_and_removal_does_not_record_twice(
    fetch_world, standin, private_media, monkeypatch
):
    world = fetch_world
    delivery = make_delivery(world, CONTENT)
    send(standin, world, CONTENT, name=NAME, senders_file_id=str(delivery.uuid))

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("worker killed after the commit, before the removal")

    with monkeypatch.context() as patch:
        patch.setattr(fetching, "_remove", crash)
        with pytest.raises(KeyboardInterrupt):
            fetching.receipts_fetch(sftp_user_id=world.flis.sftp_user.pk)
    # The receipt is committed; the files are still in IN/.
    receipt = Receipt.objects.get()
    inbox = home(standin, world.flis) / "IN"
    assert sorted(p.name for p in inbox.iterdir()) == [NAME, NAME + ".metadata"]

    summary = fetch(world.flis)

    assert summary.already_recorded == [receipt.filetransfer_uuid]
    assert summary.recorded == []
    assert Receipt.objects.count() == 1
    assert list(inbox.iterdir()) == []
    # No stray second copy in storage either.
    stored = [p for p in private_media.rglob("*") if p.is_file()]
    assert [p.relative_to(private_media).as_posix() for p in stored] == [receipt.file.name]
    assert DeliveryEvent.objects.filter(delivery=delivery, new_status="fetched").count() == 1


def test_a_copy_left_by_a_killed_round_is_removed_once_the_transfer_is_recorded(
    fetch_world, standin, private_media
):
    world = fetch_world
    metadata = metadata_for(world, NAME, len(CONTENT))
    key = protocol.parse_file_metadata(metadata).file_transfer_uuid
    place(standin, world.flis, NAME, CONTENT, metadata)
    # What a worker killed between storing the file and recording it leaves: a (partial) copy
    # under the transfer's name that no Receipt names. Beside it, another transfer's file.
    folder = private_media / "receipts" / world.flis.username / f"{timezone.localdate():%Y-%m}"
    folder.mkdir(parents=True)
    (folder / f"{key}_{NAME}").write_bytes(CONTENT[:100])
    other = folder / f"{uuid.uuid4()}_{NAME}"
    other.write_bytes(CONTENT)

    fetch(world.flis)

    receipt = Receipt.objects.get()
    assert receipt.file.name != f"receipts/{world.flis.username}/{folder.name}/{key}_{NAME}"
    assert (private_media / receipt.file.name).read_bytes() == CONTENT
    assert sorted(folder.iterdir()) == sorted([private_media / receipt.file.name, other])


def test_a_copy_left_on_the_last_day_of_a_month_is_removed_by_the_round_after_it(
    fetch_world, standin, private_media
):
    world = fetch_world
    metadata = metadata_for(world, NAME, len(CONTENT))
    key = protocol.parse_file_metadata(metadata).file_transfer_uuid
    place(standin, world.flis, NAME, CONTENT, metadata)
    user_folder = private_media / "receipts" / world.flis.username
    # Killed on 30 November, fetched again on 1 December: the copy is in November's folder.
    november = user_folder / "2026-11"
    november.mkdir(parents=True)
    (november / f"{key}_{NAME}").write_bytes(CONTENT[:100])
    other = november / f"{uuid.uuid4()}_{NAME}"
    other.write_bytes(CONTENT)

    with time_machine.travel(datetime(2026, 12, 1, 8, 0, tzinfo=COPENHAGEN), tick=False):
        fetch(world.flis)

    receipt = Receipt.objects.get()
    assert receipt.file.name == f"receipts/{world.flis.username}/2026-12/{key}_{NAME}"
    assert list(november.iterdir()) == [other]


def test_a_copy_removed_while_written_by_a_round_that_recorded_it_is_already_recorded(
    fetch_world, standin, private_media, monkeypatch
):
    # Two rounds for one recipient at once (the cron's and a manual one): the first records the
    # transfer and removes the copies it does not keep, among them the one the second is
    # writing. File storage then fails the second's save (FileNotFoundError from its chmod).
    world = fetch_world
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))
    storage = storages["default"]
    save = storage.save

    def beside_another_round(name, content, **kwargs):
        monkeypatch.setattr(storage, "save", save)
        assert fetch(world.flis).recorded != []
        stored = save(name, content, **kwargs)
        storage.delete(stored)
        raise FileNotFoundError(stored)

    monkeypatch.setattr(storage, "save", beside_another_round)
    summary = fetch(world.flis)

    receipt = Receipt.objects.get()
    assert summary.already_recorded == [receipt.filetransfer_uuid]
    assert summary.recorded == []
    assert list((home(standin, world.flis) / "IN").iterdir()) == []
    stored = [p for p in private_media.rglob("*") if p.is_file()]
    assert [p.relative_to(private_media).as_posix() for p in stored] == [receipt.file.name]


def test_a_storage_error_with_nothing_recorded_stops_the_round(
    fetch_world, standin, private_media, monkeypatch
):
    world = fetch_world
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))

    def vanished(name, content, **kwargs):
        raise FileNotFoundError(name)

    monkeypatch.setattr(storages["default"], "save", vanished)
    with pytest.raises(FileNotFoundError):
        fetching.receipts_fetch(sftp_user_id=world.flis.sftp_user.pk)
    assert not Receipt.objects.exists()
    inbox = home(standin, world.flis) / "IN"
    assert sorted(p.name for p in inbox.iterdir()) == [NAME, NAME + ".metadata"]


def test_checksum_mismatch_is_quarantined_and_delivery_not_fetched(
    fetch_world, standin, private_media
):
    world = fetch_world
    # Recorded at upload with other bytes of the same length: the file changed on the way.
    delivery = make_delivery(world, CONTENT.replace(b"101", b"102"))
    send(standin, world, CONTENT, name=NAME, senders_file_id=str(delivery.uuid))

    fetch(world.flis)

    receipt = Receipt.objects.get()
    assert receipt.verdict == ReceiptVerdict.CHECKSUM_MISMATCH
    assert "SHA-256" in receipt.verdict_detail
    assert receipt.delivery == delivery
    assert receipt.file.name.startswith("receipts/quarantine/")
    assert (private_media / receipt.file.name).read_bytes() == CONTENT
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert list((home(standin, world.flis) / "IN").iterdir()) == []


def test_size_mismatch_is_quarantined(fetch_world, standin, private_media):
    world = fetch_world
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT) + 7))

    fetch(world.flis)

    receipt = Receipt.objects.get()
    assert receipt.verdict == ReceiptVerdict.SIZE_MISMATCH
    assert (receipt.size, receipt.declared_size) == (len(CONTENT), len(CONTENT) + 7)
    assert receipt.delivery is None  # SendersFileId is not one of the portal's deliveries
    assert receipt.period == "2026-10"  # read from the file name
    assert (private_media / receipt.file.name).read_bytes() == CONTENT
    assert receipt.file.name.startswith("receipts/quarantine/")
    assert list((home(standin, world.flis) / "IN").iterdir()) == []


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"infref": "UkendtInfRef_1"}, "InfRef UkendtInfRef_1 kendes ikke"),
        ({"sender": "LEV-B_SFTP"}, "hører til it-systemet"),
        ({"sender": "NOBODY"}, "ikke en kendt SFTP-bruger"),
        ({"recipient_cvr": "55133018"}, "Ingen etableret rute"),
    ],
)
def test_unknown_sender_or_route_is_quarantined(
    fetch_world, standin, private_media, overrides, expected
):
    world = fetch_world
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT), **overrides))

    fetch(world.flis)

    receipt = Receipt.objects.get()
    assert receipt.verdict == ReceiptVerdict.UNKNOWN_ROUTE
    assert expected in receipt.verdict_detail
    assert receipt.route is None
    assert (private_media / receipt.file.name).read_bytes() == CONTENT
    assert list((home(standin, world.flis) / "IN").iterdir()) == []


def test_route_that_does_not_name_this_recipient_is_unknown(fetch_world, standin):
    world = fetch_world
    world.route.recipient_systems.remove(world.flis.system)
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))
    fetch(world.flis)
    receipt = Receipt.objects.get()
    assert receipt.verdict == ReceiptVerdict.UNKNOWN_ROUTE
    assert "til FLIS" in receipt.verdict_detail


def test_malformed_metadata_is_recorded_once_and_file_kept(fetch_world, standin, private_media):
    world = fetch_world
    place(standin, world.flis, NAME, CONTENT, b"<FileMetadata>ikke afsluttet")
    fetch(world.flis)
    receipt = Receipt.objects.get()
    assert receipt.verdict == ReceiptVerdict.MALFORMED_METADATA
    assert receipt.uuid_derived
    assert "kan ikke læses" in receipt.verdict_detail
    assert receipt.metadata_xml == "<FileMetadata>ikke afsluttet"
    assert (private_media / receipt.file.name).read_bytes() == CONTENT
    assert list((home(standin, world.flis) / "IN").iterdir()) == []

    # The same bad pair again (re-fetched after a crash) is recognised by its derived id.
    place(standin, world.flis, NAME, CONTENT, b"<FileMetadata>ikke afsluttet")
    summary = fetch(world.flis)
    assert summary.already_recorded == [receipt.filetransfer_uuid]
    assert Receipt.objects.count() == 1


def test_metadata_without_its_data_file_is_recorded(fetch_world, standin):
    world = fetch_world
    inbox = home(standin, world.flis) / "IN"
    (inbox / f"{NAME}.metadata").write_bytes(metadata_for(world, NAME, len(CONTENT)))
    fetch(world.flis)
    receipt = Receipt.objects.get()
    assert receipt.verdict == ReceiptVerdict.SIZE_MISMATCH
    assert "mangler" in receipt.verdict_detail
    assert not receipt.file
    assert list(inbox.iterdir()) == []


def test_trigger_root_metadata_is_accepted(fetch_world, standin):
    world = fetch_world
    delivery = make_delivery(world, CONTENT, status=DeliveryStatus.DISTRIBUTED)
    trigger = route_trigger(
        world, file_name=NAME, size=len(CONTENT), senders_file_id=str(delivery.uuid)
    )
    place(standin, world.flis, NAME, CONTENT, protocol.build_trigger(trigger))

    fetch(world.flis)

    receipt = Receipt.objects.get()
    assert receipt.verdict == ReceiptVerdict.OK
    assert receipt.uuid_derived  # no FileTransferUUID in a Trigger root
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FETCHED


def test_data_file_without_metadata_is_left_alone(fetch_world, standin):
    world = fetch_world
    inbox = home(standin, world.flis) / "IN"
    (inbox / NAME).write_bytes(CONTENT)  # the platform writes the metadata file second
    fetch(world.flis)
    assert Receipt.objects.count() == 0
    assert (inbox / NAME).exists()


def test_receipt_before_sent_is_caught_up(fetch_world, standin):
    world = fetch_world
    # The platform distributed (and LIS/FLIS fetched) before the push job recorded `sent`.
    delivery = make_delivery(world, CONTENT, status=DeliveryStatus.PUSHING)
    send(standin, world, CONTENT, name=NAME, senders_file_id=str(delivery.uuid))
    fetch(world.flis)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PUSHING
    assert Receipt.objects.get().verdict == ReceiptVerdict.OK

    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SENT)
    assert fetching.receipts_catch_up() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FETCHED
    assert fetching.receipts_catch_up() == 0


def test_unreachable_server_records_nothing(fetch_world, standin, private_media):
    world = fetch_world
    inbox = place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))
    Endpoint.objects.filter(pk=world.endpoint.pk).update(port=free_port())  # nobody listens
    summary = fetching.receipts_fetch(sftp_user_id=world.flis.sftp_user.pk)
    assert "blev afvist" in summary.error
    assert Receipt.objects.count() == 0
    assert not private_media.exists() or not any(private_media.rglob("*.csv"))
    assert len(list(inbox.iterdir())) == 2


def test_a_key_that_cannot_be_decrypted_ends_that_round_with_the_reason(fetch_world, standin):
    """A recipient whose stored key was encrypted with a key no longer in
    FLISPORTAL_KEY_ENCRYPTION_KEYS: its round says so and records nothing; another recipient's
    round is not affected."""
    world = fetch_world
    for party in (world.flis, world.lis):
        place(standin, party, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))
    SftpKey.objects.filter(sftp_user=world.lis.sftp_user, state=KeyState.ACTIVE).update(
        encrypted_private_key=b"gAAAAA-encrypted-with-a-key-that-is-gone"
    )

    summary = fetching.receipts_fetch(sftp_user_id=world.lis.sftp_user.pk)
    assert "kan ikke dekrypteres" in summary.error
    assert world.lis.sftp_user.username in summary.error
    assert summary.recorded == []
    assert len(list((home(standin, world.lis) / "IN").iterdir())) == 2  # left for later

    fetch(world.flis)
    assert list(Receipt.objects.values_list("recipient_system__name", "verdict")) == [
        ("FLIS", ReceiptVerdict.OK)
    ]


def test_no_active_key_ends_that_round_with_the_reason(fetch_world, standin):
    # The key was retired between the round's listing of recipients and this job.
    world = fetch_world
    SftpKey.objects.filter(sftp_user=world.lis.sftp_user).update(state=KeyState.RETIRED)
    summary = fetching.receipts_fetch(sftp_user_id=world.lis.sftp_user.pk)
    assert "ingen aktiv SSH-nøgle" in summary.error
    assert Receipt.objects.count() == 0


def test_recipients_to_fetch_are_recipients_with_an_active_key(fetch_world):
    world = fetch_world
    assert sorted(fetching.recipients_to_fetch()) == sorted(
        [world.flis.sftp_user.pk, world.lis.sftp_user.pk]
    )
    SftpKey.objects.filter(sftp_user=world.lis.sftp_user).update(state=KeyState.RETIRED)
    assert fetching.recipients_to_fetch() == [world.flis.sftp_user.pk]


def test_a_pair_that_vanishes_mid_round_does_not_stop_the_others(fetch_world, standin, monkeypatch):
    world = fetch_world
    other = "LEV-A_PERSONALE_0101_202610_ffff0000.csv"
    place(standin, world.flis, NAME, CONTENT, metadata_for(world, NAME, len(CONTENT)))
    place(standin, world.flis, other, CONTENT, metadata_for(world, other, len(CONTENT)))
    read = fetching._read_metadata

    def gone_for_first(connection, path):
        if NAME in path:
            # As when another worker removed the pair between the listing and the read.
            raise sftp.SftpError(f"{path} findes ikke", permanent=True)
        return read(connection, path)

    monkeypatch.setattr(fetching, "_read_metadata", gone_for_first)
    summary = fetch(world.flis)
    assert [r.file_name for r in Receipt.objects.all()] == [other]
    assert len(summary.recorded) == 1
    assert (home(standin, world.flis) / "IN" / NAME).exists()


def test_refuses_to_run_inside_a_transaction(fetch_world):
    from django.db import transaction

    with transaction.atomic(), pytest.raises(RuntimeError, match="inside a transaction"):
        fetching.receipts_fetch(sftp_user_id=fetch_world.flis.sftp_user.pk)


def test_fetch_before_the_technical_receipt_leaves_no_receipt_problem(fetch_world, standin):
    """The recipient may fetch before the push side's receipts job has read the platform's
    technical receipt. That receipt must then be recognised as the same transfer (and removed),
    not kept aside as one that matches nothing."""
    from deliveries.models import ReceiptProblem
    from deliveries.services.technical_receipts import receipts_collect_for_user

    world = fetch_world
    delivery = make_delivery(world, CONTENT, status=DeliveryStatus.SENT)
    Delivery.objects.filter(pk=delivery.pk).update(wire_name=NAME)
    send(standin, world, CONTENT, name=NAME, senders_file_id=str(delivery.uuid))

    fetch(world.flis)
    delivery.refresh_from_db()
    receipt = Receipt.objects.get()
    assert delivery.status == DeliveryStatus.FETCHED
    assert delivery.file_transfer_uuid == receipt.filetransfer_uuid

    result = receipts_collect_for_user(sftp_user_id=world.sender.sftp_user.pk)

    assert result.duplicates == 1 and result.kept == 0
    assert not ReceiptProblem.objects.exists()
    assert not (home(standin, world.sender) / "IN" / f"{NAME}.sftpreceipt").exists()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FETCHED


@pytest.mark.django_db
def test_a_file_without_a_senders_file_id_is_nobody_s_delivery(system_a):
    # A trigger need not carry a SendersFileId; the lookup says "none", it does not crash.
    assert fetching._delivery_sent_as(None, sender_system=system_a) is None
    assert fetching._delivery_sent_as("", sender_system=system_a) is None
    assert fetching._delivery_sent_as("not-a-uuid", sender_system=system_a) is None
