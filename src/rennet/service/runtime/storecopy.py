"""The object store's blobs on a host that has no copy of them: answered from the bucket, and copied.

A host asked for such a blob answers a HEAD, a conditional request, a range or (with `store_redirects`) a
redirect from what the bucket says, without a copy. Any other request joins (or starts) one download of it from
the bucket, exactly as a proxy joins a download from its upstream (service/runtime/downloads.py): the clients
read the copy as it grows,
the last bytes wait for the sha256 check, and the verified copy becomes the host's own, sent from disk from then
on. So a large file's first bytes leave at once, not after the whole file was copied (pip gives up after 15 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from rennet.service.answers import CacheOutcome, LocalFile, StoredFile, StreamingFile
from rennet.service.errors import NotFound, ServiceError
from rennet.service.runtime.downloads import Download, DownloadFailed, TryAgain
from rennet.storage.blobs import BlobWriter, DigestMismatch
from rennet.storage.objectstore import ObjectMissing

if TYPE_CHECKING:
    from rennet.service.runtime.resources import WorkerResources

__all__ = ["copy_from_store", "open_from_store", "signed_url", "store_refusal"]

log = logging.getLogger("rennet.copies")


async def open_from_store(shared: WorkerResources, sha256: str, cache: CacheOutcome) -> StoredFile | None:
    """The blob as the bucket holds it, nothing copied yet; None when the bucket has no such blob either."""
    remote = shared.blobs.remote
    assert remote is not None
    try:
        size = await shared.db(remote.size, sha256)
    except ObjectMissing:
        return None

    async def copy() -> LocalFile | StreamingFile:
        return await _copy(shared, sha256, size, cache)

    async def byte_range(start: int, length: int) -> AsyncIterator[bytes]:
        chunks = remote.byte_range(sha256, start, length)
        try:
            while (chunk := await shared.db(next, chunks, None)) is not None:
                yield chunk
        except ObjectMissing:  # deleted since it was found (gc): as if it had never been found
            raise NotFound("the file is no longer stored") from None

    return StoredFile(sha256, size, copy, byte_range, "miss")  # this host did not hold it


def signed_url(shared: WorkerResources, sha256: str, seconds: float) -> str:
    """Where a client may fetch the blob from the bucket itself, for `seconds` (signed here, in microseconds)."""
    remote = shared.blobs.remote
    assert remote is not None
    return remote.signed_url(sha256, seconds)


async def _copy(shared: WorkerResources, sha256: str, size: int, cache: CacheOutcome) -> LocalFile | StreamingFile:
    """The blob from the bucket as it arrives (or from disk, if another worker copied it just now)."""

    async def fetch(download: Download, writer: BlobWriter) -> str:
        return await copy_from_store(shared, sha256, size, download, writer)

    async def outcome() -> str | None:
        return sha256 if shared.blobs.exists(sha256) else None

    for _ in range(50):
        try:
            download, fd = await shared.downloads.join(f"store/{sha256}", fetch, outcome, size, ("sha256",))
        except TryAgain:
            if (found := shared.open_blob(sha256, cache)) is not None:
                return found
            await asyncio.sleep(0.02)
            continue
        try:
            await download.headers_known()
        except DownloadFailed as error:
            raise store_refusal(download, f"the stored file cannot be read: {error}") from None
        return StreamingFile(download, fd, size, sha256, "miss")
    raise ServiceError(503, "the stored file is being copied by another worker; try again")


def store_refusal(download: Download, message: str) -> ServiceError:
    """What clients are told of a download that failed before its first byte: the object store's refusal when the
    store could not be used (its error, which names its endpoint, stays in the log), else a 502 with `message`."""
    if download.store_unavailable:
        from rennet.service.runtime.resources import store_unavailable

        return store_unavailable()
    return ServiceError(502, message)


async def copy_from_store(
    shared: WorkerResources, sha256: str, size: int | None, download: Download, writer: BlobWriter
) -> str:
    """Stream a blob from the bucket into a download (its readers get it as it arrives), verified."""
    remote = shared.blobs.remote
    assert remote is not None
    chunks = remote.chunks(sha256)
    # The bucket's first answer before the clients' 200: a bucket that cannot be read now is refused with a
    # sentence (store_refusal), not a transfer broken off after its headers.
    chunk = await asyncio.to_thread(next, chunks, None)
    download.announce(size)
    while chunk is not None:
        writer.write(chunk)
        download.advance(writer.size)
        chunk = await asyncio.to_thread(next, chunks, None)
    try:
        writer.verify({"sha256": sha256})
    except DigestMismatch as error:
        log.error("the object store's copy of blob %s is damaged: %s", sha256, error)
        raise
    download.finish(None)
    await asyncio.to_thread(writer.publish, False)  # the bucket has it already: not uploaded again
    return sha256
