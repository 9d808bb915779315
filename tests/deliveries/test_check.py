"""Checking a file without sending it (deliveries.services.check), called directly as the
upload page, a batch or an API would: the same refusals as an upload up to validation, the same
validator and report as a delivery, queued on the validation queue; never a delivery, never a
push; the file deleted once checked; the report deleted by retention when it expires."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import django_rq
import pytest
import time_machine
from django.utils import timezone

from deliveries import jobs
from deliveries.models import DataContract, Delivery, FileCheck, FileCheckStatus, ValidationIssue
from deliveries.services import CHECK_JOB
from deliveries.services.check import delivery_check
from deliveries.services.intake import IntakeRefused, Refusal, delivery_upload
from deliveries.services.retention import retention_run
from flisportal.audit.models import AuditEntry
from flisportal.lib.queues import SFTP, VALIDATION
from tests.factories import dagtilbud_csv, dagtilbud_row

pytestmark = pytest.mark.django_db


def stored_files(private_media: Path) -> list[Path]:
    return [p for p in private_media.rglob("*") if p.is_file()]


@pytest.fixture
def check_file(
    clean_redis,
    private_media,
    incoming,
    upload_route,
    vendor_a_user,
    django_capture_on_commit_callbacks,
):
    """Checks `content` for vendor A on its upload route through the real queue (a private
    Redis), runs the one queued job in this process, and returns the check as recorded."""

    def check(content: bytes) -> FileCheck:
        with django_capture_on_commit_callbacks(execute=True):
            made = delivery_check(
                user=vendor_a_user, incoming=incoming(content), route=upload_route, period="2026-10"
            )
        queued = django_rq.get_queue(VALIDATION).jobs
        assert [(job.func_name, job.args) for job in queued] == [(CHECK_JOB, (made.pk,))]
        jobs.check_file(*queued[0].args)
        django_rq.get_queue(VALIDATION).empty()
        made.refresh_from_db()
        return made

    return check


def test_a_valid_file_gets_its_report_and_no_delivery_is_made_or_pushed(
    check_file, private_media, vendor_a_user, upload_route
):
    content = dagtilbud_csv(rows_ok=4).encode()
    check = check_file(content)
    assert check.status == FileCheckStatus.VALID
    assert (check.user, check.route, check.period) == (vendor_a_user, upload_route, "2026-10")
    assert check.contract is not None and check.contract.data_area == upload_route.data_area
    assert check.report["rows_checked"] == 4
    assert check.report["error_count"] == 0
    assert check.report["encoding"] == "utf-8"
    assert check.checked_at is not None
    # Not a delivery, and nothing on the push queue.
    assert not Delivery.objects.exists()
    assert django_rq.get_queue(SFTP).count == 0
    # The file has served its purpose once checked (the report is what is kept).
    assert check.file.name == ""
    assert stored_files(private_media) == []


def test_an_invalid_file_gets_the_report_a_delivery_of_it_gets(
    check_file, make_delivery, upload_route, vendor_a_user, settings
):
    """The same validator and the same report shape: a check's report equals what a delivery
    of the same bytes records, counts and listed issues alike."""
    settings.VALIDATION_MAX_LISTED_ERRORS = 3
    rows = [dagtilbud_row(i, pladstype="halv") for i in range(10, 15)]
    content = dagtilbud_csv(*rows, rows_ok=2).encode()
    check = check_file(content)
    assert check.status == FileCheckStatus.INVALID
    assert not Delivery.objects.exists()
    assert django_rq.get_queue(SFTP).count == 0

    delivery = make_delivery(upload_route, vendor_a_user, content)
    jobs.validate_delivery(delivery.pk)
    delivery.refresh_from_db()
    for name in ("error_count", "errors_by_rule", "errors_by_column", "rows_checked"):
        assert check.report[name] == getattr(delivery, name), name
    assert check.report["error_count"] == 5
    listed = ValidationIssue.objects.filter(delivery=delivery).values(
        "position", "row", "column", "value", "rule", "message", "message_code", "message_params"
    )
    assert check.report["issues"] == list(listed)
    assert [issue.message_text for issue in check.issues] == [
        issue.message_text for issue in delivery.issues.all()
    ]


def test_a_check_refuses_a_route_the_user_may_not_upload_to(
    incoming, private_media, upload_route, vendor_b_user
):
    """The same rule as an upload (deliveries.access via intake's route_and_period_check)."""
    file = incoming()
    with pytest.raises(IntakeRefused) as caught:
        delivery_check(user=vendor_b_user, incoming=file, route=upload_route, period="2026-10")
    assert caught.value.reason == Refusal.ROUTE
    assert "ikke en etableret rute" in caught.value.message
    assert not FileCheck.objects.exists()
    assert stored_files(private_media) == []
    assert not file.path.exists(), "the handed-over file was not removed"


def test_a_check_refuses_a_period_that_is_no_month(
    incoming, private_media, upload_route, vendor_a_user
):
    file = incoming()
    with pytest.raises(IntakeRefused) as caught:
        delivery_check(user=vendor_a_user, incoming=file, route=upload_route, period="okt 2026")
    assert caught.value.reason == Refusal.PERIOD
    assert not FileCheck.objects.exists()
    assert not file.path.exists()


def test_a_checked_file_can_still_be_delivered(check_file, incoming, upload_route, vendor_a_user):
    """A check is not counted by the same-file rule: delivering the bytes just checked is a
    first delivery, not a repeat that needs confirming."""
    content = dagtilbud_csv(rows_ok=2).encode()
    check_file(content)
    delivery = delivery_upload(
        file=incoming(content), route=upload_route, period="2026-10", user=vendor_a_user
    )
    assert delivery.sha256 == FileCheck.objects.get().sha256
    assert not delivery.redelivery_confirmed


def test_a_check_job_runs_once(check_file):
    """Claimed by a conditional update: a duplicate job finds nothing to do."""
    check = check_file(dagtilbud_csv(rows_ok=1).encode())
    assert jobs.check_file(check.pk) is None
    assert FileCheck.objects.get().report == check.report


def test_a_check_without_a_contract_says_why(check_file, upload_route):
    DataContract.objects.filter(data_area=upload_route.data_area).update(is_active=False)
    check = check_file(dagtilbud_csv(rows_ok=1).encode())
    assert check.status == FileCheckStatus.FAILED
    assert "ingen aktiv datakontrakt for Dagtilbud" in check.problem_text
    assert check.file.name == ""


def test_retention_deletes_checks_whose_report_has_expired(
    incoming, private_media, upload_route, vendor_a_user, settings
):
    """FILE_CHECK_KEEP_HOURS after it was asked for, a check goes with its file (one that never
    ran still has it); a younger one stays. One audit row per run."""
    settings.FILE_CHECK_KEEP_HOURS = 72
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        old = delivery_check(
            user=vendor_a_user, incoming=incoming(), route=upload_route, period="2026-10"
        )
    with time_machine.travel(start + timedelta(hours=48), tick=False):
        young = delivery_check(
            user=vendor_a_user, incoming=incoming(), route=upload_route, period="2026-10"
        )
    assert len(stored_files(private_media)) == 2
    with time_machine.travel(start + timedelta(hours=71), tick=False):
        assert retention_run().file_checks == 0
    assert FileCheck.objects.count() == 2

    with time_machine.travel(start + timedelta(hours=72, minutes=1), tick=False):
        result = retention_run()
    assert result.file_checks == 1
    assert list(FileCheck.objects.values_list("pk", flat=True)) == [young.pk]
    assert [p.name for p in stored_files(private_media)] == [f"{young.uuid}.csv"]
    assert not FileCheck.objects.filter(pk=old.pk).exists()
    entry = AuditEntry.objects.get(action="filecheck.deleted")
    assert entry.before == {"count": 1}


def test_retention_dry_run_only_counts_expired_checks(incoming, upload_route, vendor_a_user):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        delivery_check(
            user=vendor_a_user, incoming=incoming(), route=upload_route, period="2026-10"
        )
    with time_machine.travel(start + timedelta(days=30), tick=False):
        assert retention_run(dry_run=True).file_checks == 1
    assert FileCheck.objects.count() == 1
