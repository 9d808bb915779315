"""While a delivery waits for the platform's receipt (`sent`) or the recipient's fetch
(`distributed`), its page and the status JSON it polls say when that is expected, from the
configured poll intervals, in Danish time, and say when it is overdue (issue #16).

The clock is frozen with time_machine around the requests as well, so nothing depends on today."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.selectors import delivery_expectation
from tests import factories

pytestmark = pytest.mark.django_db

# 21:10:20 in Copenhagen (CET, UTC+1).
SENT = datetime(2026, 12, 4, 20, 10, 20, tzinfo=UTC)


@pytest.fixture
def intervals(settings):
    settings.RECEIPT_POLL_SECONDS = 300
    settings.FETCH_POLL_SECONDS = 300
    settings.RECEIPT_OVERDUE_MINUTES = 60
    settings.NOTIFY_NOT_FETCHED_HOURS = 48
    settings.ADAPTIVE_POLL = True
    return settings


def _page_and_json(client, user, delivery, now):
    with time_machine.travel(now, tick=False):
        client.force_login(user)  # inside: a session from real "now" may have expired by `now`
        page = client.get(reverse("deliveries:detail", args=[delivery.uuid])).content.decode()
        data = client.get(reverse("deliveries:status", args=[delivery.uuid])).json()
    return page, data


def test_receipt_expected_by_the_next_cron_round_in_danish_time(
    client, upload_route, vendor_a_user, intervals
):
    """Rule: a sent delivery's receipt is expected by the first cron receipt round (every
    RECEIPT_POLL_SECONDS from the send) not yet past, rounded up to the minute, as H:i in
    Copenhagen; the page and the JSON say the same."""
    delivery = factories.delivery(upload_route, status=DeliveryStatus.SENT, sent_at=SENT)
    page, data = _page_and_json(client, vendor_a_user, delivery, SENT + timedelta(minutes=2))
    expected = "Teknisk kvittering ventes senest ca. 21:16."  # 20:15:20 UTC, rounded up
    assert expected in page
    assert data["expectation"].startswith(expected)
    assert data["expectation_overdue"] is False
    assert "mindst hvert 5 minutter" in data["expectation"]

    # Past the first round, the next one is named: the expectation moves on with the clock.
    _, later = _page_and_json(client, vendor_a_user, delivery, SENT + timedelta(minutes=7))
    assert later["expectation"].startswith("Teknisk kvittering ventes senest ca. 21:21.")


def test_receipt_expectation_names_the_day_when_it_is_another(
    client, upload_route, vendor_a_user, intervals
):
    """Rule: a time on another Danish day than today is written d.m.Y H:i."""
    sent = datetime(2026, 12, 4, 22, 58, 0, tzinfo=UTC)  # 23:58 in Copenhagen
    delivery = factories.delivery(upload_route, status=DeliveryStatus.SENT, sent_at=sent)
    _, data = _page_and_json(client, vendor_a_user, delivery, sent + timedelta(seconds=30))
    assert data["expectation"].startswith("Teknisk kvittering ventes senest ca. 05.12.2026 00:03.")


def test_receipt_expectation_without_adaptive_rounds(
    client, upload_route, vendor_a_user, intervals
):
    """Rule: with FLISPORTAL_ADAPTIVE_POLL off, the page does not promise a look within seconds."""
    intervals.ADAPTIVE_POLL = False
    delivery = factories.delivery(upload_route, status=DeliveryStatus.SENT, sent_at=SENT)
    _, data = _page_and_json(client, vendor_a_user, delivery, SENT + timedelta(minutes=1))
    assert data["expectation"] == "Teknisk kvittering ventes senest ca. 21:16."


def test_receipt_overdue_after_receipt_overdue_minutes(
    client, upload_route, vendor_a_user, intervals
):
    """Rule: past RECEIPT_OVERDUE_MINUTES (the Driftsstatus limit) the page says the receipt is
    late and to contact the platform's support; a minute before, it still names a time."""
    delivery = factories.delivery(upload_route, status=DeliveryStatus.SENT, sent_at=SENT)
    _, before = _page_and_json(client, vendor_a_user, delivery, SENT + timedelta(minutes=59))
    assert before["expectation_overdue"] is False
    page, data = _page_and_json(client, vendor_a_user, delivery, SENT + timedelta(minutes=61))
    assert data["expectation_overdue"] is True
    assert "Den tekniske kvittering er forsinket" in data["expectation"]
    assert "over 60 min. siden" in data["expectation"]
    assert "Kontakt Serviceplatformens support" in page


