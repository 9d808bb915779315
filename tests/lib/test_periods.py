"""flisportal/lib/periods.py: Danish time on the page and the two ways a period is written."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flisportal.lib.periods import (
    local_date,
    local_time_text,
    period_compact,
    period_from_compact,
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
    assert local_time_text(summer) == "01-07-2026 12:05:09"
    assert local_time_text(summer, seconds=False) == "01-07-2026 12:05"
    assert local_time_text(winter, seconds=False) == "01-12-2026 11:05"
