"""The process that stays: Granian's supervisor, which `rennet serve` becomes (exec) once the data directory is
ready. It imports nothing of the application, so it stays small; the workers load the app themselves.

Everything comes from the environment `rennet serve` resolved: RENNET_HOST, RENNET_PORT, RENNET_WORKERS,
RENNET_LOG_LEVEL, RENNET_LOG_FORMAT and RENNET_SHUTDOWN_TIMEOUT.
"""

from __future__ import annotations

import importlib.util
import math
import os
from typing import Any

from granian.constants import Interfaces, Loops
from granian.server import Server

APP = "rennet.web.app:create_app_from_env"


def main() -> None:
    env = os.environ
    server = Server(
        APP,
        address=env["RENNET_HOST"],
        port=int(env["RENNET_PORT"]),
        interface=Interfaces.ASGI,
        workers=int(env["RENNET_WORKERS"]),
        factory=True,
        log_access=False,
        log_level=env["RENNET_LOG_LEVEL"],  # type: ignore[arg-type]
        log_dictconfig=_json_logs() if env.get("RENNET_LOG_FORMAT") == "json" else None,
        backlog=2048,
        # uvloop answers a cached page in two thirds of the time asyncio's own loop takes (docs/benchmarks.md).
        loop=Loops.uvloop if importlib.util.find_spec("uvloop") else Loops.asyncio,
        # Granian drains open requests before the app hears of the shutdown: a download from a stalled upstream
        # would hold a worker as long as the upstream stalls. Partial downloads live in tmp/, cleared once their
        # process is gone, so stopping a worker hard after the grace period loses nothing.
        workers_kill_timeout=max(1, math.ceil(float(env["RENNET_SHUTDOWN_TIMEOUT"]))),
        # A worker killed (the OOM killer, kill -9) is replaced; the others serve on meanwhile. Granian stops the
        # server only when one keeps dying (a crash loop: twice within a few seconds).
        respawn_failed_workers=True,
    )
    server.serve()


def _json_logs() -> dict[str, Any]:
    """Granian's own lines (workers starting, stopping) as JSON objects too, by rennet's formatter (a module that
    imports nothing of the application)."""
    formatter = {"()": "rennet.web.logs.JsonFormatter"}
    return {"formatters": {"generic": formatter, "access": formatter}}


if __name__ == "__main__":
    main()
