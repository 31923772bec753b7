"""The registry: every configured index as a service, with the resources they share in one worker."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

from rennet.config import Settings
from rennet.domain.indexes import GroupIndex, HostedIndex, ProxyIndex, leaf_members
from rennet.service.accesses import AccessTimes
from rennet.service.auth import Authenticator
from rennet.service.base import IndexService, Shared
from rennet.service.downloads import Downloads
from rennet.service.group import GroupService
from rennet.service.hosted import HostedService
from rennet.service.openblobs import OpenBlobs
from rennet.service.pagecache import PageCache
from rennet.service.proxy import ProxyService
from rennet.storage.counters import RequestCounters, reset_counters
from rennet.storage.database import connect, migrate
from rennet.storage.store import open_store
from rennet.storage.upkeep import Upkeep
from rennet.upstream.client import SessionHolder

__all__ = ["Registry", "counters_path", "prepare_data_dir"]


def counters_path(settings: Settings) -> Path:
    return settings.data_dir / "run" / "counters"


def prepare_data_dir(settings: Settings) -> None:
    """Once per server start, before workers exist: migrate, and drop temporary files of a previous run."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    temp = settings.data_dir / "tmp"
    if temp.exists():
        shutil.rmtree(temp, ignore_errors=True)
    engine = connect(settings.database)
    try:
        migrate(engine, settings.data_dir / "run" / "migrate.lock")
    finally:
        engine.dispose()
    reset_counters(counters_path(settings))  # `rennet stats` counts requests since this start


class Registry:
    def __init__(self, settings: Settings, serving: bool = False) -> None:
        """`serving`: a server's worker, whose requests `rennet stats` counts (tools' are not counted)."""
        self.settings = settings
        self.store = open_store(settings.data_dir, settings.database)
        self.counters = RequestCounters(counters_path(settings)) if serving else None
        self.shared = Shared(
            catalog=self.store.catalog,
            blobs=self.store.blobs,
            generations=self.store.generations,
            pages=PageCache(settings.page_memory_bytes),
            downloads=Downloads(self.store.blobs),
            sessions=SessionHolder(),
            listings_dir=settings.data_dir / "listings",
            offline=settings.offline,
            max_page_bytes=settings.max_page_bytes,
            max_listing_bytes=settings.max_listing_bytes,
            open_blobs=OpenBlobs(self.store.blobs),
            accesses=AccessTimes(Upkeep(self.store.engine)),
        )
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
        """None when storage answers, else what is wrong."""
        try:
            probe = self.shared.blobs.temp_dir / ".ready"
            probe.write_bytes(b"ok")
            probe.unlink()
            self.shared.catalog.ping()
        except Exception as error:
            return f"storage is not reachable: {type(error).__name__}: {error}"
        return None

    async def close(self) -> None:
        await self.shared.downloads.close()
        await self.shared.sessions.close()
        await asyncio.gather(*self.shared.background, return_exceptions=True)
        if self.shared.accesses is not None:
            await self.shared.accesses.close()
        if self.shared.open_blobs is not None:
            self.shared.open_blobs.close()
        if self.counters is not None:
            self.counters.close()
        with contextlib.suppress(Exception):
            self.store.close()
