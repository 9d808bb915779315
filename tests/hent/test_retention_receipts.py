"""Retention of the Hent side's copies of fetched files: good copies go after their data area's
retention days, quarantined ones (and any without a data area) after RETENTION_REJECTED_DAYS;
the row stays, stamped, with one audit row each. And the sweep of copies no receipt names:
older than the safety margin only, through the storage API (also on InMemoryStorage)."""

from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InMemoryStorage, default_storage
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from deliveries.models import Receipt, ReceiptVerdict
from deliveries.services import retention
from deliveries.services.retention import RetentionRound, receipt_orphans_sweep, retention_run
from flisportal.audit.models import AuditEntry
from flisportal.audit.services import audit_verify
from flisportal.lib.periods import COPENHAGEN
from routes.models import DataArea, Endpoint, SftpUser

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, 10, 0, tzinfo=COPENHAGEN)
CONTENT = b"kommunekode;cpr_barn\n101;0101209999\n"


@pytest.fixture
def hent_user(flis_system) -> SftpUser:
    return SftpUser.objects.create(
        it_system=flis_system, endpoint=Endpoint.objects.get(slug="lokal"), username="FLIS_HENT"
    )


@pytest.fixture
def fetched(hent_user, kommune_kbh):
    """A receipt fetched at `at`, its copy stored where the fetcher puts it."""

    def make(
        *, verdict: str = ReceiptVerdict.OK, area: str | None = "dagtilbud", at: datetime = START
    ) -> Receipt:
        key = str(uuid.uuid4())
        tree = "receipts" if verdict == ReceiptVerdict.OK else "receipts/quarantine"
        stored = default_storage.save(
            f"{tree}/{hent_user.username}/{at:%Y-%m}/{key}_LEV.csv", ContentFile(CONTENT)
        )
        return Receipt.objects.create(
            filetransfer_uuid=key,
            recipient_sftp_user=hent_user,
            recipient_system=hent_user.it_system,
            file_name="LEV.csv",
            size=len(CONTENT),
            sha256="0" * 64,
            data_area=DataArea.objects.get(code=area) if area else None,
            kommune=kommune_kbh,
            verdict=verdict,
            fetched_at=at,
            file=stored,
        )

    return make


def run(days: float, **kwargs) -> RetentionRound:
    return retention_run(now=START + timedelta(days=days), **kwargs)


def orphan(path: str) -> str:
    """A copy no receipt names (a fetch round killed between storing and recording), written
    now. The sweep reads a copy's age from its modification time, so the test sets that from
    the clock it controls instead of leaving it to the kernel's real one (on disk; in-memory
    storage stamps it with Django's clock already)."""
    name = default_storage.save(path, ContentFile(CONTENT))
    if isinstance(default_storage, FileSystemStorage):
        written = timezone.now().timestamp()
        os.utime(default_storage.path(name), (written, written))
    return name


# --- copies of recorded receipts ---


def test_a_good_copy_is_deleted_after_the_data_areas_retention(private_media, fetched):
    receipt = fetched()
    assert run(89.9).receipts == []
    assert default_storage.exists(receipt.file.name)
    result = run(90)
    assert result.receipts == [receipt.pk] and result.receipt_bytes == len(CONTENT)
    assert not default_storage.exists(receipt.file.name)
    receipt.refresh_from_db()
    assert receipt.file_deleted_at == START + timedelta(days=90)
    # The row stays, naming the copy it had.
    assert receipt.file.name.startswith("receipts/FLIS_HENT/2026-01/")
    row = AuditEntry.objects.get(action="receipt.file_deleted")
    assert row.object_id == str(receipt.pk) and row.kommune_id == receipt.kommune_id
    assert row.before == {"file": receipt.file.name, "size": len(CONTENT), "sha256": "0" * 64}
    assert row.after["reason"] == "retention" and row.actor_label == "opbevaring"
    assert audit_verify().ok
    # Once: a later run neither deletes, stamps nor audits it again.
    assert run(200).receipts == []
    receipt.refresh_from_db()
    assert receipt.file_deleted_at == START + timedelta(days=90)
    assert AuditEntry.objects.filter(action="receipt.file_deleted").count() == 1


def test_good_copies_follow_their_own_data_areas_days(private_media, fetched):
    DataArea.objects.filter(code="skole").update(retention_days=10)
    school, day_care = fetched(area="skole"), fetched(area="dagtilbud")
    assert run(9).receipts == []
    assert run(10).receipts == [school.pk]
    assert default_storage.exists(day_care.file.name)


