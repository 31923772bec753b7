"""One access-log line per request, and the limits every request passes first."""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
from collections.abc import Awaitable
from typing import Any, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_URL_BYTES", "AccessLog"]

log = logging.getLogger("rennet.access")
MAX_URL_BYTES = 4096


class AccessLog:
    """method, path, status, bytes, milliseconds and the cache outcome (hit, miss, stale, refresh or -).

    Handlers report the cache outcome in scope["rennet"]["cache"]. Query strings are not logged: they may
    carry secrets.
    """

    def __init__(self, app: ASGIApp, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.app = app
        self.lines = _Lines(stream or sys.stderr) if enabled and log.isEnabledFor(logging.INFO) else None

    def flush(self) -> None:
        """Write the lines not written yet (they go out in batches)."""
        if self.lines is not None:
            self.lines.flush()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        note: dict[str, Any] = {"cache": "-"}
        scope["rennet"] = note
        status = 0
        sent = 0

        # A plain function handing back send's awaitable: no coroutine of its own per message.
        def observe(message: Message) -> Awaitable[None]:
            nonlocal status, sent
            kind = message["type"]
            if kind == "http.response.body":
                sent += len(message.get("body", b""))
            elif kind == "http.response.start":
                status = message["status"]
            elif kind == "http.response.pathsend":
                sent += note.get("size", 0)
            return send(message)

        raw_path = scope.get("raw_path") or scope["path"].encode()
        try:
            if len(raw_path) + len(scope.get("query_string", b"")) > MAX_URL_BYTES:
                await _plain(observe, 414, f"the URL is longer than {MAX_URL_BYTES} bytes")
            else:
                await self.app(scope, receive, observe)
        except Exception:
            if status == 0:
                log.exception("unhandled error for %s %s", scope["method"], scope["path"][:200])
                await _plain(observe, 500, "internal error; the server log has the details")
            else:
                note["cache"] = note.get("cache", "-") + ",aborted"
                raise
        finally:
            if self.lines is not None:
                elapsed = (time.perf_counter() - started) * 1000
                request = f"{scope['method']} {raw_path[:300].decode('latin-1')}"
                cache = note.get("cache", "-")
                self.lines.add(f'{_client(scope)} "{request}" {status} {sent} {elapsed:.1f}ms {cache}')


async def _plain(send: Send, status: int, message: str) -> None:
    body = (message + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "-"


class _Lines:
    """Access lines written in batches every 50 ms: a write and flush per request would cost as much as
    answering it. The format is the one the logging module uses for the rest of the log."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._pending: list[str] = []
        self._scheduled = False
        self._second = 0
        self._stamp = ""
        atexit.register(self.flush)

    def add(self, message: str) -> None:
        now = time.time()
        if int(now) != self._second:
            self._second = int(now)
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        self._pending.append(f"{self._stamp},{int(now % 1 * 1000):03d} INFO rennet.access: {message}\n")
        if len(self._pending) >= 512:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(0.05, self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if self._pending:
            text, self._pending = "".join(self._pending), []
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):
                pass  # stderr closed at shutdown: nothing left to tell
