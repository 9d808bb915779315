"""Moves the clock of every Python process in a run of tests/run_with_clock_moved.py.

That runner puts this folder first on PYTHONPATH and the shift in seconds in
FLISPORTAL_TEST_CLOCK_SHIFT, so Python imports this module at start-up in the test process and
in every process it starts: worker processes, `runserver`, the Serviceplatform stand-in. Each
travels to its own start time plus the same shift and lets the clock tick from there, so all of
them agree on the moved date. A test's own `time_machine.travel(...)` nests inside and returns
here when it ends.

Programs that are not Python (Redis, sshd, Chromium) keep the real clock; nothing the tests
check reads theirs.
"""

import os

_shift = os.environ.get("FLISPORTAL_TEST_CLOCK_SHIFT")
if _shift:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_shift), tick=True).start()
