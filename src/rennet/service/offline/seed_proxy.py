"""Seeding a proxy's cache from an exported tree (`rennet import DIR --index pypi`), e.g. on an offline laptop.

The tree's pages become the proxy's pages, as if its upstream had sent them, and each file is checked against its
page's hashes (and, for wheels and sdists, read as an archive) before its bytes are recorded, so `rennet serve
--offline` then serves what the tree held. Files are listed only once their bytes are recorded (a file without an
upstream URL is not listed before), so a running server never offers a file it cannot send.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from rennet.domain.files import DistFile, ProjectPage, merge_versions
from rennet.domain.names import parse_dist_filename
from rennet.domain.search import described_release
from rennet.domain.validators import UpstreamValidators
from rennet.service.archives import NoMetadata, read_metadata
from rennet.service.indexes.listing import write_listing
from rennet.service.offline.exported_tree import TreePage
from rennet.service.runtime.resources import Storage, page_changed
from rennet.storage.blobs import BlobWriter, DigestMismatch
from rennet.storage.catalog import ListingRecord, ProjectRecord

__all__ = ["SeedOutcome", "seed_listing", "seed_project"]

CHUNK = 1 << 20
MAX_METADATA_BYTES = 16 << 20


class Refused(Exception):
    """A file of the tree that is not taken, and why."""


@dataclass(frozen=True, slots=True)
class SeedOutcome:
    filename: str
    path: Path | None
    state: str  # "imported", "skipped" or "failed"
    message: str = ""


@dataclass(frozen=True, slots=True)
class _Ready:
    """A verified file whose bytes (and metadata) are in the blob store, not yet recorded in the catalog."""

    file: DistFile
    sha256: str
    size: int
    metadata_sha256: str | None


def seed_project(storage: Storage, index: str, tree: TreePage) -> list[SeedOutcome]:
    """Take one project of the tree into the proxy `index`; blocking (files, database)."""
    catalog, name = storage.catalog, tree.page.name
    record = catalog.project(index, name)
    current = catalog.page(record, as_stated=True) if record is not None and not record.missing else None
    stated = {file.filename: file for file in current.files} if current is not None else {}
    outcomes: list[SeedOutcome] = []
    ready: list[_Ready] = []
    for file, path in tree.entries():
        try:
            taken = _take(storage, index, name, file, path, stated.get(file.filename))
        except Refused as error:
            outcomes.append(SeedOutcome(file.filename, path, "failed", str(error)))
            continue
        if taken is None:
            outcomes.append(SeedOutcome(file.filename, path, "skipped", "held already"))
        else:
            ready.append(taken)
            outcomes.append(SeedOutcome(file.filename, path, "imported"))
    added = [item.file for item in ready if item.file.filename not in stated]
    # A project new to the proxy is stored with the files that arrived, or as it is if the tree lists none of it.
    stores_page = bool(added) or (current is None and not tree.page.files)
    if stores_page:
        _store_page(storage, index, record, current, tree.page, added)
    _record(storage, index, name, ready)
    if stores_page or ready:
        page_changed(storage, index, name)
    if stores_page and current is None:
        page_changed(storage, index)
    return outcomes


def _take(
    storage: Storage, index: str, project: str, file: DistFile, path: Path | None, stated: DistFile | None
) -> _Ready | None:
    """The file verified into the blob store, None when the index holds it already; raises Refused."""
    sha256 = file.sha256
    if sha256 is None:
        raise Refused("its page gives no sha256")
    if stated is not None and stated.sha256 is not None and stated.sha256 != sha256:
        raise Refused(f"{index} lists other bytes under this name (sha256 {stated.sha256})")
    held = storage.catalog.file(index, project, file.filename)
    if held is not None and held.blob_sha256 and storage.blobs.exists(held.blob_sha256):
        if held.blob_sha256 != sha256:
            raise Refused(f"{index} holds other bytes under this name (sha256 {held.blob_sha256})")
        return None
    if path is None:
        raise Refused("its link on the page leads out of the tree")
    expected = dict(stated.hashes if stated is not None else {}) | dict(file.hashes)
    with _checked_copy(storage, file, path, expected) as (writer, wheel_metadata):
        # The .metadata first: a file refused for it leaves nothing behind in the blob store.
        metadata_sha256, claim = _metadata(storage, path, (stated or file).core_metadata, wheel_metadata)
        size = writer.size
        try:
            sha256 = writer.commit(expected)
        except DigestMismatch as error:
            raise Refused(f"does not match its page: {error}") from None
    return _Ready(replace(file, core_metadata=claim), sha256, size, metadata_sha256)


@contextmanager
def _checked_copy(
    storage: Storage, file: DistFile, path: Path, expected: Mapping[str, str]
) -> Iterator[tuple[BlobWriter, bytes | None]]:
    """The file in a blob writer if its bytes match its page and it reads as its kind of archive, with a wheel's
    METADATA. Whatever the block does not commit is removed."""
    writer = storage.blobs.writer(tuple(expected))
    try:
        try:
            with path.open("rb") as source:
                while chunk := source.read(CHUNK):
                    writer.write(chunk)
        except OSError as error:
            raise Refused(f"cannot be read: {error.strerror or error}") from None
        if file.size is not None and writer.size != file.size:
            raise Refused(f"has {writer.size} bytes, its page says {file.size}")
        if writer.hexdigests()["sha256"] != expected["sha256"]:
            raise Refused(f"does not match the sha256 its page gives ({expected['sha256']})")
        yield writer, _archive_metadata(writer.temp_path, file.filename)
    finally:
        writer.abort()  # nothing to do once committed


def _archive_metadata(path: Path, filename: str) -> bytes | None:
    """A wheel's METADATA (an sdist's PKG-INFO is only checked): what an archive that is no archive lacks."""
    parsed = parse_dist_filename(filename)
    if parsed is None or parsed.kind == "legacy":
        return None  # eggs and installers are taken on their hash alone
    try:
        data = read_metadata(path, filename)
    except NoMetadata as error:
        raise Refused(str(error)) from None
    return data if parsed.kind == "wheel" else None


def _metadata(
    storage: Storage, path: Path, claim: Mapping[str, str] | None, extracted: bytes | None
) -> tuple[str | None, Mapping[str, str] | None]:
    """The metadata blob, and what the page claims about it.

    The tree's .metadata must match the page's hashes. Without one, a wheel's own METADATA is kept and the claim
    dropped: the catalog then advertises the hash of what it holds rather than one nobody could check."""
    beside = path.with_name(path.name + ".metadata")
    try:
        if beside.is_file():
            if beside.stat().st_size > MAX_METADATA_BYTES:
                raise Refused(f"its .metadata is larger than {MAX_METADATA_BYTES} bytes")
            return storage.blobs.put_bytes(beside.read_bytes(), claim or None), claim
    except DigestMismatch as error:
        raise Refused(f"its .metadata does not match its page: {error}") from None
    except OSError as error:
        raise Refused(f"its .metadata cannot be read: {error.strerror or error}") from None
    if extracted is not None:
        return storage.blobs.put_bytes(extracted), None
    return None, None


def _store_page(
    storage: Storage,
    index: str,
    record: ProjectRecord | None,
    current: ProjectPage | None,
    page: ProjectPage,
    added: Iterable[DistFile],
) -> None:
    """The proxy's page with the tree's new files added; a project new to the proxy takes the tree's page.

    A new project's page counts as fetched long ago: an online server asks its upstream at the first request,
    an offline one serves it as it is."""
    if current is None or record is None:
        merged, validators, fetched_at = page.with_files(tuple(added)), UpstreamValidators(), 0.0
        display = str(page.name)
    else:
        files = current.files + tuple(added)
        versions = merge_versions(current.versions, page.versions)
        merged = replace(current, files=files, versions=versions)
        validators = UpstreamValidators(record.upstream_etag, record.upstream_last_modified)
        fetched_at, display = record.fetched_at or 0.0, record.display_name
    storage.catalog.store_upstream_page(index, display, merged, validators, fetched_at)


def _record(storage: Storage, index: str, project: str, ready: Iterable[_Ready]) -> None:
    """Record metadata first: the file is listed from the moment its bytes are recorded."""
    catalog = storage.catalog
    for item in ready:
        found = catalog.file(index, project, item.file.filename)
        if found is None:
            continue  # removed meanwhile by someone else
        if item.metadata_sha256 is not None:
            catalog.record_metadata(found, item.metadata_sha256)
            _learn_summary(storage, index, project, item.metadata_sha256)
        catalog.record_blob(found, item.sha256, item.size, None)


def _learn_summary(storage: Storage, index: str, project: str, metadata_sha256: str) -> None:
    """Search learns the project's summary from the metadata, as when a client fetches it (indexes/proxy.py)."""
    path = storage.blobs.local_path(metadata_sha256)
    described = described_release(path.read_bytes()) if path is not None else None
    if described is not None:
        storage.catalog.learn_summary(index, project, described)


def seed_listing(storage: Storage, index: str, listings_dir: Path) -> bool:
    """Give the proxy a project list of what it now holds, unless it has one from its upstream already."""
    existing = storage.catalog.listing(index)
    if existing is not None and existing.digest:
        return False
    names = storage.catalog.project_names(index)
    _stem, digest, count = write_listing(listings_dir / index, names)
    # Fetched "never": an online server replaces it with its upstream's list at the first request.
    storage.catalog.store_listing(ListingRecord(index, None, None, 0.0, digest, count))
    page_changed(storage, index)
    return True
