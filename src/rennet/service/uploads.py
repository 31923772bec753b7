"""Receiving uploads (the legacy API of twine, uv publish, poetry and pdm) into a hosted index.

The request body is parsed as it arrives: the file goes straight into a temporary file in the data directory
while being hashed, so a 1 GB upload needs little memory. Nothing becomes visible until every check passed:
then the blob is published and the catalog lists it in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from rennet.domain.files import ProjectStatus
from rennet.domain.indexes import HostedIndex
from rennet.domain.uploads import (
    DIGEST_FIELDS,
    UploadForm,
    UploadRejected,
    check_against_release,
    check_digests,
    check_form,
    check_metadata,
)
from rennet.service.archives import NoMetadata, read_metadata
from rennet.service.base import Shared
from rennet.storage.blobs import BlobWriter
from rennet.storage.catalog import DuplicateFile, HostedUpload

__all__ = ["UploadOutcome", "receive_upload"]

log = logging.getLogger("rennet.upload")

MAX_FORM_BYTES = 16 << 20  # every field but the file, together (long descriptions included)
MAX_FIELDS = 2000


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    filename: str
    project: str
    created: bool  # False: the identical file was there already


class _Form:
    """Collects a multipart body: small fields in memory, the `content` file into a blob writer."""

    def __init__(self, writer: BlobWriter, max_file_bytes: int) -> None:
        self.writer = writer
        self.max_file_bytes = max_file_bytes
        self.fields: dict[str, list[str]] = {}
        self.filename: str | None = None
        self.form_bytes = 0
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._is_file = False
        self._value = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._add("_header_field", data[start:end]),
            "on_header_value": lambda data, start, end: self._add("_header_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _add(self, attribute: str, data: bytes) -> None:
        setattr(self, attribute, getattr(self, attribute) + data)

    def _part_begin(self) -> None:
        self._headers, self._name, self._is_file, self._value = {}, None, False, bytearray()

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name")
        if name is None:
            raise UploadRejected("Malformed multipart body: a part has no name")
        self._name = name.decode("utf-8", "replace")
        if self._name == "content":
            if self.filename is not None:
                raise UploadRejected("Only one file may be uploaded per request")
            raw = params.get(b"filename")
            if not raw:
                raise UploadRejected("The content part carries no filename")
            self.filename = raw.decode("utf-8", "replace")
            self._is_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.writer.write(data[start:end])
            if self.writer.size > self.max_file_bytes:
                raise UploadRejected(f"File too large: the limit is {self.max_file_bytes} bytes", 413)
            return
        self.form_bytes += end - start
        if self.form_bytes > MAX_FORM_BYTES:
            raise UploadRejected(f"The form fields are larger than {MAX_FORM_BYTES} bytes", 413)
        self._value += data[start:end]

    def _part_end(self) -> None:
        if self._name is None or self._is_file:
            return
        if sum(len(v) for v in self.fields.values()) >= MAX_FIELDS:
            raise UploadRejected("Too many form fields")
        self.fields.setdefault(self._name, []).append(self._value.decode("utf-8", "replace"))


async def receive_upload(
    shared: Shared,
    index: HostedIndex,
    content_type: str,
    body: AsyncIterator[bytes],
    uploader: str,
) -> UploadOutcome:
    media_type, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise UploadRejected("Uploads are multipart/form-data requests with a boundary")
    writer = shared.blobs.writer(tuple(DIGEST_FIELDS.values()))
    try:
        form = _Form(writer, index.max_upload_size)
        parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
        try:
            async for chunk in body:
                parser.write(chunk)
            parser.finalize()
        except MultipartParseError as error:
            raise UploadRejected(f"Malformed multipart body: {error}") from None
        if form.filename is None:
            raise UploadRejected("Upload without a file: the form needs a 'content' part")
        return await _accept(shared, index, UploadForm(form.fields), form.filename, writer, uploader)
    finally:
        writer.abort()  # no-op once committed


async def _accept(
    shared: Shared, index: HostedIndex, form: UploadForm, filename: str, writer: BlobWriter, uploader: str
) -> UploadOutcome:
    dist = check_form(form, filename)
    digests = writer.hexdigests()
    check_digests(form, digests)
    try:
        raw = await asyncio.to_thread(read_metadata, writer.temp_path, filename)
    except NoMetadata as error:
        raise UploadRejected(f"Invalid distribution file: {error}") from None
    metadata = check_metadata(raw, dist, filename)
    project = dist.project
    record = await shared.db(shared.catalog.project, index.name, project)
    if record is not None and record.status in (ProjectStatus.ARCHIVED, ProjectStatus.QUARANTINED):
        raise UploadRejected(f"Project {project} is {record.status.value} and takes no uploads", 400)
    existing = await shared.db(shared.catalog.release_files, index.name, project)
    assert dist.version is not None
    if check_against_release(filename, digests["sha256"], dist.kind, dist.version, existing):
        return UploadOutcome(filename, project, created=False)
    sha256 = await asyncio.to_thread(writer.commit)
    metadata_sha256 = await asyncio.to_thread(shared.blobs.put_bytes, raw)
    upload = HostedUpload(
        filename=filename,
        version=str(dist.version),
        sha256=sha256,
        md5=digests["md5"],
        blake2b_256=digests["blake2b_256"],
        size=writer.size,
        requires_python=metadata.requires_python,
        metadata_sha256=metadata_sha256,
        uploaded_by=uploader,
        upload_time=time.time(),
    )
    try:
        new_project = await shared.db(shared.catalog.add_hosted_file, index.name, project, metadata.name, upload)
    except DuplicateFile as taken:
        if taken.sha256 == sha256:
            return UploadOutcome(filename, project, created=False)
        raise UploadRejected(f"File already exists: {filename} was uploaded before with other contents") from None
    shared.changed(index.name, project)
    if new_project:
        shared.changed(index.name)
    log.info("%s uploaded %s to %s", uploader, filename, index.name)
    return UploadOutcome(filename, project, created=True)
