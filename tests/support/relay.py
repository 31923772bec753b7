"""A TCP relay on a loopback port of its own: what clients see of a server that can go away and come back on the
same address while the process behind it is replaced (tests/support/s3.py's RestartableS3)."""

from __future__ import annotations

import contextlib
import socket
import threading

from tests.support.upstream import _free_port

__all__ = ["Relay"]

_POLL = 0.05  # how often the accepting thread looks whether it should stop
_PIECE = 1 << 16


class Relay:
    """Relays connections from 127.0.0.1:port to a target port, while open. Closing it cuts every connection it
    relays and refuses new ones (connection refused, as from a server that is down) until it is opened again."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()

    def open(self, target_port: int) -> None:
        assert self._listener is None, "the relay is open already"
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port's old connections linger
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(_POLL)
        self._stop.clear()
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener, target_port), daemon=True)
        self._accepting.start()

    def close(self) -> None:
        """Stop listening and cut every relayed connection (both of its sides)."""
        self._stop.set()
        if self._accepting is not None:
            self._accepting.join(10)
            assert not self._accepting.is_alive(), "the relay's accepting thread did not stop"
            self._accepting = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket, target_port: int) -> None:
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                server = socket.create_connection(("127.0.0.1", target_port), timeout=5)
            except OSError:
                client.close()  # the server behind is down: so is the relayed connection
                continue
            server.settimeout(None)
            with self._lock:
                if self._stop.is_set():
                    client.close()
                    server.close()
                    return
                self._sockets |= {client, server}
            ended = [0]  # directions of this pair that have ended: the second one closes both sockets
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target, ended), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, ended: list[int]) -> None:
        """Copy one direction until its end closes (or the relay cuts it), then pass the end on."""
        try:
            while piece := source.recv(_PIECE):
                target.sendall(piece)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)
        with self._lock:
            ended[0] += 1
            last = ended[0] == 2
            if last:
                self._sockets -= {source, target}
        if last:
            source.close()
            target.close()