def test_quarantined_copies_and_copies_without_a_data_area_go_after_the_rejected_days(
    private_media, fetched, settings
):
    settings.RETENTION_REJECTED_DAYS = 30
    DataArea.objects.update(retention_days=10)
    good = fetched()
    quarantined = fetched(verdict=ReceiptVerdict.CHECKSUM_MISMATCH)
    without_area = fetched(verdict=ReceiptVerdict.UNKNOWN_ROUTE, area=None)
    assert quarantined.file.name.startswith("receipts/quarantine/")
    # The data area's 10 days do not apply to a quarantined copy: it is kept to look into.
    assert run(10).receipts == [good.pk]
    assert run(29.9).receipts == []
    assert sorted(run(30).receipts) == sorted([quarantined.pk, without_area.pk])
    for receipt in (quarantined, without_area):
        assert not default_storage.exists(receipt.file.name)
        receipt.refresh_from_db()
        assert receipt.file_deleted_at == START + timedelta(days=30)


def test_a_receipt_without_a_copy_is_left_alone(private_media, fetched):
    # The data file was missing beside its metadata: recorded, nothing stored.
    receipt = fetched(verdict=ReceiptVerdict.SIZE_MISMATCH)
    default_storage.delete(receipt.file.name)
    Receipt.objects.filter(pk=receipt.pk).update(file="")
    assert run(5000).receipts == []
    receipt.refresh_from_db()
    assert receipt.file_deleted_at is None


def test_dry_run_deletes_nothing(private_media, fetched):
    receipt = fetched()
    result = run(100, dry_run=True)
    assert result.receipts == [receipt.pk] and result.receipt_bytes == len(CONTENT)
    assert default_storage.exists(receipt.file.name)
    receipt.refresh_from_db()
    assert receipt.file_deleted_at is None
    assert not AuditEntry.objects.filter(action__startswith="receipt.").exists()


def test_a_storage_error_leaves_the_row_for_the_next_run(private_media, fetched, monkeypatch):
    receipt, other = fetched(), fetched()
    real_delete = FileSystemStorage.delete

    def failing_delete(storage, name):
        if name == receipt.file.name:
            raise PermissionError("read-only")
        real_delete(storage, name)

    monkeypatch.setattr(FileSystemStorage, "delete", failing_delete)
    result = run(90)
    assert result.receipts == [other.pk]  # one failure does not stop the others
    assert result.failed == [f"kvittering {receipt.pk}: PermissionError: read-only"]
    receipt.refresh_from_db()
    assert receipt.file_deleted_at is None and default_storage.exists(receipt.file.name)
    assert AuditEntry.objects.filter(action="receipt.file_deleted").count() == 1

    monkeypatch.undo()
    assert run(91).receipts == [receipt.pk]
    receipt.refresh_from_db()
    assert receipt.file_deleted_at == START + timedelta(days=91)
    assert not default_storage.exists(receipt.file.name)


def test_a_run_that_died_after_deleting_the_copy_is_completed_by_the_next(private_media, fetched):
    receipt = fetched()
    default_storage.delete(receipt.file.name)  # the storage step done, the stamp not
    assert run(90).receipts == [receipt.pk]
    receipt.refresh_from_db()
    assert receipt.file_deleted_at == START + timedelta(days=90)
    assert AuditEntry.objects.filter(action="receipt.file_deleted").count() == 1


def test_a_copy_claimed_by_a_run_beside_this_one_is_not_deleted_twice(
    private_media, fetched, monkeypatch
):
    receipt = fetched()
    seen_by_the_other_run = retention.receipt_files_due(now=START + timedelta(days=90))
    assert run(90).receipts == [receipt.pk]
    # The other run read the same due list before this one stamped the receipt.
    monkeypatch.setattr(retention, "receipt_files_due", lambda *, now: seen_by_the_other_run)
    result = run(91)
    assert result.receipts == [] and result.failed == []
    receipt.refresh_from_db()
    assert receipt.file_deleted_at == START + timedelta(days=90)
    assert AuditEntry.objects.filter(action="receipt.file_deleted").count() == 1


# --- copies no receipt names ---


def test_old_unrecorded_copies_are_swept_in_both_trees(private_media, fetched, caplog):
    DataArea.objects.update(retention_days=3650)  # the recorded copy is not due
    kept = fetched(at=timezone.now())
    folder = kept.file.name.rpartition("/")[0]
    left = orphan(f"{folder}/{uuid.uuid4()}_LEV.csv")
    quarantined = orphan(f"receipts/quarantine/FLIS_HENT/2025-11/{uuid.uuid4()}_X.csv")
    with caplog.at_level(logging.INFO, logger="deliveries.services.retention"):
        result = retention_run(now=timezone.now() + timedelta(days=2))
    assert sorted(result.orphans) == sorted([left, quarantined])
    assert not default_storage.exists(left) and not default_storage.exists(quarantined)
    assert default_storage.exists(kept.file.name)  # recorded: never swept, however old
    assert f"retention: deleted {left}, which no receipt names" in caplog.text
    row = AuditEntry.objects.get(action="receipt.orphans_deleted")
    assert sorted(row.before["files"]) == sorted([left, quarantined])
    assert audit_verify().ok
    assert retention_run(now=timezone.now() + timedelta(days=3)).orphans == []


