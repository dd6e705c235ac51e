"""A loopback TCP proxy a test can stop: the database "goes away" for the client.

`stop()` closes the listening socket and resets every forwarded connection, as a server
that died or a host that went away does: the client's open connections fail, and new
ones are refused.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from types import TracebackType


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = int(self._listener.getsockname()[1])
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="tcp-proxy", daemon=True)
        self._thread.start()

    def url_for(self, url: str) -> str:
        """`url` (postgresql://user@127.0.0.1:5432/db) with its host and port the proxy's."""
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(url)
        user = f"{parts.username}@" if parts.username else ""
        netloc = f"{user}127.0.0.1:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def _serve(self) -> None:
        while not self._stopped.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                with self._lock:
                    if self._stopped.is_set():
                        return
                    if sock is self._listener:
                        self._accept()
                    else:
                        self._forward(sock)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        try:
            upstream = socket.create_connection(self._target, timeout=5)
        except OSError:
            client.close()
            return
        for sock in (client, upstream):
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ)
        self._pairs[client], self._pairs[upstream] = upstream, client

    def _forward(self, sock: socket.socket) -> None:
        other = self._pairs.get(sock)
        try:
            data = sock.recv(65536)
            if data and other is not None:
                other.setblocking(True)
                other.sendall(data)
                other.setblocking(False)
                return
        except OSError:
            pass
        self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        for s in (sock, self._pairs.pop(sock, None)):
            if s is None:
                continue
            self._pairs.pop(s, None)
            try:
                self._selector.unregister(s)
            except (KeyError, ValueError):
                pass
            _reset(s)

    def stop(self) -> None:
        """The database goes away: refuse new connections, reset the open ones."""
        with self._lock:
            self._stopped.set()
            self._selector.unregister(self._listener)
            self._listener.close()
            for sock in list(self._pairs):
                _reset(sock)
            self._pairs.clear()
        self._thread.join(timeout=5)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._stopped.is_set():
            self.stop()


def _reset(sock: socket.socket) -> None:
    """Close with a RST (SO_LINGER 0), as a dead host's stack answers."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()
