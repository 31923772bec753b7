"""What every request pays in rennet's access log, in-process: the line, the request id and the metrics.

    .venv/bin/python bench/accesslog_cost.py            # this checkout (its .venv)
    /other/venv/bin/python bench/accesslog_cost.py      # another build of rennet, to compare

AccessLog wraps an app that answers a 68 KB cached page as the page hot path does (two ASGI messages); 50,000
requests, best of 7 rounds. Options a build does not have (log_format, metrics) are left out for it.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
import time
from typing import Any

from rennet.web.accesslog import AccessLog

logging.basicConfig(level=logging.INFO, stream=io.StringIO())  # access lines are written only at INFO
BODY = b"x" * 68_000
HEADERS = [(b"content-type", b"application/vnd.pypi.simple.v1+json"), (b"etag", b'"abc"')]
REQUEST_HEADERS = [(b"host", b"127.0.0.1:4040"), (b"user-agent", b"pip/26"), (b"accept", b"*/*")]


async def page(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [*HEADERS, (b"content-length", b"68000")]})
    await send({"type": "http.response.body", "body": BODY})


async def receive() -> dict[str, Any]:
    return {"type": "http.request"}


async def send(message: Any) -> None:
    pass


def scope() -> dict[str, Any]:
    path = "/simple/mid-p1-0/"
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": REQUEST_HEADERS,
        "client": ("127.0.0.1", 5000),
    }


async def per_request(app: Any, requests: int = 50_000, rounds: int = 7) -> float:
    """Microseconds per request, the best round."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(requests):
            await app(scope(), receive, send)
        best = min(best, (time.perf_counter() - started) / requests)
        if getattr(app, "lines", None) is not None:
            app.lines._pending.clear()
    return best * 1e6


def access_log(**options: Any) -> AccessLog:
    known = inspect.signature(AccessLog).parameters
    if options.pop("metrics", False) and "metrics" in known:
        from rennet.service.runtime.metrics import WorkerMetrics

        counted = WorkerMetrics()
        counted.publish_every(1.0, lambda counts: None)
        options |= {"metrics": counted, "kinds": {}}
    return AccessLog(page, stream=io.StringIO(), **{k: v for k, v in options.items() if k in known})


def main() -> None:
    print(f"the page alone: {asyncio.run(per_request(page)):.2f} µs")
    print(f"access log, text lines: {asyncio.run(per_request(access_log())):.2f} µs")
    if "metrics" in inspect.signature(AccessLog).parameters:
        print(f"access log and metrics: {asyncio.run(per_request(access_log(metrics=True))):.2f} µs")
        json_lines = access_log(metrics=True, log_format="json")
        print(f"access log as JSON, and metrics: {asyncio.run(per_request(json_lines)):.2f} µs")


if __name__ == "__main__":
    main()
