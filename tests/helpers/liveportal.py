"""The portal served from a thread of the test process, on a free 127.0.0.1 port, against the
test database. pytest-django's live_server cannot be used: its media handler needs a
MEDIA_URL, and the portal deliberately has none (stored extracts are never served)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def portal_in_thread() -> Iterator[str]:
    """Yields the portal's base URL. Each request runs in its own thread with its own
    database connection, closed after the request (ThreadedWSGIServer does that), so the test
    must commit what the portal should see: use it with `transactional_db`."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
    server.set_app(StaticFilesHandler(WSGIHandler()))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
