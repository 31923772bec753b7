"""A proxy index: an on-demand mirror of one upstream simple index.

Pages: served from memory while fresh; after the TTL, refreshed with a conditional request; when the upstream
fails, the last good page is served (stale) and the upstream is left alone for `retry_after`. Files: fetched
once, streamed to every waiting client while written, verified before anyone gets the last bytes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from rennet.domain.changes import PageChanges
from rennet.domain.files import ProjectPage
from rennet.domain.indexes import IndexKind, ProxyIndex
from rennet.domain.names import NormalizedName, parse_dist_filename
from rennet.domain.search import described_release
from rennet.domain.validators import UpstreamValidators
from rennet.service.answers import CacheOutcome, FileAnswer, Listing, LocalFile, StreamingFile, on_disk
from rennet.service.archives import NoMetadata, read_wheel_metadata
from rennet.service.errors import NotFound, ServiceError, Unavailable
from rennet.service.indexes.interface import listed_file
from rennet.service.indexes.listing import WithoutDenied, write_listing
from rennet.service.indexes.provenance import fetch_provenance, held_provenance, no_provenance
from rennet.service.runtime.downloads import Download, DownloadFailed, TryAgain
from rennet.service.runtime.pagecache import CachedPage
from rennet.service.runtime.policing import PolicyGate
from rennet.service.runtime.resources import DATABASE_RETRY, WorkerResources, storage_full
from rennet.service.runtime.storecopy import copy_from_store, store_refusal
from rennet.service.runtime.transfers import exclusive_transfer
from rennet.service.singleflight import SingleFlight
from rennet.service.upkeep.eviction import CacheBound
from rennet.storage.blobs import BlobWriter, DigestMismatch
from rennet.storage.catalog import FileRecord, ListingRecord, ProjectRecord
from rennet.storage.generations import Generation
from rennet.upstream.client import PageFetch, UpstreamClient, UpstreamError
from rennet.upstream.parse import UnreadablePage, iter_listing_names, parse_project_page
from rennet.upstream.urls import redact

__all__ = ["ProxyService", "metadata_url"]

log = logging.getLogger("rennet.proxy")

MAX_UNANNOUNCED_SIZE = 64 << 30  # a file whose size nobody stated
MAX_METADATA_FETCH = 16 << 20


MAX_DOCUMENTS = 512  # JSON API documents kept per proxy and worker (a large one is a few hundred KiB)


@dataclass(frozen=True, slots=True)
class _Document:
    body: bytes | None  # None: the upstream has no such document
    validators: UpstreamValidators
    fresh_until: float


def metadata_url(file_url: str) -> str:
    """PEP 658: the file's URL with ".metadata" after its path; a query string (a signed URL) stays last."""
    parts = urlsplit(file_url)
    return urlunsplit(parts._replace(path=parts.path + ".metadata", fragment=""))


