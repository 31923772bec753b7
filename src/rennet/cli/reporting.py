"""What the maintenance commands (refresh, gc, verify, stats) share: progress bars, quiet logs, readable numbers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence

from rich.console import Console
from rich.progress import Progress, ProgressColumn

from rennet.domain.indexes import GroupIndex, IndexConfig

__all__ = ["CommandError", "bar", "human_bytes", "name_list", "quiet_service_logs", "stderr_console", "storing_index"]

MAX_NAMES = 20  # names listed in a summary before "and N more"


class CommandError(Exception):
    """Bad input: the command says why and exits with 2."""


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def bar(console: Console, *columns: ProgressColumn | str) -> Progress:
    """A progress bar on the terminal only (never in a log or a pipe), gone once the summary is printed."""
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


@contextlib.contextmanager
def quiet_service_logs() -> Iterator[None]:
    """The commands report every failure per item: the services' own log lines would only repeat them."""
    logger = logging.getLogger("rennet")
    saved = logger.propagate, logger.handlers[:]
    logger.propagate, logger.handlers = False, [logging.NullHandler()]
    try:
        yield
    finally:
        logger.propagate, logger.handlers = saved


def human_bytes(count: float) -> str:
    """Binary units, as sizes in the configuration are read ("10G" is 10 GiB)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def name_list(names: Sequence[str], limit: int = MAX_NAMES) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def storing_index(indexes: Mapping[str, IndexConfig], name: str) -> IndexConfig:
    """A proxy or hosted index by name (groups store nothing of their own)."""
    config = indexes.get(name)
    if config is None:
        known = ", ".join(sorted(indexes))
        raise CommandError(f"there is no index named {name[:64]!r} (configured: {known})")
    if isinstance(config, GroupIndex):
        raise CommandError(f"{name} is a group; name one of its members: {', '.join(config.members)}")
    return config
