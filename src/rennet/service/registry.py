"""The registry: every configured index as a service, with the resources they share in one worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path

from rennet.config import Settings, with_default_upstreams
from rennet.domain.hosts import TrustedHosts
from rennet.domain.indexes import GroupIndex, HostedIndex, IndexConfig, ProxyIndex, leaf_members
from rennet.service.indexes.group import GroupService
from rennet.service.indexes.hosted import HostedService
from rennet.service.indexes.interface import IndexService
from rennet.service.indexes.proxy import ProxyService
from rennet.service.runtime.accesses import AccessTimes
from rennet.service.runtime.auth import Authenticator
from rennet.service.runtime.clock import Clock
from rennet.service.runtime.downloads import Downloads
from rennet.service.runtime.metrics import WorkerMetrics
from rennet.service.runtime.openblobs import OpenBlobs
from rennet.service.runtime.pagecache import PageCache
from rennet.service.runtime.resources import WorkerResources
from rennet.service.upkeep.copies import keep_copies_bounded
from rennet.storage.accounts import PasswordCost
from rennet.storage.blobs import remove_abandoned
from rennet.storage.counters import RequestCounters, counters_path, reset_counters
from rennet.storage.database import connect, migrate
from rennet.storage.maintenance import CatalogMaintenance
from rennet.storage.objectstore import ObjectStore
from rennet.storage.store import open_store
from rennet.upstream.client import SessionHolder

__all__ = ["Registry", "prepare_data_dir"]

log = logging.getLogger("rennet.registry")


PREPARED_VARIABLE = "RENNET_PREPARED"  # set by `rennet serve` for its workers: the data directory is ready


def prepare_data_dir(settings: Settings) -> None:
    """Once per server start, before workers exist: migrate, and drop temporary files of a previous run."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    remove_abandoned(settings.data_dir / "tmp")
    engine = connect(settings.database)
    try:
        migrate(engine, settings.data_dir / "run" / "migrate.lock")
    finally:
        engine.dispose()
    if settings.blob_store:
        ObjectStore(settings.blob_store).check()  # a wrong bucket, endpoint or credentials: refused at start
    reset_counters(counters_path(settings.data_dir))  # `rennet stats` counts requests since this start


def trusted_hosts(indexes: Iterable[IndexConfig]) -> TrustedHosts:
    """Every proxy's upstream host and file_hosts: the names that may resolve to private addresses."""
    trusted = TrustedHosts()
    for index in indexes:
        if isinstance(index, ProxyIndex):
            trusted |= index.trusted_hosts
    return trusted


class Registry:
    def __init__(
        self, settings: Settings, serving: bool = False, migrated: bool = False, metrics: WorkerMetrics | None = None
    ) -> None:
        """`serving`: a server's worker, whose requests `rennet stats` counts (tools' are not counted).
        `migrated`: `rennet serve` has prepared the data directory already. `metrics`: what the worker counts for
        /metrics (a tool's counts go nowhere)."""
        settings = with_default_upstreams(settings)
        self.settings = settings
        self.store = open_store(
            settings.data_dir, settings.database, migrated, PasswordCost(*settings.password_cost), settings.blob_store
        )
        self.counters = RequestCounters(counters_path(settings.data_dir)) if serving else None
        self._trimming: asyncio.Task[None] | None = None
        if serving:
            self.store.generations.follow()
            if settings.blob_store:
                trim = keep_copies_bounded(self.store.blobs, settings.blob_copies_bytes)
                self._trimming = asyncio.get_running_loop().create_task(trim)
        clock = Clock()
        self.shared = WorkerResources(
            catalog=self.store.catalog,
            advisories=self.store.advisories,
            blobs=self.store.blobs,
            generations=self.store.generations,
            pages=PageCache(settings.page_memory_bytes, clock),
            downloads=Downloads(self.store.blobs),
            sessions=SessionHolder(trusted_hosts(settings.indexes.values())),
            listings_dir=settings.data_dir / "listings",
            offline=settings.offline,
            max_page_bytes=settings.max_page_bytes,
            max_listing_bytes=settings.max_listing_bytes,
            open_blobs=OpenBlobs(self.store.blobs),
            clock=clock,
            accesses=AccessTimes(CatalogMaintenance(self.store.engine)),
            metrics=metrics or WorkerMetrics(),
        )
        if self.store.blobs.remote is not None and self.store.engine.dialect.name == "postgresql":
            from rennet.storage.transfers import TransferLeases

            self.shared.transfers = TransferLeases(self.store.engine, f"{socket.gethostname()}:{os.getpid()}")
        self.accounts = self.store.accounts
        self.authenticator = Authenticator(self.shared, self.accounts)
        self.indexes: dict[str, IndexService] = {}
        for name, config in settings.indexes.items():
            if isinstance(config, ProxyIndex):
                self.indexes[name] = ProxyService(config, self.shared)
            elif isinstance(config, HostedIndex):
                self.indexes[name] = HostedService(config, self.shared)
        for name, config in settings.indexes.items():
            if isinstance(config, GroupIndex):
                leaves = leaf_members(settings.indexes, name)
                self.indexes[name] = GroupService(config, self.shared, [self.indexes[m] for m in leaves])

    @property
    def default(self) -> IndexService:
        return self.indexes[self.settings.default_index]

    def ready(self) -> str | None:
        """None when storage answers, else a sentence for the caller. Blocking: call it in a thread.

        Each probe is a file of its own, since every worker (and every thread) probes the same directory at
        once. What went wrong goes to the log only: it names paths of the server, which are no client's concern.
        """
        try:
            fd, probe = tempfile.mkstemp(prefix=".ready-", dir=self.shared.blobs.temp_dir)
            try:
                os.write(fd, b"ok")
            finally:
                os.close(fd)
                Path(probe).unlink()
            self.shared.catalog.ping()
        except Exception as error:
            log.error("not ready: storage is not reachable: %s: %s", type(error).__name__, error)
            return "storage is not reachable; see the server log"
        return None

    async def close(self) -> None:
        if self._trimming is not None:
            self._trimming.cancel()
        await self.shared.downloads.close()
        await self.shared.sessions.close()
        await asyncio.gather(*self.shared.background, return_exceptions=True)
        self.authenticator.close()
        await self.shared.accesses.close()
        self.shared.open_blobs.close()
        if self.counters is not None:
            self.counters.close()
        with contextlib.suppress(Exception):
            self.store.close()
