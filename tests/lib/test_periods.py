"""flisportal/lib/periods.py: periods are Danish months, due dates are Danish calendar days
(month ends, February, leap years), deadlines are local midnight over DST changes; Danish time on
the page and the two ways a period is written."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flisportal.lib.periods import (
    date_text,
    end_of_day,
    local_date,
    local_time_text,
    period_compact,
    period_due_date,
    period_from_compact,
    period_of,
    period_shift,
)


def test_a_period_is_written_compact_on_the_wire_and_back():
    assert period_compact("2026-10") == "202610"
    assert period_from_compact("202610") == "2026-10"
    assert period_from_compact(period_compact("2027-01")) == "2027-01"


def test_local_date_is_the_day_in_denmark():
    # 23:30 UTC on 31 October is already 1 November in Copenhagen (CET, +1).
    assert local_date(datetime(2026, 10, 31, 23, 30, tzinfo=UTC)) == date(2026, 11, 1)
    assert local_date(datetime(2026, 10, 31, 22, 59, tzinfo=UTC)) == date(2026, 10, 31)


def test_local_time_text_with_and_without_seconds_in_summer_and_winter():
    summer = datetime(2026, 7, 1, 10, 5, 9, tzinfo=UTC)  # CEST, +2
    winter = datetime(2026, 12, 1, 10, 5, 9, tzinfo=UTC)  # CET, +1
    assert local_time_text(summer) == "01.07.2026 12:05:09"
    assert local_time_text(summer, seconds=False) == "01.07.2026 12:05"
    assert local_time_text(winter, seconds=False) == "01.12.2026 11:05"


def test_due_date_is_the_due_day_of_the_following_month():
    assert period_due_date("2026-10", 10) == date(2026, 11, 10)
    assert period_due_date("2026-12", 14) == date(2027, 1, 14)  # year end


def test_due_day_past_the_month_end_means_its_last_day():
    assert period_due_date("2027-01", 31) == date(2027, 2, 28)
    assert period_due_date("2028-01", 31) == date(2028, 2, 29)  # leap year
    assert period_due_date("2026-03", 31) == date(2026, 4, 30)
    assert period_due_date("2026-02", 31) == date(2026, 3, 31)


def test_periods_are_danish_months():
    # 23:30 UTC on 31 October is already November in Copenhagen (CET, +1).
    assert period_of(datetime(2026, 10, 31, 23, 30, tzinfo=UTC)) == "2026-11"
    assert period_of(datetime(2026, 10, 31, 22, 59, tzinfo=UTC)) == "2026-10"
    assert period_shift("2026-01", -1) == "2025-12"
    assert period_shift("2026-12", 1) == "2027-01"


def test_end_of_day_follows_the_local_clock_over_dst_changes():
    # Summer time ends Sunday 25 October 2026: that day has 25 hours; the deadline is local
    # midnight, which is 23:00 UTC (CET) and not 22:00 UTC (CEST).
    assert end_of_day(date(2026, 10, 25)) == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert end_of_day(date(2026, 10, 24)) == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    # Summer time starts Sunday 29 March 2026.
    assert end_of_day(date(2026, 3, 28)) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert end_of_day(date(2026, 3, 29)) == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)


def test_date_text_is_the_portals_day_month_year():
    assert date_text(date(2026, 4, 5)) == "05.04.2026"
