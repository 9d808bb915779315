"""Time as people in Denmark read it, and the monthly periods extracts are delivered for.

A period is a calendar month written 'YYYY-MM'. On the wire and inside extracts it is written
'YYYYMM' (`period_compact`): KOMBIT's file names and the contracts' period columns. Due dates
are calendar days in Denmark: a deadline is the end of the due day there, whatever the server's
clock or the UTC offset (CET/CEST) that day has.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")

# ASCII digits only, and fullmatch: `\d` would take other scripts' digits and `$` a trailing
# newline, and a period is stored, compared and put in file names as it is.
_PERIOD_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


# The portal's one date format in what people read (pages, messages, mails): Danish day.month.year,
# as the templates' `|date:"d.m.Y"` and `"d.m.Y H:i"`. CSV files and the API keep ISO 8601,
# which programs read.


def date_text(day: date) -> str:
    """A calendar day as people in Denmark read it: 05.04.2026."""
    return f"{day:%d.%m.%Y}"


def local_time_text(moment: datetime, *, seconds: bool = True) -> str:
    """A time as people in Denmark read it on the page, whatever the server's zone:
    05.04.2026 14:03(:09)."""
    local = moment.astimezone(COPENHAGEN)
    return f"{local:%d.%m.%Y %H:%M:%S}" if seconds else f"{local:%d.%m.%Y %H:%M}"


def local_date(moment: datetime) -> date:
    """The calendar day `moment` falls on in Denmark (an instant just after midnight there is
    still the previous day in UTC)."""
    return moment.astimezone(COPENHAGEN).date()


def period_of(moment: datetime) -> str:
    """The month `moment` falls in, in Denmark, as 'YYYY-MM'."""
    local = moment.astimezone(COPENHAGEN)
    return f"{local.year:04d}-{local.month:02d}"


def is_period(text: str) -> bool:
    """Whether `text` names a period: 'YYYY-MM' with a month from 01 to 12, nothing around it."""
    return _PERIOD_RE.fullmatch(text) is not None


def period_compact(period: str) -> str:
    """'YYYY-MM' as 'YYYYMM', the form in wire file names and in extracts' period columns."""
    return period.replace("-", "")


def period_from_compact(compact: str) -> str:
    """'YYYYMM' as 'YYYY-MM' (the other way of `period_compact`)."""
    return f"{compact[:4]}-{compact[4:6]}"


def period_shift(period: str, months: int) -> str:
    year, month = (int(part) for part in period.split("-"))
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def period_due_date(period: str, due_day: int) -> date:
    """The due date of a period's extract: `due_day` of the following month, or that month's
    last day when it is shorter (due day 31 → 28 or 29 February)."""
    following = period_shift(period, 1)
    year, month = (int(part) for part in following.split("-"))
    return date(year, month, min(due_day, calendar.monthrange(year, month)[1]))


def end_of_day(day: date) -> datetime:
    """The instant day `day` ends in Denmark: local midnight starting the next day. Built from
    the local calendar, so a DST change that weekend moves the UTC instant, not the deadline."""
    following = day + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=COPENHAGEN)
