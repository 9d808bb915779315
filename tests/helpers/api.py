"""The vendor API as a vendor system meets it: gunicorn on a loopback port and a plain HTTP
client (http.client), with the registry it is called on.

Persona: `vendor_user` is vendor A's staff member, delivering Dagtilbud for København (route
with a signed databehandleraftale); `foreign` is vendor B's delivery for Aarhus, which neither
vendor A's staff nor København's consultant may see; `consultant` works for København.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deliveries.api.services import api_token_create
from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from routes.models import Route, User
from tests import factories
from tests.helpers.processes import ROOT


@dataclass
class ApiWorld:
    vendor_user: User
    consultant: User
    route: Route
    foreign: Delivery


def make_api_world() -> ApiWorld:
    kbh = factories.kommune(factories.KBH)
    system_a = factories.sender_system("A")
    system_b = factories.sender_system("B")
    assert system_a.vendor is not None
    factories.agreement(system_a.vendor, kbh)
    route = factories.route(sender_system=system_a, kommune=kbh, data_area="dagtilbud")
    route_b = factories.route(
        sender_system=system_b, kommune=factories.AARHUS, data_area="dagtilbud"
    )
    foreign = factories.delivery(route_b, status=DeliveryStatus.REJECTED)
    vendor_user = factories.vendor_staff(system_a.vendor, "leverandoer-a")
    consultant = factories.consultant(kbh, username="konsulent-kbh")
    return ApiWorld(vendor_user, consultant, route, foreign)


def token_for(user: User, *, days: int = 30, name: str = "test") -> str:
    return api_token_create(user=user, name=name, days=days).secret


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass
class Multipart:
    """A multipart/form-data body, built by hand as a vendor's script would send it."""

    fields: dict[str, str]
    file_name: str = "udtraek.csv"
    content: bytes = b""
    boundary: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def encode(self) -> bytes:
        parts = []
        for name, value in self.fields.items():
            parts.append(
                f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        parts.append(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{self.file_name}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
            + self.content
            + b"\r\n"
        )
        parts.append(f"--{self.boundary}--\r\n".encode())
        return b"".join(parts)


@dataclass
class Client:
    """http.client against the server, one connection a request (as a retrying script)."""

    port: int
    token: str = ""

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Multipart | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Answer:
        sent = {**(headers or {})}
        used = self.token if token is None else token
        if used:
            sent["Authorization"] = f"Bearer {used}"
        data = None
        if body is not None:
            data = body.encode()
            sent["Content-Type"] = body.content_type
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            return Answer(
                response.status,
                {name.lower(): value for name, value in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()


def start_gunicorn(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """The portal under gunicorn, as in production (one sync worker), on 127.0.0.1:`port`."""
    with log.open("wb") as handle:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "flisportal.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--timeout",
                "60",
            ],
            env=env,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
