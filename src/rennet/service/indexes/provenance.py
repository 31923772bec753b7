"""PEP 740 provenance as rennet serves it: held objects, and an upstream's fetched once.

Protocol: a file's provenance is served only once the index has found the file listed and allowed (the same
steps as for the file itself: its page, the group's rule, the policy), so a hidden file's provenance is hidden
too. What rennet holds (files.provenance_sha256, a blob) is served from the store, also when the upstream is gone
later. A proxy that holds none fetches the URL its upstream's page named, once however many ask at once, through
the proxy's upstream client (its timeouts, its guard against private addresses, its credentials for the
upstream's own origin only), checks it (domain/provenance.py: JSON of PEP 740's shape, at most
MAX_PROVENANCE_BYTES), and stores it before serving it.

Failures: no provenance for the file: NotFound (404); the upstream failing with nothing held: its status (502 or
504) and a sentence; an upstream answer that is no provenance object: 502; the blob missing meanwhile (gc,
verify): fetched again by a proxy, 404 for a hosted file.
"""

from __future__ import annotations

import logging

from rennet.domain.provenance import MAX_PROVENANCE_BYTES, InvalidProvenance, check_provenance
from rennet.service.errors import NotFound, ServiceError
from rennet.service.runtime.resources import WorkerResources
from rennet.storage.catalog import FileRecord
from rennet.upstream.client import UpstreamClient, UpstreamError
from rennet.upstream.urls import redact

__all__ = ["fetch_provenance", "held_provenance", "no_provenance"]

log = logging.getLogger("rennet.provenance")

PROVENANCE_ACCEPT = "application/vnd.pypi.integrity.v1+json, application/json;q=0.9"


def no_provenance(index: str, filename: str) -> NotFound:
    return NotFound(f"{index} has no provenance for {filename}")


async def held_provenance(shared: WorkerResources, record: FileRecord) -> bytes | None:
    """The provenance object held for the file, None when none is (or its blob is gone)."""
    sha256 = record.provenance_sha256
    if not sha256:
        return None
    return await shared.db(_read_blob, shared, sha256)


def _read_blob(shared: WorkerResources, sha256: str) -> bytes | None:
    # On a host of a cluster, the bucket's copy is brought here first (and verified as it arrives).
    if not shared.blobs.fetch(sha256):
        return None
    try:
        return shared.blobs.path_for(sha256).read_bytes()
    except FileNotFoundError:
        return None  # removed meanwhile


async def fetch_provenance(shared: WorkerResources, client: UpstreamClient, index: str, record: FileRecord) -> bytes:
    """The upstream's provenance of the file, checked, stored as a blob and recorded in the catalog."""
    assert record.provenance is not None
    url = record.provenance
    try:
        fetched = await client.fetch_page(url, None, limit=MAX_PROVENANCE_BYTES, accept=PROVENANCE_ACCEPT)
    except UpstreamError as error:
        raise ServiceError(
            error.status, f"{index}: the provenance of {record.filename} is not held: {error}"
        ) from None
    if fetched.status != "ok":
        raise NotFound(f"{index}: the upstream has no provenance for {record.filename} at {redact(url)}")
    try:
        body = check_provenance(fetched.body)
    except InvalidProvenance as error:
        log.warning("refusing the provenance of %s from %s: %s", record.filename, redact(url), error)
        raise ServiceError(
            502, f"{index}: the upstream sent no usable provenance for {record.filename}: {error}"
        ) from None
    sha256 = await shared.db(shared.blobs.put_bytes, body)
    await shared.db(shared.catalog.record_provenance, record, sha256)
    return body
