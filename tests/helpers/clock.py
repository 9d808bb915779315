"""Times for `time_machine`: deadlines and periods are Copenhagen wall-clock times, so tests
name them that way and let zoneinfo find the UTC offset (CET or CEST)."""

from __future__ import annotations

from datetime import datetime

from flisportal.lib.periods import COPENHAGEN


def local(*args: int) -> datetime:
    """`datetime(*args)` on Copenhagen's clock: `local(2026, 11, 10, 23, 59)`."""
    return datetime(*args, tzinfo=COPENHAGEN)
