"""How long to wait before trying again something that failed for a passing reason.

Exponential backoff: `base` seconds before the first retry, doubled for each one after it, at
most `cap`. The push to the Serviceplatform adds jitter (many deliveries that failed in one
outage must not all come back in the same second); the mail queue retries one mail at a time and
does not.
"""

from __future__ import annotations

import random


def backoff_seconds(
    attempt: int,
    *,
    base: float,
    cap: float | None = None,
    jitter: bool = False,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, …; anything below 1 counts as 1).

    With `jitter`, "equal jitter": half the step is fixed and half random, so the wait is
    between half the step and the step. `rng` makes the random half repeatable in tests.
    """
    step = base * 2 ** max(0, attempt - 1)
    if cap is not None:
        step = min(cap, step)
    if not jitter:
        return step
    return step / 2 + (rng or random).uniform(0, step / 2)
