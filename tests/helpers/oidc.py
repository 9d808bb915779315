"""A real OpenID Connect provider on a loopback port: oidc-provider-mock (a small Flask
provider built on Authlib's server side), run in a thread of the test session as Redis and the
stand-in are run beside it. It signs ID tokens with its own key, publishes discovery and JWKS,
and issues authorization codes for whichever `sub` the browser types on its consent page; a
user's claims (groups, amr, acr) are set over its HTTP API."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import oidc_provider_mock
import werkzeug.serving


@dataclass
class Provider:
    """A running provider: its issuer (http://127.0.0.1:PORT), a client registered with it,
    and the token requests it has answered (to check the portal's PKCE verifier)."""

    issuer: str
    client_id: str = ""
    client_secret: str = ""
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def set_user(self, sub: str, **claims: Any) -> None:
        """The claims the provider puts in `sub`'s next ID token."""
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{self.issuer}/users/{sub}",
            data=json.dumps(claims).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            pass

    def register_client(self, redirect_uri: str) -> None:
        """Registers the portal as a client (dynamic client registration): from then on the
        provider checks its secret and its redirect URI."""
        body = {
            "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "client_secret_basic",
        }
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{self.issuer}/oauth2/clients",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            answer = json.loads(response.read())
        self.client_id = answer["client_id"]
        self.client_secret = answer["client_secret"]


def s256(verifier: str) -> str:
    """RFC 7636's S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _recording(app: Any, provider: Provider) -> Any:
    """The provider's WSGI app, keeping a copy of each token request's form fields."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/oauth2/token":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            fields = {key: values[0] for key, values in parse_qs(body.decode()).items()}
            provider.token_requests.append(fields)
            environ["wsgi.input"] = _Replay(body)
        return app(environ, start_response)

    return wsgi


class _Replay:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        chunk = self._body if size < 0 else self._body[:size]
        self._body = self._body[len(chunk) :]
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


@contextmanager
def oidc_provider_running(*, token_max_age: timedelta = timedelta(hours=1)) -> Iterator[Provider]:
    """The provider on a free 127.0.0.1 port until the block ends. `token_max_age` below zero
    makes it issue ID tokens that have already expired (a provider whose clock runs behind)."""
    app = oidc_provider_mock.app(require_nonce=True, access_token_max_age=token_max_age)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    provider = Provider(issuer=f"http://127.0.0.1:{server.server_port}")
    server.app = _recording(app, provider)  # type: ignore[assignment]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
