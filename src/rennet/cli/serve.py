"""`rennet serve`: prepare the data directory once, then run the ASGI app in Granian's workers."""

from __future__ import annotations

import contextlib
import math
import resource
import sys

from granian.constants import Interfaces
from granian.server import Server

from rennet.cli._command import Subcommands, command, fail
from rennet.config import Settings
from rennet.service.registry import prepare_data_dir
from rennet.web.app import configure_logging

__all__ = ["register", "serve"]


def register(commands: Subcommands) -> None:
    with command(
        commands, "serve", lambda args, settings: serve(settings), settings_first=True, help="run the server"
    ) as parser:
        parser.add_argument("--host", help="address to listen on (default 127.0.0.1; RENNET_HOST)")
        parser.add_argument("--port", type=int, help="port to listen on (default 4040; RENNET_PORT)")
        parser.add_argument("--workers", type=int, help="worker processes (default 1; RENNET_WORKERS)")
        parser.add_argument(
            "--offline", action="store_true", help="serve only what is cached; never contact upstreams"
        )
        parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="(RENNET_LOG_LEVEL)")
        parser.add_argument("--no-access-log", action="store_true", help="do not log a line per request")


def serve(settings: Settings) -> int:
    configure_logging(settings.log_level)
    _raise_descriptor_limit()
    try:
        prepare_data_dir(settings)
    except OSError as error:
        return fail(2, f"cannot use data directory {settings.data_dir}: {error}")
    print(
        f"rennet: serving http://{settings.host}:{settings.port}/simple/ from {settings.data_dir}"
        + (" (offline)" if settings.offline else ""),
        file=sys.stderr,
    )
    server = Server(
        "rennet.web.app:create_app_from_env",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        factory=True,
        log_access=False,
        log_level=settings.log_level,  # type: ignore[arg-type]
        backlog=2048,
        # Granian drains open requests before the app hears of the shutdown: a download from a stalled upstream
        # would hold a worker as long as the upstream stalls. Partial downloads live in tmp/, which the next
        # start clears, so stopping a worker hard after the grace period loses nothing.
        workers_kill_timeout=max(1, math.ceil(settings.shutdown_timeout)),
    )
    server.serve()
    return 0


def _raise_descriptor_limit() -> None:
    """Workers keep held files open a while after sending them (service/openblobs.py): let them, and their
    clients, use every descriptor the system allows this process (workers inherit the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
