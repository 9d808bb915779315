"""Fixtures and helpers for the push, receipt and reconciler tests: the stand-in's `world` with a
Dagtilbud route for vendor A's fagsystem, the sender's key encrypted as the portal stores it, an
uploader, deliveries in any state, and a TCP proxy that can cut a connection mid-transfer.

Persona: `uploader` is vendor A's staff member who uploads (and may retry) the deliveries.
The stand-in runs in this process and worker processes share the test database, so these tests
use `transactional_db` (through `world`).
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from deliveries.serviceplatform.server import StandinThread
from routes.keys import encrypt_private_key
from routes.models import DataArea, Route, SftpKey, User
from tests.deliveries.standin import World, established_route, home


@pytest.fixture
def push_route(world: World) -> Route:
    """An established Dagtilbud route for København from vendor A's fagsystem to FLIS and
    København's LIS, on the stand-in's endpoint (world.route is Personale)."""
    return established_route(
        endpoint=world.endpoint,
        area=DataArea.objects.get(code="dagtilbud"),
        kommune=world.kommune,
        sender_system=world.sender.system,
        recipients=[world.flis.system, world.lis.system],
    )


@pytest.fixture
def sender_key(world: World) -> bytes:
    """The sender's private key encrypted at rest, as the portal keeps it (the stand-in's world
    stores a placeholder, since the stand-in only needs the public key)."""
    SftpKey.objects.filter(sftp_user=world.sender.sftp_user).update(
        encrypted_private_key=encrypt_private_key(world.sender.private_key)
    )
    return world.sender.private_key


@pytest.fixture
def uploader(world: World) -> User:
    return User.objects.create_user(
        "lev-a-uploader", password="pw-uploader-1234", vendor=world.sender.system.vendor
    )


@pytest.fixture
def pushable(push_route, sender_key, uploader, private_media, standin, clean_redis):
    """Everything a push needs: route, key, uploader, private storage, a running stand-in and a
    clean Redis. Returns a maker of deliveries in `valid` (or another status) of given bytes."""

    def make(
        content: bytes | None = None,
        *,
        size: int | None = None,
        status: str = DeliveryStatus.VALID,
    ) -> Delivery:
        return delivery_of(
            push_route, uploader, private_media, content=content, size=size, status=status
        )

    return make


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
    delivery = Delivery(
        route=route,
        it_system=route.sender_system,
        data_area=route.data_area,
        kommune=route.kommune,
        endpoint=route.endpoint,
        period="2026-10",
        uploaded_by=user,
        original_filename="udtraek.csv",
        status=status,
        validated_at=timezone.now(),
        size=0,
        sha256="",
    )
    name = f"deliveries/test/{delivery.uuid}.csv"
    path = media / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is not None:
        path.write_bytes(content)
        delivery.sha256 = hashlib.sha256(content).hexdigest()
    else:
        assert size is not None
        with path.open("wb") as handle:
            handle.truncate(size)
    delivery.size = path.stat().st_size
    delivery.file.name = name
    delivery.save()
    return delivery


def sender_out(standin: StandinThread, world: World) -> Path:
    return home(standin, world.sender) / "OUT"


def sender_in(standin: StandinThread, world: World) -> Path:
    return home(standin, world.sender) / "IN"


class CuttingProxy:
    """A TCP proxy on 127.0.0.1 in front of a server. `cut_after(n)` makes it drop the next
    connection once n bytes went client → server: the server "goes away" mid-upload. `rate`
    (bytes per second, client → server, for new connections) slows uploads down, so that a
    test can act while one is under way."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._limit: int | None = None
        self.rate: float | None = None
        self._sockets: list[socket.socket] = []
        self._stopping = False
        self.cuts = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def cut_after(self, limit: int | None) -> None:
        self._limit = limit

    def _accept(self) -> None:
        while not self._stopping:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, server]
            limit, self._limit = self._limit, None
            upstream = (client, server, limit, self.rate)
            threading.Thread(target=self._pump, args=upstream, daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _pump(
        self,
        source: socket.socket,
        target: socket.socket,
        limit: int | None = None,
        rate: float | None = None,
    ) -> None:
        moved = 0
        try:
            while data := source.recv(65536):
                if limit is not None and moved + len(data) > limit:
                    self.cuts += 1
                    break
                target.sendall(data)
                moved += len(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self._stopping = True
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass
        self._thread.join(5)


@pytest.fixture
def cutting_proxy(standin: StandinThread, world: World) -> Iterator[CuttingProxy]:
    """Points the stand-in's endpoint at a proxy in front of it (the pinned host key stays the
    stand-in's: the key, not the port, is what is pinned)."""
    proxy = CuttingProxy(standin.port)
    world.endpoint.refresh_from_db()
    world.endpoint.port = proxy.port
    world.endpoint.save(update_fields=["port"])
    yield proxy
    proxy.close()