class ProxyService:
    kind = IndexKind.PROXY
    holds_uploads = False

    def __init__(self, config: ProxyIndex, shared: WorkerResources) -> None:
        self.name = config.name
        self.config = config
        self.shared = shared
        self.gate = PolicyGate.of(config, shared.metrics)
        self._without_denied = WithoutDenied(shared.listings_dir, config.name, self.gate.policy.unlisted)
        self.client = UpstreamClient(
            shared.sessions,
            config.upstream,
            config.connect_timeout,
            config.read_timeout,
            config.username,
            config.password,
            shared.max_page_bytes,
            config.trusted_hosts,
            shared.metrics.upstream(config.name),
        )
        self._page_flights: SingleFlight[CachedPage] = SingleFlight()
        self._metadata_flights: SingleFlight[str] = SingleFlight()
        self._listing_flights: SingleFlight[Listing] = SingleFlight()
        self._bound = CacheBound(shared, config.name, config.max_cache_size) if config.max_cache_size else None
        self._failing_until = 0.0
        self._listing: tuple[float, Listing] | None = None
        self._documents: OrderedDict[str, _Document] = OrderedDict()
        self._refreshes: dict[str, asyncio.Task[CachedPage]] = {}  # page refreshes under way, per project
        self._document_flights: SingleFlight[bytes | None] = SingleFlight()
        self._provenance_flights: SingleFlight[bytes] = SingleFlight()

    # -- pages ---------------------------------------------------------------------------------------------------

    async def project_page(self, project: str) -> CachedPage:
        return await self.shared.page(
            (self.name, project),
            lambda cached: self._page_flights.run(project, lambda: self._load_page(project, cached)),
        )

    async def _load_page(self, project: str, cached: CachedPage | None) -> CachedPage:
        dependency = self.shared.dependency(self.name, project)
        record = await self.shared.db(self.shared.catalog.project, self.name, project)
        now = self.shared.clock.now()
        if record is not None and (self.shared.offline or self._fresh_until(record) > now):
            return await self._remember(project, record, dependency, cached, "hit")
        if self.shared.offline:
            return self._absent(project, dependency, f"{project} is not cached and rennet is offline", now + 5)
        running = self._refreshes.get(project)
        if record is None or record.missing:
            return await asyncio.shield(running or self._start_refresh(project, record, dependency, cached))
        if now < self._failing_until or running is not None:
            return await self._remember(project, record, dependency, cached, "stale", now + 1)
        running = self._start_refresh(project, record, dependency, cached)
        try:
            return await asyncio.wait_for(asyncio.shield(running), self.config.stale_after)
        except TimeoutError:
            # pip gives up after 15 s, uv after 30: a held page now beats a fresh one too late. The refresh goes
            # on in the background and is served from the moment it is done.
            log.warning("serving stale page %s/%s: the upstream is slow; refreshing it meanwhile", self.name, project)
            return await self._remember(project, record, dependency, cached, "stale", now + 1)

    def _start_refresh(
        self, project: str, record: ProjectRecord | None, dependency: Generation, cached: CachedPage | None
    ) -> asyncio.Task[CachedPage]:
        """The page's refresh, in a task of its own: it goes on when the requests that wait for it give up."""
        running = self.shared.spawn(self._refresh_or_stale(project, record, dependency, cached))
        self._refreshes[project] = running
        running.add_done_callback(lambda done: self._refreshed(project, done))
        return running

    def _refreshed(self, project: str, done: asyncio.Future[CachedPage]) -> None:
        self._refreshes.pop(project, None)
        if not done.cancelled() and (error := done.exception()) is not None and not isinstance(error, ServiceError):
            log.warning("refreshing %s/%s failed: %s", self.name, project, error)  # nobody waits for it any more

    async def _refresh_or_stale(
        self, project: str, record: ProjectRecord | None, dependency: Generation, cached: CachedPage | None
    ) -> CachedPage:
        try:
            return await self._refresh(project, record, dependency, cached)
        except UpstreamError as error:
            status = error.status
            self._failing_until = self.shared.clock.now() + self.config.retry_after
            if record is not None and not record.missing:
                log.warning("serving stale page %s/%s: %s", self.name, project, error)
                fresh_until = self.shared.clock.now() + self.config.retry_after
                return await self._remember(project, record, dependency, cached, "stale", fresh_until)
            raise ServiceError(status, f"{self.name}: {error}") from None

    async def refresh(self, project: str) -> PageChanges | None:
        """Revalidate one page with the upstream now, whatever its age (`rennet refresh`): what changed, or None
        when the upstream no longer has the project. Raises UpstreamError when the upstream fails."""
        record = await self.shared.db(self.shared.catalog.project, self.name, project)
        dependency = self.shared.dependency(self.name, project)
        changes: list[PageChanges] = []
        page = await self._refresh(project, record, dependency, self.shared.pages.get((self.name, project)), changes)
        return None if page.page is None else (changes[0] if changes else PageChanges())

    async def _refresh(
        self,
        project: str,
        record: ProjectRecord | None,
        dependency: Generation,
        cached: CachedPage | None,
        report: list[PageChanges] | None = None,
    ) -> CachedPage:
        catalog = self.shared.catalog
        validators = None
        if record is not None and not record.missing:
            validators = UpstreamValidators(record.upstream_etag, record.upstream_last_modified)
        fetched = await self.client.fetch_page(self.client.project_url(project), validators)
        now = self.shared.clock.now()
        if fetched.status == "missing" and (kept := await self._keep_held(project, record, now)) is not None:
            return kept
        if fetched.status == "missing":
            await self.shared.db(catalog.store_missing, self.name, project, now)
            if record is not None and not record.missing:
                self.shared.changed(self.name, project)
                self.shared.changed(self.name)
            return self._absent(
                project,
                dependency,
                f"no project named {project!r} in {self.name}",
                now + self.config.negative_ttl,
                "refresh",
            )
        if fetched.status == "not_modified" and record is not None:
            await self.shared.db(catalog.touch_project, record.id, now, fetched.validators)
            record = replace(record, fetched_at=now)
            return await self._remember(project, record, dependency, cached, "refresh")
        before = self.shared.dependency(self.name, project)
        try:
            # One trip to a worker thread for parsing, storing and reading back: each trip costs the client time.
            known = cached.version if cached is not None and cached.page is not None else None
            stored, changes, page = await self.shared.db(self._store_fetched, project, fetched, now, known)
        except UnreadablePage as error:
            raise UpstreamError(f"the upstream sent an unusable page for {redact(fetched.url)}: {error}") from None
        if report is not None:
            report.append(changes)
        dependency = before
        if changes:
            slot, value = before
            bumped = self.shared.generations.bump(slot)
            # Only our own bump may be taken as seen; a bump by another process in between forces a re-read.
            dependency = Generation(slot, bumped) if bumped == value + 1 else before
        return await self._remember(project, stored, dependency, cached, "miss", page=page)

    def _store_fetched(
        self, project: str, fetched: PageFetch, now: float, known: Hashable
    ) -> tuple[ProjectRecord, PageChanges, ProjectPage | None]:
        """Parse and store the page; read it back unless the page in memory (version `known`) is still current.

        A project stored for the first time reads back as the very files parsed (each first seen now), so its
        page is not read back at all: a millisecond of every cold page (tests/service/test_proxy_pages.py)."""
        seen = datetime.fromtimestamp(now, UTC)
        parsed = parse_project_page(
            fetched.body, fetched.content_type, fetched.url, NormalizedName(project), self.name, seen
        )
        catalog = self.shared.catalog
        stored, changes = catalog.store_upstream_page(self.name, project, parsed, fetched.validators, now)
        if stored.serial == known:
            return stored, changes, None
        if changes.first:
            return stored, changes, parsed
        return stored, changes, catalog.page(stored, held_only=self.shared.offline)

    async def _keep_held(self, project: str, record: ProjectRecord | None, now: float) -> CachedPage | None:
        """The upstream dropped a project we hold files of: they stay listed, marked gone (as pep381client)."""
        catalog = self.shared.catalog
        if record is None or record.missing or not await self.shared.db(catalog.held_count, self.name, project):
            return None
        empty = ProjectPage(NormalizedName(project), ())
        stored, _ = await self.shared.db(
            catalog.store_upstream_page, self.name, record.display_name, empty, UpstreamValidators(), now
        )
        self.shared.changed(self.name, project)
        return await self._remember(project, stored, self.shared.dependency(self.name, project), None, "refresh")

    async def _remember(
        self,
        project: str,
        record: ProjectRecord,
        dependency: Generation,
        cached: CachedPage | None,
        state: CacheOutcome,
        fresh_until: float | None = None,
        page: ProjectPage | None = None,
    ) -> CachedPage:
        """Cache the record's page in memory, reusing the rendered bytes when its content did not change.
        `page`: the record's page, when the caller has just read it."""
        fresh_until = fresh_until if fresh_until is not None else self._fresh_until(record)
        if record.missing:
            return self._absent(
                project, dependency, f"no project named {project!r} in {self.name}", fresh_until, state
            )
        if cached is not None and cached.source is not None and cached.version == record.serial:
            page = cached.source
        elif page is None:
            # Offline, a listed file that is not here would be chosen by installers and then fail to download.
            offline = self.shared.offline
            page = await self.shared.db(lambda: self.shared.catalog.page(record, held_only=offline))
        now = self.shared.clock.now()
        advisories = await self.shared.advisories_for(project)
        fresh = CachedPage(
            page, (dependency,), fresh_until, record.serial, state, gate=self.gate, now=now, advisories=advisories
        )
        if cached is not None and cached.version == record.serial:
            fresh.adopt(cached)
        self.shared.pages.put((self.name, project), fresh)
        return fresh

    def _absent(
        self, project: str, dependency: Generation, message: str, fresh_until: float, state: CacheOutcome = "hit"
    ) -> CachedPage:
        absent = CachedPage(None, (dependency,), fresh_until, None, state, message)
        self.shared.pages.put((self.name, project), absent)
        return absent

    def _fresh_until(self, record: ProjectRecord) -> float:
        ttl = self.config.negative_ttl if record.missing else self.config.page_ttl
        return (record.fetched_at or 0.0) + ttl

    # -- files ---------------------------------------------------------------------------------------------------

    async def _file_record(self, project: str, filename: str) -> FileRecord:
        """The file, if the page lists it now: a quarantined project's files stay unreachable (PEP 792).

        A client may ask for a file before (or long after) reading the page, so the page is consulted (and
        refreshed if stale) first; on the hot path a held file never gets here."""
        record = await listed_file(self.shared, self.name, await self.project_page(project), project, filename)
        if record is None:
            offline = " (rennet is offline and does not hold it)" if self.shared.offline else ""
            raise NotFound(f"{self.name} has no file {filename!r} for project {project!r}{offline}")
        return record

    async def open_file(self, project: str, filename: str) -> FileAnswer:
        if (held := self.shared.held_file(self.name, project, filename)) is not None:
            return held
        for _ in range(50):
            dependency = self.shared.dependency(self.name, project)
            record = await self._file_record(project, filename)
            if record.blob_sha256 and (found := await self.shared.open_stored(record.blob_sha256)):
                self.shared.hold_file(self.name, project, filename, dependency, found)
                return found
            if self.shared.offline:
                raise NotFound(f"{filename} is not cached and rennet is offline")
            if record.source_url is None:
                raise NotFound(f"{filename} is not held by {self.name}")
            try:
                return await self._stream(record)
            except TryAgain:
                await asyncio.sleep(0.02)
        raise ServiceError(503, f"{filename} is being fetched by another worker; try again")

    async def _stream(self, record: FileRecord) -> StreamingFile:
        if record.size is not None and shutil.disk_usage(self.shared.blobs.temp_dir).free < record.size:
            # Refused before anything is sent: later, a full disk could only break the transfer off.
            raise storage_full()
        key = f"{self.name}/{record.project}/{record.filename}"

        async def fetch(download: Download, writer: BlobWriter) -> str:
            async with exclusive_transfer(self.shared, key):
                # Look again once the lease is ours, waited for or not: another host may have fetched and recorded
                # the file (and given the lease back) since this one looked. Then copy it from the bucket.
                if self.shared.transfers is not None:
                    fresh = await self.shared.db(self.shared.catalog.file, self.name, record.project, record.filename)
                    if fresh is not None and fresh.blob_sha256:
                        return await copy_from_store(self.shared, fresh.blob_sha256, fresh.size, download, writer)
                return await self._fetch_file(record, download, writer)

        async def outcome() -> str | None:
            fresh = await self.shared.db(self.shared.catalog.file, self.name, record.project, record.filename)
            if fresh is None or not fresh.blob_sha256 or self.shared.blobs.local_path(fresh.blob_sha256) is None:
                return None
            return fresh.blob_sha256

        algorithms = tuple(record.hashes)
        download, fd = await self.shared.downloads.join(key, fetch, outcome, record.size, algorithms)
        try:
            await download.headers_known()
        except DownloadFailed as error:
            os.close(fd)
            raise store_refusal(download, f"{record.filename}: {error}") from None
        return StreamingFile(download, fd, record.size or download.expected_size, record.hashes.get("sha256"))

    async def _fetch_file(self, record: FileRecord, download: Download, writer: BlobWriter) -> str:
        assert record.source_url is not None
        async with self.client.open_file(record.source_url) as stream:
            declared = record.size
            if declared is not None and stream.content_length is not None and declared != stream.content_length:
                raise UpstreamError(
                    f"{record.filename}: the upstream sends {stream.content_length} bytes, the index says {declared}"
                )
            expected = declared if declared is not None else stream.content_length
            download.announce(expected)
            limit = expected if expected is not None else MAX_UNANNOUNCED_SIZE
            async for chunk in stream.chunks():
                writer.write(chunk)
                download.advance(writer.size)
                if writer.size > limit:
                    # An upstream that sends more than it announced (or never stops) must not fill the disk.
                    raise UpstreamError(f"{record.filename}: the upstream sent more than {limit} bytes")
        if download.expected_size is not None and writer.size != download.expected_size:
            raise UpstreamError(f"{record.filename}: transfer broke off after {writer.size} bytes")
        try:
            sha256 = writer.verify(record.hashes)
        except DigestMismatch as error:
            log.error("refusing %s from %s: %s", record.filename, self.name, error)
            raise UpstreamError(f"{record.filename} does not match its published hash") from None
        # The bytes are verified: readers may finish now, while they are made durable and recorded. Except when
        # the page is about to advertise metadata taken from this very wheel: a client that got the wheel finds
        # the page saying so (uv asks for the .metadata of what it installed next time, pip reads the page).
        advertises_metadata = record.core_metadata is None and record.filename.endswith(".whl")
        if not advertises_metadata:
            download.finish(None)
        try:
            await asyncio.to_thread(writer.publish)
            upload_time = stream.last_modified or self.shared.clock.now()
            await self.shared.db(self.shared.catalog.record_blob, record, sha256, writer.size, upload_time)
            if advertises_metadata:
                await self._keep_wheel_metadata(record, sha256)
            elif record.filename.endswith(".whl"):
                path = self.shared.blobs.path_for(sha256)
                self._learn_summary(record, lambda: read_wheel_metadata(path, record.filename))
            self.shared.changed(self.name, record.project)
        finally:
            download.finish(None)  # the bytes are good, even if recording them failed
        if self._bound is not None:
            self._bound.downloaded()
        return sha256

    async def _keep_wheel_metadata(self, record: FileRecord, sha256: str) -> None:
        """The upstream offers no .metadata for this wheel: take it from the wheel, and advertise it from now on."""
        try:
            data = await asyncio.to_thread(read_wheel_metadata, self.shared.blobs.path_for(sha256), record.filename)
        except NoMetadata as error:
            log.warning("no metadata to serve for %s: %s", record.filename, error)
            return
        metadata_sha256 = await asyncio.to_thread(self.shared.blobs.put_bytes, data)
        await self.shared.db(self.shared.catalog.record_metadata, record, metadata_sha256)
        self._learn_summary(record, lambda: data)

    def _learn_summary(self, record: FileRecord, read: Callable[[], bytes]) -> None:
        """Search learns the project's summary from the metadata of a wheel a client fetched (`read` in a thread),
        unless the catalog knows that of a newer release. In the background: the client never waits for it, and
        nothing on the path of a cached page or file does it."""

        async def learn() -> None:
            try:
                described = described_release(await asyncio.to_thread(read))
                if described is not None:
                    await self.shared.db(self.shared.catalog.learn_summary, self.name, record.project, described)
            except (NoMetadata, OSError, ServiceError) as error:  # search only misses a summary
                log.info("no summary of %s learned from %s: %s", record.project, record.filename, error)

        self.shared.spawn(learn())

    async def open_metadata(self, project: str, filename: str) -> FileAnswer:
        name = filename + ".metadata"
        if (held := self.shared.held_file(self.name, project, name)) is not None:
            return held
        dependency = self.shared.dependency(self.name, project)
        record = await self._file_record(project, filename)
        if record.metadata_sha256 and (found := await self.shared.open_stored(record.metadata_sha256)):
            self.shared.hold_file(self.name, project, name, dependency, found)
            return found
        if self.shared.offline and not record.blob_sha256:
            raise NotFound(f"metadata of {filename} is not cached and rennet is offline")
        sha256 = await self._metadata_flights.run((project, filename), lambda: self._obtain_metadata(record))
        # Each caller its own open file: the callers that shared the fetch send it and let go of it separately.
        found = self.shared.open_blob(sha256, "miss")
        if found is None:  # deleted the moment it was written (gc, verify): the client may ask again
            raise ServiceError(503, f"metadata of {filename} was removed meanwhile; try again")
        return found

    async def _obtain_metadata(self, record: FileRecord) -> str:
        # The caller read `record` before this flight began: a flight that ended meanwhile may have recorded the
        # metadata already (a download asks the catalog again once it holds its lock, for the same reason).
        current = await self.shared.db(self.shared.catalog.file, self.name, record.project, record.filename)
        if current is not None and current.metadata_sha256 and await self._have(current.metadata_sha256):
            return current.metadata_sha256
        if record.core_metadata is not None and record.source_url and not self.shared.offline:
            sha256 = await self._fetch_metadata(record)
            # The page advertised this metadata already and stays as it is: no worker need re-read it (an
            # installer asks for the wheel next, which would otherwise meet a page to reload).
            await self.shared.db(self.shared.catalog.record_metadata, record, sha256)
        else:
            parsed = parse_dist_filename(record.filename)
            if parsed is None or parsed.kind != "wheel":
                raise NotFound(f"{record.filename} has no metadata file (only wheels do)")
            sha256 = await self._extract_metadata(record)
            await self.shared.db(self.shared.catalog.record_metadata, record, sha256)
            self.shared.changed(self.name, record.project)  # the page advertises the metadata from now on
        path = self.shared.blobs.path_for(sha256)
        self._learn_summary(record, path.read_bytes)
        return sha256

    async def _have(self, sha256: str) -> bool:
        """Whether this host has the blob, or has copied it from the object store that every host shares."""
        return await self.shared.db(self.shared.blobs.fetch, sha256)

    async def _fetch_metadata(self, record: FileRecord) -> str:
        assert record.source_url is not None and record.core_metadata is not None
        writer = self.shared.blobs.writer(tuple(record.core_metadata))
        try:
            async with self.client.open_file(metadata_url(record.source_url)) as stream:
                async for chunk in stream.chunks():
                    writer.write(chunk)
                    if writer.size > MAX_METADATA_FETCH:
                        raise UpstreamError(f"metadata of {record.filename} is larger than {MAX_METADATA_FETCH}")
        except UpstreamError as error:
            writer.abort()
            # A sentence for the client, not an unhandled error (500): the upstream failed, not rennet.
            raise ServiceError(error.status, f"{self.name}: {error}") from None
        except BaseException:
            writer.abort()
            raise
        try:
            return await asyncio.to_thread(writer.commit, record.core_metadata)
        except DigestMismatch:
            raise ServiceError(502, f"metadata of {record.filename} does not match its published hash") from None

    async def _extract_metadata(self, record: FileRecord) -> str:
        answer = await on_disk(
            await self.open_file(record.project, record.filename),
            lambda: self.open_file(record.project, record.filename),
        )
        assert isinstance(answer, LocalFile)
        try:
            data = await asyncio.to_thread(read_wheel_metadata, answer.path, record.filename)
        except NoMetadata as error:
            raise NotFound(str(error)) from None
        finally:
            answer.release()
        return await asyncio.to_thread(self.shared.blobs.put_bytes, data)

    async def provenance(self, project: str, filename: str) -> bytes:
        """The provenance held, or the upstream's fetched once and kept (service/indexes/provenance.py)."""
        record = await self._file_record(project, filename)
        if (found := await held_provenance(self.shared, record)) is not None:
            return found
        if record.provenance is None:
            raise no_provenance(self.name, filename)
        if self.shared.offline:
            raise NotFound(f"the provenance of {filename} is not cached and rennet is offline")
        return await self._provenance_flights.run(
            (project, filename), lambda: fetch_provenance(self.shared, self.client, self.name, record)
        )

    # -- PyPI's JSON API ---------------------------------------------------------------------------------------------

    async def upstream_document(self, url: str) -> bytes | None:
        """The upstream's JSON API document at `url` (None when it has none), kept in memory like a page: fresh
        for page_ttl, then revalidated with a conditional request; one upstream request however many clients
        ask at once; on an upstream failure, the copy held is served for retry_after."""
        held = self._documents.get(url)
        now = self.shared.clock.now()
        if held is not None and (now < held.fresh_until or now < self._failing_until):
            self._documents.move_to_end(url)
            return held.body
        return await self._document_flights.run(url, lambda: self._fetch_document(url, held))

    async def _fetch_document(self, url: str, held: _Document | None) -> bytes | None:
        validators = held.validators if held is not None and held.body is not None else None
        try:
            fetched = await self.client.fetch_page(url, validators, accept="application/json")
        except UpstreamError as error:
            self._failing_until = self.shared.clock.now() + self.config.retry_after
            if held is not None and held.body is not None:
                log.warning("serving the held JSON document %s: %s", redact(url), error)
                return held.body
            raise ServiceError(error.status, f"{self.name}: {error}") from None
        now = self.shared.clock.now()
        if fetched.status == "not_modified" and held is not None:
            body, found = held.body, held.validators
        elif fetched.status == "ok":
            body, found = fetched.body, fetched.validators
        else:
            body, found = None, UpstreamValidators()
        ttl = self.config.page_ttl if body is not None else self.config.negative_ttl
        self._documents[url] = _Document(body, found, now + ttl)
        self._documents.move_to_end(url)
        while len(self._documents) > MAX_DOCUMENTS:
            self._documents.popitem(last=False)
        return body

    # -- the project list ------------------------------------------------------------------------------------------

    async def listing(self) -> Listing:
        return await self._without_denied(await self._whole_listing())

    async def _whole_listing(self) -> Listing:
        now = self.shared.clock.now()
        if self._listing is not None and now < self._listing[0] and self._listing[1].stem.parent.exists():
            return self._listing[1]
        try:
            listing = await self._current_listing(now)
        except Unavailable:
            if self._listing is None:
                raise
            listing = replace(self._listing[1], cache="stale")  # the database is down: the list this worker had
            self._listing = (now + DATABASE_RETRY, listing)
            return listing
        ttl = self.config.retry_after if listing.cache == "stale" else self.config.listing_ttl
        self._listing = (now + ttl if not self.shared.offline else now + 60, listing)
        return listing

    async def _current_listing(self, now: float) -> Listing:
        if self.shared.offline:
            return await self._held_listing()
        record = await self.shared.db(self.shared.catalog.listing, self.name)
        if record is not None and record.digest and self._rendered(record.digest):
            fresh = (record.fetched_at or 0) + self.config.listing_ttl > now
            if fresh or now < self._failing_until:
                return Listing(self.shared.listings_dir / self.name / record.digest, record.digest, record.count)
        return await self._listing_flights.run(self.name, lambda: self._refresh_listing(record))

    def _rendered(self, digest: str) -> bool:
        return (self.shared.listings_dir / self.name / f"{digest}.names").exists()

    async def _held_listing(self) -> Listing:
        """Offline, the projects this proxy holds files of: the upstream's list would name thousands of projects
        that could only answer 404, and none at all if it was never fetched."""
        names = await self.shared.db(self.shared.catalog.project_names, self.name, held_only=True)
        # Beside the upstream's list, not over it: that one serves again once rennet is online.
        directory = self.shared.listings_dir / "-offline" / self.name
        stem, digest, count = await asyncio.to_thread(write_listing, directory, names)
        return Listing(stem, digest, count)

    async def _refresh_listing(self, record: ListingRecord | None) -> Listing:
        directory = self.shared.listings_dir / self.name
        held = record if record is not None and record.digest and self._rendered(record.digest) else None
        validators = None
        if held is not None:  # a 304 is of use only with the list it validates at hand
            validators = UpstreamValidators(held.upstream_etag, held.upstream_last_modified)
        temp = self.shared.blobs.writer()
        try:
            fetched = await self.client.fetch_page(
                self.client.base_url, validators, temp, self.shared.max_listing_bytes
            )
            now = self.shared.clock.now()
            if fetched.status == "not_modified" and record is not None and record.digest:
                await self.shared.db(self.shared.catalog.store_listing, replace(record, fetched_at=now))
                return Listing(directory / record.digest, record.digest, record.count, "refresh")
            if fetched.status != "ok":
                raise ServiceError(502, f"{self.name}: the upstream has no project list")
            names = iter_listing_names(temp.temp_path, fetched.content_type)
            stem, digest, count = await asyncio.to_thread(write_listing, directory, names)
        except UpstreamError as error:
            self._failing_until = self.shared.clock.now() + self.config.retry_after
            if held is not None and held.digest:
                log.warning("serving stale project list of %s: %s", self.name, error)
                return Listing(directory / held.digest, held.digest, held.count, "stale")
            raise ServiceError(error.status, f"{self.name}: {error}") from None
        finally:
            temp.abort()
        await self.shared.db(
            self.shared.catalog.store_listing,
            ListingRecord(self.name, fetched.validators.etag, fetched.validators.last_modified, now, digest, count),
        )
        if record is None or record.digest != digest:
            self.shared.changed(self.name)
        return Listing(stem, digest, count, "miss")
