"""What the commands' output shares: lines on stderr, progress bars, quiet logs, readable numbers.

rich is imported by the functions that use it: importing this module for its numbers costs nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn

__all__ = ["bar", "human_bytes", "name_list", "quiet_service_logs", "say", "stderr_console"]

MAX_NAMES = 20  # names listed in a summary before "and N more"


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def say(console: Console, line: str) -> None:
    """A line about one item, as it is: no markup, and no wrapping that would break a long path in a log."""
    console.print(line, markup=False, soft_wrap=True)


def bar(console: Console, *columns: ProgressColumn | str) -> Progress:
    """A progress bar on the terminal only (never in a log or a pipe), gone once the summary is printed."""
    from rich.progress import Progress

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
