"""Queue names and the one way jobs are put on them.

Jobs take ids, never model instances, and are enqueued after the surrounding transaction
commits, so a worker never looks for a row that is not there yet.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import django_rq
from django.db import transaction

DEFAULT = "default"
VALIDATION = "validation"  # CPU-bound: reading and checking extracts
SFTP = "sftp"  # network-bound: push, receipts, fetch


def enqueue_on_commit(queue: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    transaction.on_commit(lambda: django_rq.get_queue(queue).enqueue(func, *args, **kwargs))


def enqueue_in_on_commit(
    queue: str, delay: timedelta, func: Callable[..., Any], *args: Any, **kwargs: Any
) -> None:
    """Like `enqueue_on_commit`, but the job becomes due after `delay`; a worker started with
    `--with-scheduler` moves it onto the queue then."""
    transaction.on_commit(
        lambda: django_rq.get_queue(queue).enqueue_in(delay, func, *args, **kwargs)
    )


def ping() -> str:
    """A job that only answers: shows that a worker takes work from the queue."""
    return "pong"
