"""The bound on one host's copies of the object store's blobs: trimmed in the background, least recently used first.

Every worker checks every TRIM_INTERVAL seconds (one process of the host trims at a time; the others skip that
round), so the copies may exceed the bound by what a host receives in that time. A copy in use stays readable
until its senders let go of it (they hold it open).
"""

from __future__ import annotations

import asyncio
import logging

from rennet.storage.blobs import LocalBlobStore
from rennet.storage.objectstore import ObjectStoreUnavailable

__all__ = ["TRIM_INTERVAL", "keep_copies_bounded"]

log = logging.getLogger("rennet.copies")

TRIM_INTERVAL = 60.0


async def keep_copies_bounded(blobs: LocalBlobStore, limit: int, interval: float = TRIM_INTERVAL) -> None:
    """Trim forever (until cancelled)."""
    while True:
        await asyncio.sleep(interval)
        try:
            deleted, freed = await asyncio.to_thread(blobs.trim_copies, limit)
        except ObjectStoreUnavailable as error:
            log.warning("copies of stored files not trimmed: %s", error)
            continue
        except OSError as error:
            log.error("copies of stored files not trimmed: %s", error)
            continue
        if deleted:
            log.info("deleted %d local copies of stored files (%d bytes): the bucket keeps them", deleted, freed)
