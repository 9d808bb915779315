"""Expected deliveries: a route's due dates (the data area's due day, a route's override, grace
days over a DST weekend), the scanner's states with a controlled clock, and met periods. The
calendar rules themselves (month ends, leap years, local midnight) are in
tests/lib/test_periods.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import ExpectedDelivery, ExpectedState
from deliveries.services.expected import expected_deadlines, expected_deliveries_scan
from routes.models import DataArea, Endpoint, Route
from tests.helpers.clock import local
from tests.helpers.lifecycle import DISTRIBUTED, walk_to

pytestmark = pytest.mark.django_db

S = DeliveryStatus


# --- due dates --------------------------------------------------------------------------------


def test_voksne_og_handicappede_is_due_on_the_14th_and_routes_may_override(upload_route):
    assert DataArea.objects.get(code="voksne_handicappede").due_day == 14
    assert upload_route.data_area.due_day == 10
    due_at, overdue_at = expected_deadlines(route=upload_route, period="2026-10")
    assert due_at == local(2026, 11, 11)
    assert overdue_at == due_at  # no grace days by default
    upload_route.due_day_override = 20
    upload_route.grace_days_override = 3
    due_at, overdue_at = expected_deadlines(route=upload_route, period="2026-10")
    assert due_at == local(2026, 11, 21)
    assert overdue_at == local(2026, 11, 24)


def test_grace_days_over_a_dst_weekend_count_calendar_days(upload_route):
    # Period 2026-09 due Friday 23 October; two grace days end Sunday 25 October, the day
    # summer time ends: overdue from local midnight, i.e. 23:00 UTC.
    upload_route.due_day_override = 23
    upload_route.grace_days_override = 2
    _, overdue_at = expected_deadlines(route=upload_route, period="2026-09")
    assert overdue_at == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)


# --- the scanner ------------------------------------------------------------------------------


def rows(route: Route) -> dict[str, str]:
    return dict(ExpectedDelivery.objects.filter(route=route).values_list("period", "state"))


def test_scanner_creates_the_current_and_next_period_once(owing_route):
    with time_machine.travel(local(2026, 11, 1, 8, 0), tick=False):
        first = expected_deliveries_scan()
        second = expected_deliveries_scan()
    assert first.created == 2 and second.created == 0
    assert rows(owing_route) == {"2026-10": "pending", "2026-11": "pending"}
    october = ExpectedDelivery.objects.get(route=owing_route, period="2026-10")
    assert october.due_at == local(2026, 11, 11)
    assert october.due_date == date(2026, 11, 10)


def test_due_soon_then_overdue_at_the_exact_local_midnight(owing_route, settings):
    settings.EXPECTED_DUE_SOON_DAYS = 3
    with time_machine.travel(local(2026, 11, 7, 23, 59), tick=False):
        expected_deliveries_scan()
    assert rows(owing_route)["2026-10"] == "pending"
    with time_machine.travel(local(2026, 11, 8, 0, 0), tick=False):
        result = expected_deliveries_scan()
    october = ExpectedDelivery.objects.get(route=owing_route, period="2026-10")
    assert october.state == ExpectedState.DUE_SOON
    assert result.due_soon == [october.pk]
    assert october.due_soon_alerted_at == local(2026, 11, 8)
    # 10 November 23:59:59 CET is still on time; midnight is not.
    with time_machine.travel(datetime(2026, 11, 10, 22, 59, 59, tzinfo=UTC), tick=False):
        assert expected_deliveries_scan().overdue == []
    with time_machine.travel(datetime(2026, 11, 10, 23, 0, 0, tzinfo=UTC), tick=False):
        result = expected_deliveries_scan()
        again = expected_deliveries_scan()
    assert result.overdue == [october.pk]
    assert again.overdue == []  # alerted once
    october.refresh_from_db()
    assert october.state == ExpectedState.OVERDUE
    assert rows(owing_route)["2026-11"] == "pending"


def test_a_period_first_seen_after_its_deadline_goes_straight_to_overdue(owing_route):
    with time_machine.travel(local(2026, 11, 20, 12, 0), tick=False):
        result = expected_deliveries_scan()
    assert len(result.overdue) == 1 and result.due_soon == []
    assert rows(owing_route)["2026-10"] == "overdue"


def test_grace_days_delay_overdue(owing_route):
    owing_route.grace_days_override = 2
    owing_route.save()
    with time_machine.travel(local(2026, 11, 12, 23, 0), tick=False):
        expected_deliveries_scan()
    assert rows(owing_route)["2026-10"] == "due_soon"
    with time_machine.travel(local(2026, 11, 13, 0, 0), tick=False):
        expected_deliveries_scan()
    assert rows(owing_route)["2026-10"] == "overdue"


def test_a_delivery_reaching_its_recipient_meets_the_period_at_once(
    owing_route, make_delivery, vendor_a_user
):
    with time_machine.travel(local(2026, 11, 1, 8, 0), tick=False):
        expected_deliveries_scan()
    with time_machine.travel(local(2026, 11, 5, 9, 30), tick=False):
        delivery = make_delivery(owing_route, vendor_a_user, "x", period="2026-10")
        walk_to(delivery, *DISTRIBUTED)
    october = ExpectedDelivery.objects.get(route=owing_route, period="2026-10")
    assert october.state == ExpectedState.MET
    assert october.met_by == delivery
    assert october.met_at == local(2026, 11, 5, 9, 30)
    assert october.days_late() == 0
    assert rows(owing_route)["2026-11"] == "pending"  # another period is not met by it


def test_a_late_delivery_meets_an_overdue_period_and_counts_days_late(
    owing_route, make_delivery, vendor_a_user
):
    with time_machine.travel(local(2026, 11, 12, 8, 0), tick=False):
        expected_deliveries_scan()
    assert rows(owing_route)["2026-10"] == "overdue"
    with time_machine.travel(local(2026, 11, 13, 23, 30), tick=False):
        delivery = make_delivery(owing_route, vendor_a_user, "x", period="2026-10")
        walk_to(delivery, *DISTRIBUTED, S.FETCHED)
    october = ExpectedDelivery.objects.get(route=owing_route, period="2026-10")
    assert october.state == ExpectedState.MET
    assert october.days_late() == 3


def test_rejected_or_sent_deliveries_do_not_meet_a_period(
    owing_route, make_delivery, vendor_a_user
):
    with time_machine.travel(local(2026, 11, 1, 8, 0), tick=False):
        expected_deliveries_scan()
        rejected = make_delivery(owing_route, vendor_a_user, "x", period="2026-10")
        walk_to(rejected, S.VALIDATING, S.REJECTED)
        sent = make_delivery(owing_route, vendor_a_user, "y", period="2026-10")
        walk_to(sent, S.VALIDATING, S.VALID, S.PUSHING, S.SENT)
        expected_deliveries_scan()
    assert rows(owing_route)["2026-10"] == "pending"


def test_scanner_catches_up_a_met_period_it_did_not_hear_about(
    owing_route, make_delivery, vendor_a_user
):
    # Delivered before the scanner had created the period's row.
    with time_machine.travel(local(2026, 11, 1, 8, 0), tick=False):
        delivery = make_delivery(owing_route, vendor_a_user, "x", period="2026-10")
        walk_to(delivery, *DISTRIBUTED)
        assert not ExpectedDelivery.objects.exists()
        result = expected_deliveries_scan()
    assert len(result.met) == 1
    assert rows(owing_route)["2026-10"] == "met"


def test_periods_due_before_the_route_was_established_are_not_owed(upload_route):
    upload_route.established_on = date(2026, 11, 12)
    upload_route.save()
    with time_machine.travel(local(2026, 11, 12, 9, 0), tick=False):
        expected_deliveries_scan()
    assert rows(upload_route) == {"2026-11": "pending"}


def test_only_established_routes_on_owing_endpoints_owe_extracts(owing_route, settings):
    Route.objects.filter(pk=owing_route.pk).update(endpoint=Endpoint.objects.get(slug="exttest"))
    with time_machine.travel(local(2026, 11, 1, 8, 0), tick=False):
        expected_deliveries_scan()
    assert not ExpectedDelivery.objects.exists()
    settings.EXPECTED_ENDPOINTS = ["exttest"]
    Route.objects.filter(pk=owing_route.pk).update(status="retired")
    with time_machine.travel(local(2026, 11, 1, 8, 0), tick=False):
        expected_deliveries_scan()
    assert not ExpectedDelivery.objects.exists()


def test_scanner_reads_open_rows_through_a_partial_index():
    index = next(i for i in ExpectedDelivery._meta.indexes if i.name == "expected_open_by_due")
    assert index.fields == ["due_at"]
    assert "pending" in str(index.condition) and "due_soon" in str(index.condition)
    assert "overdue" not in str(index.condition)


@pytest.mark.redis
def test_scan_job_is_registered_with_cron(clean_redis, settings):
    from django_rq.cron import DjangoCronScheduler

    scheduler = DjangoCronScheduler()
    scheduler.load_config_from_file("flisportal.cron")
    jobs = {job.func_name: job for job in scheduler.get_jobs()}
    job = jobs["deliveries.jobs.scan_expected_deliveries"]
    assert job.interval == settings.EXPECTED_SCAN_SECONDS
    assert job.queue_name == "default"


def test_without_lead_time_a_period_stays_pending_until_its_deadline(owing_route, settings):
    settings.EXPECTED_DUE_SOON_DAYS = 0
    with time_machine.travel(local(2026, 11, 11) - timedelta(seconds=1), tick=False):
        expected_deliveries_scan()
    assert rows(owing_route)["2026-10"] == "pending"
    with time_machine.travel(local(2026, 11, 11), tick=False):
        expected_deliveries_scan()
    assert rows(owing_route)["2026-10"] == "overdue"
