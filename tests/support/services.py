"""The index services of one worker, in-process, on a real store: what tests/service drives with asyncio.

`Services` describes a worker (its data directory, catalog, upstream and configuration); `Services.run` starts
one (a `Registry`, as `rennet serve` makes per worker process), runs an async scenario against it and closes it,
all in one event loop. Running twice is a restart: memory is gone, the catalog and the blobs stay.

Time is the worker's `Clock`: a test moves it forward (`worker.clock.advance`) instead of sleeping through a TTL.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, event

from rennet.config import Settings, load_settings
from rennet.domain.indexes import HostedIndex
from rennet.domain.names import parse_dist_filename
from rennet.domain.uploads import DIGEST_FIELDS
from rennet.service.answers import FileAnswer, LocalFile, StreamingFile, copied
from rennet.service.indexes.group import GroupService
from rennet.service.indexes.hosted import HostedService
from rennet.service.indexes.proxy import ProxyService
from rennet.service.publishing.publish import UploadOutcome, publish
from rennet.service.registry import Registry
from rennet.service.runtime.clock import Clock
from rennet.service.runtime.pagecache import CachedPage
from rennet.service.runtime.resources import Storage, WorkerResources
from rennet.storage.catalog import Catalog
from rennet.storage.database import connect
from tests.support.dists import Dist
from tests.support.upstream import FakeUpstream, _free_port

__all__ = ["DatabaseOutage", "Services", "Worker", "filenames", "publish_dist", "read_answer", "until"]

T = TypeVar("T")


class Worker:
    """One worker's registry, with typed access to its services and resources."""

    def __init__(self, registry: Registry, upstream: FakeUpstream) -> None:
        self.registry = registry
        self.upstream = upstream

    @property
    def shared(self) -> WorkerResources:
        return self.registry.shared

    @property
    def clock(self) -> Clock:
        return self.registry.shared.clock

    @property
    def catalog(self) -> Catalog:
        return self.registry.shared.catalog

    def proxy(self, name: str = "pypi") -> ProxyService:
        service = self.registry.indexes[name]
        assert isinstance(service, ProxyService), f"{name} is a {service.kind}"
        return service

    def hosted(self, name: str = "local") -> HostedService:
        service = self.registry.indexes[name]
        assert isinstance(service, HostedService), f"{name} is a {service.kind}"
        return service

    def group(self, name: str = "default") -> GroupService:
        service = self.registry.indexes[name]
        assert isinstance(service, GroupService), f"{name} is a {service.kind}"
        return service

    async def publish(self, dist: Dist, index: str = "local", uploader: str = "alice") -> UploadOutcome:
        """Add a built distribution to a hosted index, as an upload does (in a worker thread)."""
        config = self.registry.settings.indexes[index]
        assert isinstance(config, HostedIndex)
        return await asyncio.to_thread(publish_dist, self.shared, config, dist, uploader)

    async def settled(self) -> None:
        """Wait for the work the worker runs in the background (a summary learned from a fetched wheel, say), so
        that what a test does next (an outage) meets none of it half done."""
        while pending := [task for task in self.shared.background if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    def database_down(self) -> DatabaseOutage:
        """An outage of the catalog's database: `with worker.database_down() as outage:`, or begin() and end()."""
        return DatabaseOutage(self.catalog)


def publish_dist(storage: Storage, index: HostedIndex, dist: Dist, uploader: str = "alice") -> UploadOutcome:
    """`publish` a built distribution into a hosted index, as uploads and `rennet import` do. Blocking."""
    claim = parse_dist_filename(dist.filename)
    assert claim is not None, dist.filename
    writer = storage.blobs.writer(tuple(DIGEST_FIELDS.values()))
    try:
        writer.write(dist.data)
        return publish(storage, index, claim, dist.filename, writer, uploader)
    finally:
        writer.abort()  # nothing to do once published


class Services:
    """A worker to be: data directory, catalog URL, upstream, and optional TOML configuration."""

    def __init__(self, data_dir: Path, database_url: str, upstream: FakeUpstream, migrated: bool = False) -> None:
        """`migrated`: the catalog's schema is up to date already (else the first worker migrates it)."""
        self.data_dir = data_dir
        self.database_url = database_url
        self.upstream = upstream
        self.config: str | None = None
        self.env: dict[str, str] = {}
        self._migrated = migrated

    def configure(self, toml: str) -> Services:
        """Indexes and settings beyond the defaults (`pypi` proxying the fake upstream, `local`, `default`)."""
        self.config = toml
        return self

    def settings(self) -> Settings:
        env = {
            "RENNET_DATA_DIR": str(self.data_dir),
            "RENNET_DATABASE_URL": self.database_url,
            "RENNET_UPSTREAM": self.upstream.url,
        }
        if self.config is not None:
            path = self.data_dir.parent / f"{self.data_dir.name}.toml"
            path.write_text(self.config)
            env["RENNET_CONFIG"] = str(path)
        return load_settings(env=env | self.env)

    def run(self, scenario: Callable[[Worker], Awaitable[T]]) -> T:
        """Start a worker, run the scenario in its event loop, stop the worker; the scenario's result."""
        return asyncio.run(self._run(scenario))

    async def _run(self, scenario: Callable[[Worker], Awaitable[T]]) -> T:
        registry = Registry(self.settings(), migrated=self._migrated)
        registry.store.generations.follow()  # as a server's worker does: it hears of other processes' changes
        self._migrated = True
        try:
            return await scenario(Worker(registry, self.upstream))
        finally:
            await registry.close()


async def until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    """Wait (polling the event loop) for something that happens in the background; fail, saying what, if it never
    does. For real transfers only: time that expiry decisions read moves by the worker's clock instead."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.005)


def filenames(page: CachedPage) -> list[str]:
    """The files a cached page lists, in its order (none when the page says there is no such project)."""
    return [file.filename for file in page.page.listed_files] if page.page is not None else []


async def read_answer(answer: FileAnswer) -> bytes:
    """Everything a client would receive: a held file from its open descriptor, a download to its end (raising
    DownloadFailed where the client's transfer would be cut off); a file of the object store as its copy."""
    answer = await copied(answer)
    if isinstance(answer, StreamingFile):
        return b"".join([chunk async for chunk in answer.download.stream(answer.fd)])
    try:
        return _read_local(answer)
    finally:
        answer.release()


def _read_local(answer: LocalFile) -> bytes:
    if answer.lease is None:
        return answer.path.read_bytes()
    parts, position = [], 0
    while position < answer.size:
        data = os.pread(answer.lease.fd, answer.size - position, position)
        if not data:
            break
        parts.append(data)
        position += len(data)
    return b"".join(parts)


class DatabaseOutage:
    """The catalog's database stops answering (and comes back): its engine is swapped for one that cannot
    connect, of the same kind (a SQLite file that cannot be opened, a PostgreSQL port nobody listens on), so every
    query fails with DatabaseUnavailable as in a real outage. `attempts` counts the connections tried meanwhile."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.attempts = 0
        self._working: Engine | None = None

    def _broken_engine(self) -> Engine:
        working = self.catalog.engine
        if working.dialect.name == "sqlite":
            url = f"sqlite:////nonexistent-{os.getpid()}/gone/rennet.sqlite3"
        else:
            url = f"postgresql+psycopg://rennet@127.0.0.1:{_free_port()}/rennet"
        broken = connect(url)

        @event.listens_for(broken, "do_connect")
        def attempt(*_: object) -> None:
            self.attempts += 1

        return broken

    def begin(self) -> None:
        assert self._working is None, "the database is down already"
        self._working = self.catalog.engine
        self.catalog.engine = self._broken_engine()

    def end(self) -> None:
        assert self._working is not None, "the database is up"
        broken, self.catalog.engine, self._working = self.catalog.engine, self._working, None
        broken.dispose()

    def __enter__(self) -> DatabaseOutage:
        self.begin()
        return self

    def __exit__(self, *_: object) -> None:
        self.end()
