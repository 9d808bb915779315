"""Helpers for the push, receipt and reconciler tests: deliveries ready to push (straight into
`valid`, or any other status) and the sender's folders on the stand-in. The fixtures that set a
push up (`push_route`, `sender_key`, `uploader`, `pushable`, `cutting_proxy`) are in
tests/fixtures/standin.py.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from deliveries.serviceplatform.server import StandinThread
from routes.models import Route, User
from tests import factories
from tests.helpers.standin import World, home


def delivery_of(
    route: Route,
    user: User,
    media: Path,
    *,
    content: bytes | None = None,
    size: int | None = None,
    status: str = DeliveryStatus.VALID,
) -> Delivery:
    """A delivery row and its stored file, straight into `status` (validation is not what these
    tests are about). With `size` the file is sparse: large without costing the disk."""
    key = uuid.uuid4()
    name = f"deliveries/test/{key}.csv"
    path = media / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is not None:
        path.write_bytes(content)
        sha256 = hashlib.sha256(content).hexdigest()
    else:
        assert size is not None
        with path.open("wb") as handle:
            handle.truncate(size)
        sha256 = ""
    return factories.delivery(
        route,
        uuid=key,
        status=status,
        file=name,
        size=path.stat().st_size,
        sha256=sha256,
        uploaded_by=user,
        validated_at=timezone.now(),
    )


def sender_out(standin: StandinThread, world: World) -> Path:
    return home(standin, world.sender) / "OUT"


def sender_in(standin: StandinThread, world: World) -> Path:
    return home(standin, world.sender) / "IN"
