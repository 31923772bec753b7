"""One access-log line per request, its request id, its share of the metrics, and the limits every request
passes first."""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
import time
from collections.abc import Awaitable, Mapping
from typing import Any, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rennet.service.runtime.metrics import WorkerMetrics
from rennet.web.logs import json_string, utc_second
from rennet.web.requestids import HEADER, request_id_from, restore, with_request_id

__all__ = ["MAX_URL_BYTES", "AccessLog"]

log = logging.getLogger("rennet.access")
MAX_URL_BYTES = 4096


class AccessLog:
    """client, method, path, status, bytes, milliseconds, the cache outcome (hit, miss, stale, refresh or -) and
    the request id, as a text line or a JSON object (`log_format`).

    Handlers report the cache outcome in scope["rennet"]["cache"]. Query strings are not logged: they may
    carry secrets. Every response gets an X-Request-ID header (rennet.web.requestids). With `metrics`, each
    request is counted there under its route kind: `kinds` maps the endpoint that handled it (scope["endpoint"],
    set by Starlette's router and by HotPaths) to a kind, "other" when none; a file whose name ends in .metadata
    is of kind "metadata".
    """

    def __init__(
        self,
        app: ASGIApp,
        enabled: bool = True,
        stream: TextIO | None = None,
        log_format: str = "text",
        metrics: WorkerMetrics | None = None,
        kinds: Mapping[Any, str] | None = None,
    ) -> None:
        self.app = app
        wanted = enabled and log.isEnabledFor(logging.INFO)
        self.lines = _Lines(stream or sys.stderr, log_format == "json") if wanted else None
        self.metrics = metrics
        self.kinds = kinds or {}

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
        request_id = request_id_from(scope["headers"])
        id_header = (HEADER, request_id.encode())
        token = with_request_id(request_id)

        # A plain function handing back send's awaitable: no coroutine of its own per message.
        def observe(message: Message) -> Awaitable[None]:
            nonlocal status, sent
            kind = message["type"]
            if kind == "http.response.body":
                sent += len(message.get("body", b""))
            elif kind == "http.response.start":
                status = message["status"]
                # A new list: a cached response's headers are shared by every request that sends it.
                message["headers"] = [*message.get("headers", ()), id_header]
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
                await _plain(
                    observe, 500, f"internal error; the server log has the details (request id {request_id})"
                )
            else:
                note["cache"] = note.get("cache", "-") + ",aborted"
                raise
        finally:
            restore(token)
            elapsed = time.perf_counter() - started
            cache = note.get("cache", "-")
            if self.metrics is not None:
                kind = self.kinds.get(scope.get("endpoint"), "other")
                if kind == "file" and scope["path"].endswith(".metadata"):
                    kind = "metadata"
                self.metrics.request(kind, status, cache, elapsed, sent)
            if self.lines is not None:
                path = raw_path[:300].decode("latin-1")
                self.lines.add(_client(scope), scope["method"], path, status, sent, elapsed * 1000, cache, request_id)


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
    answering it. Text lines have the format the logging module uses for the rest of the log, JSON lines the
    fields of rennet.web.logs.JsonFormatter's and their own."""

    def __init__(self, stream: TextIO, json: bool = False) -> None:
        self.stream = stream
        self.json = json
        self._pending: list[str] = []
        self._scheduled = False
        self._second = 0
        self._stamp = ""
        atexit.register(self.flush)

    def add(
        self, client: str, method: str, path: str, status: int, sent: int, ms: float, cache: str, request_id: str
    ) -> None:
        now = time.time()
        if int(now) != self._second:
            self._second = int(now)
            if self.json:
                self._stamp = utc_second(self._second)
            else:
                self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        millis = int(now % 1 * 1000)
        message = f'{client} "{method} {path}" {status} {sent} {ms:.1f}ms {cache}'
        if self.json:
            line = (
                f'{{"time": "{self._stamp}.{millis:03d}Z", "level": "INFO", "logger": "rennet.access", '
                f'"message": {json_string(message)}, "request_id": {json_string(request_id)}, '
                f'"client": {json_string(client)}, "method": {json_string(method)}, "path": {json_string(path)}, '
                f'"status": {status}, "bytes": {sent}, "ms": {ms:.1f}, "cache": {json_string(cache)}}}\n'
            )
        else:
            line = f"{self._stamp},{millis:03d} INFO rennet.access: {message} request={request_id}\n"
        self._pending.append(line)
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
