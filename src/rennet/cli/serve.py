"""`rennet serve`: prepare the data directory once, then run the ASGI app in Granian's workers."""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import socket
import sys

from rennet.cli._command import Subcommands, command, fail
from rennet.config import (
    DEFAULT_UPSTREAM_VARIABLE,
    Settings,
    default_upstream,
    needs_default_upstream,
    remember_served,
)

__all__ = ["register", "serve"]


def register(commands: Subcommands) -> None:
    with command(
        commands,
        "serve",
        lambda args, settings: serve(settings),
        settings_first=True,
        creates_data_dir=True,
        help="run the server",
    ):
        pass  # every flag of serve is a setting (rennet.config)


def serve(settings: Settings) -> int:
    from rennet.service.registry import PREPARED_VARIABLE, prepare_data_dir
    from rennet.storage.metricsdir import MULTIPROCESS_VARIABLE, claim_metrics_dir
    from rennet.storage.objectstore import ObjectStoreUnavailable
    from rennet.web.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    _raise_descriptor_limit()
    if problem := _address_in_use(settings.host, settings.port):
        return fail(2, f"cannot listen on {settings.host}:{settings.port}: {problem}")
    try:
        prepare_data_dir(settings)
        remember_served(settings.data_dir, os.environ)  # what the commands run on this data directory use
        # The workers count into files of this directory, and a scrape of any of them adds up all of them
        # (prometheus-client's multiprocess mode, chosen by this variable when a worker imports it).
        os.environ.pop(MULTIPROCESS_VARIABLE, None)
        if settings.metrics:
            os.environ[MULTIPROCESS_VARIABLE] = str(claim_metrics_dir(settings.data_dir))
    except ObjectStoreUnavailable as error:
        return fail(2, f"cannot use the object store {settings.blob_store}: {error}")
    except OSError as error:
        return fail(2, f"cannot use data directory {settings.data_dir}: {error}")
    serving = f"serving http://{settings.host}:{settings.port}/simple/ from {settings.data_dir}" + (
        " (offline)" if settings.offline else ""
    )
    if settings.log_format == "json":
        logging.getLogger("rennet.serve").info(serving)  # a JSON log has nothing but JSON objects
    else:
        print(f"rennet: {serving}", file=sys.stderr)
    # Become Granian's supervisor without the application loaded in this process (cli/launch.py): the workers
    # load it, with the settings resolved here.
    os.environ.update(
        {
            "RENNET_HOST": settings.host,
            "RENNET_PORT": str(settings.port),
            "RENNET_WORKERS": str(settings.workers),
            "RENNET_LOG_LEVEL": settings.log_level,
            "RENNET_LOG_FORMAT": settings.log_format,
            "RENNET_SHUTDOWN_TIMEOUT": str(settings.shutdown_timeout),
            PREPARED_VARIABLE: "1",
        }
    )
    if needs_default_upstream(settings):
        os.environ[DEFAULT_UPSTREAM_VARIABLE] = default_upstream()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "rennet.cli.launch"])  # noqa: S606 - our own interpreter
    return 0  # not reached: execv replaces this process


def _address_in_use(host: str, port: int) -> str | None:
    """Why the address cannot be listened on, or None. Granian listens with SO_REUSEPORT, so a second server on a
    busy port would start without a word and take half of the first one's connections: refuse it here instead."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as error:
        return str(error)
    family, kind, proto, _, address = addresses[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            return f"{error.strerror or error} (is another server, perhaps another rennet, using it?)"
    return None


def _raise_descriptor_limit() -> None:
    """Workers keep held files open a while after sending them (service/openblobs.py): let them, and their
    clients, use every descriptor the system allows this process (workers inherit the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
