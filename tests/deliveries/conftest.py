"""Fixtures for the deliveries tests: deliveries made through the real service."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from deliveries.models import Delivery
from deliveries.services.intake import IncomingFile, delivery_create


@pytest.fixture
def make_delivery(private_media, tmp_path, django_capture_on_commit_callbacks):
    """Creates a delivery of `content` for a route through `delivery_create` (file stored,
    first event written), without the upload rules of `delivery_upload`, so tests can make
    deliveries for any route. The validation job is not run unless a test runs it."""
    counter = {"n": 0}

    def make(route, user, content: str | bytes, *, period: str = "2026-10", **kwargs) -> Delivery:
        counter["n"] += 1
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = Path(tmp_path) / f"upload-{counter['n']}.csv"
        path.write_bytes(data)
        incoming = IncomingFile(
            path=path,
            original_name=f"udtraek-{counter['n']}.csv",
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
        return delivery_create(file=incoming, route=route, period=period, user=user, **kwargs)

    return make


from tests.deliveries.pushing import (  # noqa: E402, F401  (fixtures)
    cutting_proxy,
    push_route,
    pushable,
    sender_key,
    uploader,
)
from tests.deliveries.standin import standin, world  # noqa: E402, F401  (fixtures)
