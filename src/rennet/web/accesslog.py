"""One access-log line per request, and the limits every request passes first."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAX_URL_BYTES", "AccessLog"]

log = logging.getLogger("rennet.access")
MAX_URL_BYTES = 4096


class AccessLog:
    """method, path, status, bytes, milliseconds and the cache outcome (hit, miss, stale, refresh or -).

    Handlers report the cache outcome in scope["rennet"]["cache"]. Query strings are not logged: they may
    carry secrets.
    """

    def __init__(self, app: ASGIApp, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        note: dict[str, Any] = {"cache": "-"}
        scope["rennet"] = note
        status = 0
        sent = 0

        async def observe(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            elif message["type"] == "http.response.pathsend":
                sent += note.get("size", 0)
            await send(message)

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
            if self.enabled:
                log.info(
                    '%s "%s %s" %d %d %.1fms %s',
                    _client(scope),
                    scope["method"],
                    raw_path[:300].decode("latin-1"),
                    status,
                    sent,
                    (time.perf_counter() - started) * 1000,
                    note.get("cache", "-"),
                )


async def _plain(send: Send, status: int, message: str) -> None:
    body = (message + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "-"
