"""Publishing a received distribution file into a hosted index: the part that uploads and imports share.

The caller holds the bytes in a blob writer (not yet visible) and has checked what the filename claims. Here
the file's own metadata is checked against that claim, attestations sent with it are verified for it, the
project's status and the release rules apply, and only then do the blobs (the file, its metadata, its
provenance) and the catalog row appear, at once for every worker of every process.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from rennet.domain.files import ProjectStatus
from rennet.domain.indexes import HostedIndex, policy_of
from rennet.domain.names import DistName, file_identity
from rennet.domain.policy import Refusal
from rennet.domain.provenance import InvalidProvenance
from rennet.domain.uploads import UploadRejected, check_against_release, check_archive_directory, check_metadata
from rennet.service.archives import NoMetadata, read_metadata_file
from rennet.service.publishing.attestations import verified_provenance
from rennet.service.runtime.resources import Storage, page_changed
from rennet.storage.blobs import BlobWriter
from rennet.storage.catalog import DuplicateFile, HostedUpload

__all__ = ["UploadDenied", "UploadOutcome", "publish"]

log = logging.getLogger("rennet.upload")
policy_log = logging.getLogger("rennet.policy")

# Projects in these states take no new files (PEP 792).
CLOSED = (ProjectStatus.ARCHIVED, ProjectStatus.QUARANTINED)


class UploadDenied(UploadRejected):
    """An upload the index's policy refuses (403, as PyPI refuses what a project's owner has not allowed)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message, 403)
        self.refusal = refusal


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    filename: str
    project: str
    created: bool  # False: the identical file was there already


def publish(
    storage: Storage,
    index: HostedIndex,
    dist: DistName,
    filename: str,
    writer: BlobWriter,
    uploader: str,
    upload_time: float | None = None,
    attestations: str | None = None,
) -> UploadOutcome:
    """List the file in `writer` (made with the md5 and blake2b_256 hashes) or raise UploadRejected.
    `attestations`: the upload's form field of that name (PEP 740), if it has one.

    Blocking (archive reading, database, fsync): a server calls it in a worker thread.
    """
    if (refusal := policy_of(index).upload_refusal(dist.project, dist.version, filename)) is not None:
        policy_log.warning("refused upload by %s: %s", uploader, refusal.message)
        raise UploadDenied(refusal)
    digests = writer.hexdigests()
    try:
        found = read_metadata_file(writer.temp_path, filename)
    except NoMetadata as error:
        raise UploadRejected(f"Invalid distribution file: {error}") from None
    raw = found.data
    metadata = check_metadata(raw, dist, filename)
    check_archive_directory(found.directory, dist, filename)
    provenance = None
    if attestations is not None:
        try:
            provenance = verified_provenance(attestations, filename, digests["sha256"])
        except InvalidProvenance as error:
            raise UploadRejected(str(error)) from None
    project, catalog = dist.project, storage.catalog
    record = catalog.project(index.name, project)
    if record is not None and record.status in CLOSED:
        assert record.status is not None
        raise UploadRejected(f"Project {project} is {record.status.value} and takes no uploads", 400)
    identity = file_identity(filename)
    existing = catalog.release_files(index.name, project, filename, identity)
    if check_against_release(filename, digests["sha256"], identity, existing):
        return UploadOutcome(filename, project, created=False)
    sha256 = writer.commit()
    upload = HostedUpload(
        filename=filename,
        version=str(dist.version),
        sha256=sha256,
        md5=digests["md5"],
        blake2b_256=digests["blake2b_256"],
        size=writer.size,
        requires_python=metadata.requires_python,
        metadata_sha256=storage.blobs.put_bytes(raw),
        provenance_sha256=storage.blobs.put_bytes(provenance) if provenance is not None else None,
        uploaded_by=uploader,
        upload_time=time.time() if upload_time is None else upload_time,
        summary=metadata.summary,
    )
    try:
        new_project = catalog.add_hosted_file(index.name, project, metadata.name, upload)
    except DuplicateFile as taken:
        # A rival upload won meanwhile: the same rules, now against what it stored.
        if check_against_release(filename, sha256, identity, {taken.filename: (taken.sha256, identity)}):
            return UploadOutcome(filename, project, created=False)
        raise AssertionError("a file taken under its identity is always refused") from None
    page_changed(storage, index.name, project)
    if new_project:
        page_changed(storage, index.name)
    log.info("%s added %s to %s", uploader, filename, index.name)
    return UploadOutcome(filename, project, created=True)