def test_a_young_unrecorded_copy_is_kept(private_media):
    # A fetch round stores its copy before it records the receipt: within the margin, an
    # unrecorded copy may be one that is being recorded right now.
    young = orphan(f"receipts/FLIS_HENT/2026-11/{uuid.uuid4()}_LEV.csv")
    result = retention_run(now=timezone.now() + retention.ORPHAN_MIN_AGE - timedelta(minutes=5))
    assert result.orphans == [] and result.failed == []
    assert default_storage.exists(young)
    assert not AuditEntry.objects.filter(action="receipt.orphans_deleted").exists()


def test_dry_run_lists_unrecorded_copies_and_keeps_them(private_media):
    left = orphan(f"receipts/FLIS_HENT/2026-11/{uuid.uuid4()}_LEV.csv")
    result = retention_run(now=timezone.now() + timedelta(days=2), dry_run=True)
    assert result.orphans == [left]
    assert default_storage.exists(left)
    assert not AuditEntry.objects.filter(action="receipt.orphans_deleted").exists()


def test_the_sweep_asks_the_database_once_per_folder(
    private_media, fetched, monkeypatch, django_assert_num_queries
):
    DataArea.objects.update(retention_days=3650)
    recorded = [fetched(at=timezone.now()) for _ in range(3)]
    folder = recorded[0].file.name.rpartition("/")[0]
    unrecorded = [orphan(f"{folder}/{uuid.uuid4()}_LEV.csv") for _ in range(3)]
    unrecorded.append(orphan(f"receipts/quarantine/FLIS_HENT/2025-11/{uuid.uuid4()}_X.csv"))
    unrecorded.append(orphan(f"receipts/OTHER/2025-10/{uuid.uuid4()}_Y.csv"))
    result = RetentionRound(dry_run=True)
    with django_assert_num_queries(3):  # three folders hold files
        receipt_orphans_sweep(result, now=timezone.now() + timedelta(days=2))
    assert sorted(result.orphans) == sorted(unrecorded)
    # A folder larger than one query's worth of names is looked up in batches, all of them.
    monkeypatch.setattr(retention, "_NAMES_PER_QUERY", 2)
    result = RetentionRound(dry_run=True)
    with django_assert_num_queries(3 + 1 + 1):  # 6 names in the first folder: 3 batches
        receipt_orphans_sweep(result, now=timezone.now() + timedelta(days=2))
    assert sorted(result.orphans) == sorted(unrecorded)


def test_retention_and_sweep_run_on_in_memory_storage(settings, fetched):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    assert isinstance(default_storage, InMemoryStorage)
    assert retention_run(now=START).orphans == []  # nothing stored yet: no receipts/ at all
    with time_machine.travel(START, tick=False):
        due = fetched()
        kept = fetched(area="skole")
        left = orphan(f"receipts/quarantine/FLIS_HENT/2026-01/{uuid.uuid4()}_X.csv")
    DataArea.objects.filter(code="skole").update(retention_days=3650)
    assert run(0.5).orphans == []  # young
    result = run(90)
    assert result.receipts == [due.pk] and result.orphans == [left]
    assert not default_storage.exists(due.file.name) and not default_storage.exists(left)
    assert default_storage.exists(kept.file.name)


# --- the command and the pages ---


def test_command_counts_copies(private_media, fetched, capsys):
    receipt = fetched(at=timezone.now() - timedelta(days=100))
    left = orphan(f"receipts/FLIS_HENT/2026-11/{uuid.uuid4()}_LEV.csv")
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        call_command("retention", "--dry-run")
        out = capsys.readouterr().out
        assert (
            f"1 hentede kopier ({len(CONTENT)} bytes) og 1 kopier uden kvittering ville blive "
            "slettet" in out
        )
        assert default_storage.exists(receipt.file.name) and default_storage.exists(left)
        call_command("retention")
    assert "1 kopier uden kvittering slettet; 0 kunne ikke slettes." in capsys.readouterr().out
    assert not default_storage.exists(receipt.file.name) and not default_storage.exists(left)


def test_receipt_page_says_the_copy_is_deleted_and_the_download_is_404(
    client, private_media, fetched, admin_user, consultant_user
):
    receipt = fetched()
    page_url = reverse("deliveries:receipt", args=[receipt.uuid])
    download_url = reverse("deliveries:receipt_download", args=[receipt.uuid])
    client.force_login(consultant_user)
    assert download_url in client.get(page_url).content.decode()
    run(90)
    for user in (admin_user, consultant_user):
        client.force_login(user)
        html = client.get(page_url).content.decode()
        assert "Portalens kopi af filen er slettet efter opbevaringsperioden (05.04.2026)." in html
        assert download_url not in html
        assert client.get(download_url).status_code == 404


def test_download_of_a_copy_gone_before_its_stamp_is_404(
    client, private_media, fetched, admin_user
):
    receipt = fetched()
    default_storage.delete(receipt.file.name)  # retention's first step, the stamp not yet
    client.force_login(admin_user)
    assert (
        client.get(reverse("deliveries:receipt_download", args=[receipt.uuid])).status_code == 404
    )
