"""Loopback networking for tests: free ports, and a proxy that slows or cuts a connection."""

from __future__ import annotations

import socket
import threading
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        # close() alone does not wake a thread blocked in accept() on Linux, which left close()
        # waiting out the join's 5 s; shutdown() does (accept raises EINVAL).
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.close()
            except OSError:
                pass
        self._thread.join(5)
