"""Retention: which stored files are deleted (fetched after the data area's days, rejected or
refused after RETENTION_REJECTED_DAYS) and which never are (any other state); dry run, the
command, the audit row, and what stays."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.urls import reverse

from deliveries.jobs import validate_delivery
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery, ValidationIssue
from deliveries.services.retention import retention_run
from flisportal.audit.models import AuditEntry
from flisportal.audit.services import audit_verify
from flisportal.lib.periods import COPENHAGEN
from routes.models import DataArea
from tests.factories import dagtilbud_csv, dagtilbud_row
from tests.helpers.lifecycle import DISTRIBUTED, walk_to

pytestmark = pytest.mark.django_db

S = DeliveryStatus
START = datetime(2026, 1, 5, 10, 0, tzinfo=COPENHAGEN)


@pytest.fixture
def made(make_delivery, upload_route, vendor_a_user):
    """A delivery uploaded at START and moved through `statuses` then."""

    def make(*statuses: str, content: str = "x") -> Delivery:
        with time_machine.travel(START, tick=False):
            delivery = make_delivery(upload_route, vendor_a_user, content)
            walk_to(delivery, *statuses)
        assert default_storage.exists(delivery.file.name)
        return delivery

    return make


def run(days: float, **kwargs):
    return retention_run(now=START + timedelta(days=days), **kwargs)


def test_a_fetched_file_is_deleted_after_the_data_areas_retention(made):
    delivery = made(*DISTRIBUTED, S.FETCHED)
    assert run(89.9).deleted == []
    result = run(90)
    assert result.deleted == [delivery.pk] and result.bytes == delivery.size
    assert not default_storage.exists(delivery.file.name)
    delivery.refresh_from_db()
    assert delivery.file_deleted_at == START + timedelta(days=90)
    # The delivery itself, its events and checksum stay.
    assert delivery.status == S.FETCHED and delivery.sha256 and delivery.events.count() == 7
    row = AuditEntry.objects.get(action="delivery.file_deleted")
    assert row.before["file"] == delivery.file.name and row.before["sha256"] == delivery.sha256
    assert row.actor_label == "opbevaring" and row.kommune_id == delivery.kommune_id
    assert audit_verify().ok
    assert run(200).deleted == []  # once


def test_the_converted_copy_that_was_sent_is_deleted_with_the_upload(made):
    # Rule: retention deletes every stored copy of the extract, the one sent included.
    delivery = made(*DISTRIBUTED, S.FETCHED)
    copy = default_storage.save("deliveries/copy.sendt-utf-8.csv", ContentFile(b"x"))
    Delivery.objects.filter(pk=delivery.pk).update(sent_file=copy)
    assert run(90).deleted == [delivery.pk]
    assert not default_storage.exists(copy)
    assert not default_storage.exists(delivery.file.name)
    assert AuditEntry.objects.get(action="delivery.file_deleted").before["sent_file"] == copy


def test_retention_days_are_per_data_area(made):
    DataArea.objects.filter(code="dagtilbud").update(retention_days=10)
    delivery = made(*DISTRIBUTED, S.FETCHED)
    assert run(9).deleted == []
    assert run(10).deleted == [delivery.pk]


def test_rejected_and_refused_files_go_after_the_rejected_retention(made, settings):
    settings.RETENTION_REJECTED_DAYS = 30
    rejected = made(S.VALIDATING, S.REJECTED)
    refused = made(S.VALIDATING, S.VALID, S.PUSHING, S.SENT, S.REFUSED)
    assert run(29).deleted == []
    assert sorted(run(30).deleted) == sorted([rejected.pk, refused.pk])


def test_files_not_in_a_final_state_are_never_deleted(made, settings):
    settings.RETENTION_REJECTED_DAYS = 1
    DataArea.objects.update(retention_days=1)
    kept = [
        made(),  # received
        made(S.VALIDATING, S.VALID),
        made(S.VALIDATING, S.VALID, S.PUSHING, S.SENT),
        made(*DISTRIBUTED),  # the recipient may still fetch it
        made(S.VALIDATING, S.VALID, S.PUSHING, S.FAILED),  # an administrator may retry
    ]
    assert run(5000).deleted == []
    for delivery in kept:
        assert default_storage.exists(delivery.file.name)
        delivery.refresh_from_db()
        assert delivery.file_deleted_at is None


def test_dry_run_deletes_nothing(made):
    delivery = made(*DISTRIBUTED, S.FETCHED)
    result = run(100, dry_run=True)
    assert result.deleted == [delivery.pk]
    assert default_storage.exists(delivery.file.name)
    assert not Delivery.objects.filter(file_deleted_at__isnull=False).exists()
    assert not AuditEntry.objects.filter(action="delivery.file_deleted").exists()


def test_command_dry_run_and_real_run(made, capsys):
    delivery = made(*DISTRIBUTED, S.FETCHED)
    with time_machine.travel(START + timedelta(days=100), tick=False):
        call_command("retention", "--dry-run")
        assert "1 filer" in capsys.readouterr().out
        assert default_storage.exists(delivery.file.name)
        call_command("retention")
    assert "slettet; 0 kunne ikke slettes." in capsys.readouterr().out
    assert not default_storage.exists(delivery.file.name)


def test_values_quoted_from_the_file_are_removed_from_the_report_and_mail(
    make_delivery, upload_route, vendor_a_user, settings
):
    from flisportal.notifications.models import OutgoingMail

    settings.RETENTION_REJECTED_DAYS = 30
    vendor_a_user.email = "uploader@leverandoer-a.dk"
    vendor_a_user.save()
    with time_machine.travel(START, tick=False):
        rows = [dagtilbud_row(i, cpr_barn="0101209999x") for i in range(2)]
        delivery = make_delivery(upload_route, vendor_a_user, dagtilbud_csv(*rows))
        assert validate_delivery(delivery.pk) == S.REJECTED
    assert ValidationIssue.objects.filter(delivery=delivery, value="0101209999x").exists()
    # The mail never quotes a value (it lists row, column and rule); retention still replaces
    # its body below.
    assert "0101209999" not in OutgoingMail.objects.get(kind="validation_failed").body_text
    run(30)
    delivery.refresh_from_db()
    assert delivery.error_count > 0 and delivery.errors_by_rule  # the summary stays
    issues = ValidationIssue.objects.filter(delivery=delivery)
    assert issues.exists()
    assert not issues.exclude(value="").exists()
    assert not any("0101209999" in i.message for i in issues)
    mail = OutgoingMail.objects.get(kind="validation_failed")
    assert mail.subject.startswith("Leverance afvist")
    assert "0101209999" not in mail.body_text + mail.body_html
    assert mail.body_text.startswith("(Indholdet er slettet")


def test_download_of_a_deleted_file_is_404_and_the_page_says_why(client, made, vendor_a_user):
    delivery = made(*DISTRIBUTED, S.FETCHED)
    run(90)
    client.force_login(vendor_a_user)
    assert client.get(reverse("deliveries:download", args=[delivery.uuid])).status_code == 404
    page = client.get(reverse("deliveries:detail", args=[delivery.uuid]))
    assert "Filen er slettet 05.04.2026 efter opbevaringsperioden." in page.content.decode()


@pytest.mark.redis
def test_retention_is_registered_with_cron(clean_redis):
    from django_rq.cron import DjangoCronScheduler

    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("flisportal.cron")
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    assert jobs["deliveries.jobs.apply_retention"].cron == "30 3 * * *"
    assert jobs["flisportal.audit.jobs.verify_audit_chain"].cron == "45 2 * * *"