def test_fetch_expected_within_the_fetch_interval(client, upload_route, vendor_a_user, intervals):
    """Rule: a distributed delivery's fetch is expected within FETCH_POLL_SECONDS of the
    distribution, by the next fetch round."""
    delivery = factories.delivery(
        upload_route, status=DeliveryStatus.DISTRIBUTED, sent_at=SENT, status_changed_at=SENT
    )
    page, data = _page_and_json(client, vendor_a_user, delivery, SENT + timedelta(minutes=1))
    expected = "Modtageren henter filen normalt inden for 5 minutter (senest ca. 21:16)"
    assert expected in page
    assert data["expectation"].startswith(expected)
    assert data["expectation_overdue"] is False


def test_fetch_overdue_after_not_fetched_hours(client, upload_route, vendor_a_user, intervals):
    """Rule: past NOTIFY_NOT_FETCHED_HOURS (the Driftsstatus limit) the page says the file is not
    fetched and to contact the recipient."""
    delivery = factories.delivery(
        upload_route, status=DeliveryStatus.DISTRIBUTED, sent_at=SENT, status_changed_at=SENT
    )
    _, data = _page_and_json(client, vendor_a_user, delivery, SENT + timedelta(hours=49))
    assert data["expectation_overdue"] is True
    assert data["expectation"].startswith("Modtageren har ikke hentet filen i over 48 timer.")
    assert "Kontakt modtageren" in data["expectation"]


@pytest.mark.parametrize("status", [DeliveryStatus.VALID, DeliveryStatus.FETCHED])
def test_no_expectation_when_not_waiting_for_receipt_or_fetch(
    client, upload_route, vendor_a_user, intervals, status
):
    """Rule: only `sent` and `distributed` have an expected time; other states show none."""
    delivery = factories.delivery(upload_route, status=status, sent_at=SENT)
    page, data = _page_and_json(client, vendor_a_user, delivery, SENT + timedelta(minutes=1))
    assert data["expectation"] == ""
    assert 'id="delivery-expectation"' not in page


def test_expectation_is_translated_to_english(upload_route, intervals):
    """Rule: the texts are translatable, with English in the po file."""
    delivery = factories.delivery(
        upload_route, status=DeliveryStatus.DISTRIBUTED, sent_at=SENT, status_changed_at=SENT
    )
    with translation.override("en"):
        expectation = delivery_expectation(delivery, now=SENT + timedelta(minutes=1))
    assert expectation is not None
    assert expectation.text.startswith(
        "The recipient usually fetches the file within 5 minutes (by about 21:16 at the latest)"
    )


def test_flagged_missing_receipt_is_said_once(client, upload_route, vendor_a_user, intervals):
    """Rule: once the reconciler has flagged the receipt as missing, the page's alert says so and
    what to do; the overdue line is not shown beside it a second time."""
    delivery = factories.delivery(
        upload_route,
        status=DeliveryStatus.SENT,
        sent_at=SENT,
        receipt_overdue_at=SENT + timedelta(minutes=61),
    )
    page, data = _page_and_json(client, vendor_a_user, delivery, SENT + timedelta(minutes=62))
    assert data["expectation_overdue"] is True
    assert "har ikke sendt en teknisk kvittering" in page
    assert 'id="delivery-expectation"' not in page
