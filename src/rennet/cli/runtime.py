"""Running the index services inside a command-line tool (refresh, mirror, export...).

The tools use the same registry as the server: the same catalog, blob store, single-flight downloads and
generation counters, so a running server sees what a tool changes at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rennet.config import Settings
from rennet.service.registry import Registry

__all__ = ["open_registry"]


@asynccontextmanager
async def open_registry(settings: Settings) -> AsyncIterator[Registry]:
    registry = Registry(settings)
    try:
        yield registry
    finally:
        await registry.close()
