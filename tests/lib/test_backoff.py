"""flisportal/lib/backoff.py: the one backoff of the push's SFTP retries and the mail queue."""

from __future__ import annotations

import random

from flisportal.lib.backoff import backoff_seconds


def test_doubles_from_the_base_and_stops_at_the_cap():
    waits = [backoff_seconds(n, base=10, cap=100) for n in range(1, 8)]
    assert waits == [10, 20, 40, 80, 100, 100, 100]


def test_without_a_cap_it_keeps_doubling():
    assert [backoff_seconds(n, base=60) for n in range(1, 5)] == [60, 120, 240, 480]


def test_attempts_below_one_wait_the_base():
    assert backoff_seconds(0, base=30) == backoff_seconds(-3, base=30) == 30


def test_equal_jitter_lies_between_half_the_step_and_the_step():
    rng = random.Random(7)
    for attempt in range(1, 12):
        step = min(1800, 30 * 2 ** (attempt - 1))
        wait = backoff_seconds(attempt, base=30, cap=1800, jitter=True, rng=rng)
        assert step / 2 <= wait <= step


def test_jitter_varies_and_the_same_seed_repeats():
    first = [backoff_seconds(3, base=10, jitter=True, rng=random.Random(1)) for _ in range(3)]
    assert len(set(first)) == 1  # the same seed, the same wait
    rng = random.Random(1)
    spread = {backoff_seconds(3, base=10, jitter=True, rng=rng) for _ in range(20)}
    assert len(spread) > 1
