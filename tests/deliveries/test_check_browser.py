"""A check without sending whose job was lost, as its maker sees it in a real browser: the page
says «kontrolleres» and reloads itself; once the reconciler has set the check going again and a
worker has run it, the page shows the report by itself. One whose file is gone shows what to do
and stops reloading."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.utils import timezone

from deliveries.models import FileCheck
from deliveries.services.check import delivery_check
from deliveries.services.reconcile import deliveries_reconcile
from flisportal.lib.queues import VALIDATION
from tests.factories import dagtilbud_csv, portal_password
from tests.helpers.browser import log_in, shot

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PASSWORD = "pw-vendor-a-1234"


def test_a_lost_check_is_shown_checking_and_then_its_report_without_a_reload_by_hand(
    portal_url, page, vendor_a_user, upload_route, incoming, clean_redis, run_worker, settings
):
    portal_password(vendor_a_user, PASSWORD)
    log_in(page, portal_url, vendor_a_user.username, PASSWORD)
    check = delivery_check(
        user=vendor_a_user,
        incoming=incoming(dagtilbud_csv(rows_ok=4).encode()),
        route=upload_route,
        period="2026-10",
    )
    clean_redis.flushdb()  # the job is lost before any worker took it

    page.goto(f"{portal_url}/leverancer/kontrol/{check.uuid}/")
    assert "kontrolleres" in page.locator("h1 + span .badge").inner_text()
    assert "Siden opdaterer sig selv" in page.content()
    shot(page, "check-lost-checking")

    later = timezone.now() + timedelta(minutes=settings.RECONCILE_STUCK_MINUTES + 1)
    with time_machine.travel(later, tick=False):
        assert deliveries_reconcile().checks_requeued == [check.pk]
    done = run_worker(VALIDATION)
    assert done.returncode == 0, done.stderr
    # No reload by hand: the page's own Refresh brings the report.
    page.locator("h1 + span .badge", has_text="ingen fejl").wait_for(timeout=15_000)
    assert "Send denne fil" in page.content()
    shot(page, "check-lost-rerun-valid")


def test_a_check_whose_file_is_gone_says_what_to_do_and_stops_reloading(
    portal_url, page, vendor_a_user, upload_route, incoming, clean_redis, settings
):
    portal_password(vendor_a_user, PASSWORD)
    log_in(page, portal_url, vendor_a_user.username, PASSWORD)
    check = delivery_check(
        user=vendor_a_user,
        incoming=incoming(dagtilbud_csv(rows_ok=2).encode()),
        route=upload_route,
        period="2026-10",
    )
    clean_redis.flushdb()
    started = timezone.now()
    FileCheck.objects.filter(pk=check.pk).update(started_at=started)  # a worker took it, died
    default_storage.delete(check.file.name)
    with time_machine.travel(
        started + timedelta(minutes=settings.RECONCILE_STUCK_MINUTES + 1), tick=False
    ):
        assert deliveries_reconcile().checks_failed == [check.pk]

    response = page.goto(f"{portal_url}/leverancer/kontrol/{check.uuid}/")
    assert response is not None and "refresh" not in response.headers
    assert "kunne ikke kontrolleres" in page.locator("h1 + span .badge").inner_text()
    alert = page.locator(".alert-danger").inner_text()
    assert "Filen kunne ikke kontrolleres." in alert
    assert "Kontrollen blev afbrudt, og filen findes ikke længere" in alert
    assert page.locator("#send-checked").count() == 0  # nothing left to send
    shot(page, "check-lost-file-gone")
