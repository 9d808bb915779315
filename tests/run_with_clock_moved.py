"""Runs a command with the machine's clock moved forward, as the suite will meet it on a later day:
`python tests/run_with_clock_moved.py month newyear year -- pytest`.

A test that freezes a date for part of what it checks and lets the rest run at the real date
passes on the day it was written and fails weeks later. Running the suite today at a later date
shows such a test now instead. Each shift runs the command once:

- `month`: 31 days ahead;
- `newyear`: a few minutes before midnight on New Year's Eve in Copenhagen, so the run crosses
  into a new year (and a new month and period) while it goes;
- `year`: 366 days ahead;
- `+N`: N days ahead.

The clock is moved inside every Python process the command starts — the test process, its
worker processes, `runserver`, the stand-in — by the same offset, with time-machine
(tests/clock_moved/sitecustomize.py), so they agree with each other. Redis, sshd and Chromium
keep the real clock; nothing the tests check reads theirs. Files written during the run get the
kernel's real modification time, which lies behind the moved clock: a test that depends on a
file's age sets the age itself (`os.utime`) from the clock it controls.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
# The folder whose sitecustomize.py moves the clock of each Python process.
SITECUSTOMIZE = Path(__file__).resolve().parent / "clock_moved"
# How long before midnight the `newyear` run starts: long enough to set up, short enough that
# the tests run on both sides of the turn.
BEFORE_MIDNIGHT = timedelta(minutes=3)


def offset_for(shift: str, now: datetime) -> timedelta:
    if shift == "month":
        return timedelta(days=31)
    if shift == "year":
        return timedelta(days=366)
    if shift == "newyear":
        midnight = datetime(now.astimezone(COPENHAGEN).year + 1, 1, 1, tzinfo=COPENHAGEN)
        return midnight - BEFORE_MIDNIGHT - now
    if shift.startswith("+") and shift[1:].isdigit():
        return timedelta(days=int(shift[1:]))
    raise SystemExit(f"unknown shift {shift!r}: use month, newyear, year or +DAYS")


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == 0 or argv[-1] == "--":
        raise SystemExit("usage: run_with_clock_moved.py SHIFT [SHIFT…] -- COMMAND [ARGS…]")
    split = argv.index("--")
    shifts, command = argv[:split], argv[split + 1 :]
    failed = []
    for shift in shifts:
        offset = offset_for(shift, datetime.now(UTC))
        moved = datetime.now(UTC) + offset
        reads = f"{moved.astimezone(COPENHAGEN):%Y-%m-%d %H:%M %Z}"
        print(f"== {shift}: the clock reads {reads}", flush=True)
        path = os.pathsep.join(filter(None, [str(SITECUSTOMIZE), os.environ.get("PYTHONPATH")]))
        env = dict(
            os.environ,
            PYTHONPATH=path,
            FLISPORTAL_TEST_CLOCK_SHIFT=str(offset.total_seconds()),
        )
        result = subprocess.run(command, env=env, check=False)
        if result.returncode != 0:
            failed.append(shift)
    if failed:
        print(f"== failed with the clock moved: {', '.join(failed)}", flush=True)
        return 1
    print(f"== passed with the clock moved: {', '.join(shifts)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
