"""One upstream transfer per file across hosts that share a bucket: a lease in the catalog (storage/transfers.py).

A host that is about to fetch a file from the upstream takes the file's lease first, and renews it while the
transfer runs. A host that finds it taken waits until it is given back (or expires: its holder died), then asks
the catalog again: the file is usually recorded by then, and it copies it from the bucket instead. A wait is
bounded by MAX_WAIT: past it, the waiting host fetches the file itself rather than keep its clients waiting.
Without a lease table (one host, or no bucket) every call passes straight through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from rennet.service.runtime.resources import WorkerResources

__all__ = ["LEASE_SECONDS", "MAX_WAIT", "exclusive_transfer"]

log = logging.getLogger("rennet.transfers")

# Short enough that the clients of a host waiting for a dead holder's lease get their file within pip's 15 s
# read timeout; renewed every third of it, one UPDATE each time.
LEASE_SECONDS = 12.0
MAX_WAIT = 120.0
_POLL = 0.1


@contextlib.asynccontextmanager
async def exclusive_transfer(shared: WorkerResources, key: str) -> AsyncIterator[None]:
    """Hold the transfer of `key` for the block (look in the catalog again inside it: another host may have
    fetched the file meanwhile)."""
    leases = shared.transfers
    if leases is None:
        yield
        return
    deadline = time.monotonic() + MAX_WAIT
    while not (taken := await shared.db(leases.take, key, LEASE_SECONDS)):
        if time.monotonic() > deadline:
            log.warning("another host has been fetching %s for %.0f s: fetching it here too", key, MAX_WAIT)
            break
        await asyncio.sleep(_POLL)
    if not taken:
        yield
        return
    renewing = asyncio.get_running_loop().create_task(_renew(shared, key))
    try:
        yield
    finally:
        renewing.cancel()
        with contextlib.suppress(Exception):
            await shared.db(leases.give_back, key)


async def _renew(shared: WorkerResources, key: str) -> None:
    assert shared.transfers is not None
    while True:
        await asyncio.sleep(LEASE_SECONDS / 3)
        with contextlib.suppress(Exception):  # a database that fails now fails the transfer's own writes too
            await shared.db(shared.transfers.renew, key, LEASE_SECONDS)
