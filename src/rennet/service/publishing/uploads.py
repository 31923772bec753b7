"""Receiving uploads (the legacy API of twine, uv publish, poetry and pdm) into a hosted index.

The request body is parsed as it arrives: the file goes straight into a temporary file in the data directory
while being hashed, so a 1 GB upload needs little memory. Nothing becomes visible until every check passed:
then the blob is published and the catalog lists it in one transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from rennet.domain.indexes import HostedIndex
from rennet.domain.uploads import DIGEST_FIELDS, UploadForm, UploadRejected, check_digests, check_form
from rennet.service.publishing.publish import UploadDenied, UploadOutcome, publish
from rennet.service.runtime.resources import WorkerResources
from rennet.storage.blobs import BlobWriter

__all__ = ["UploadOutcome", "receive_upload"]

MAX_FORM_BYTES = 16 << 20  # every field but the file, together (long descriptions included)
MAX_FIELDS = 2000


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
        # python-multipart's finalize() accepts a body that stops before its closing boundary; a truncated
        # upload must not be taken for a whole one, so the end is tracked here.
        self.complete = False

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda data, start, end: self._add("_header_field", data[start:end]),
            "on_header_value": lambda data, start, end: self._add("_header_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
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

    def _end(self) -> None:
        self.complete = True

    def _part_end(self) -> None:
        if self._name is None or self._is_file:
            return
        if sum(len(v) for v in self.fields.values()) >= MAX_FIELDS:
            raise UploadRejected("Too many form fields")
        self.fields.setdefault(self._name, []).append(self._value.decode("utf-8", "replace"))


async def receive_upload(
    shared: WorkerResources,
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
        try:
            # Inside: the parser refuses some boundaries (longer than it allows) as it is made.
            parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
            async for chunk in body:
                parser.write(chunk)
            parser.finalize()
        except FormParserError as error:
            raise UploadRejected(f"Malformed multipart body: {error}") from None
        if not form.complete:
            raise UploadRejected("Malformed multipart body: it ends before its closing boundary (truncated?)")
        if form.filename is None:
            raise UploadRejected("Upload without a file: the form needs a 'content' part")
        return await _accept(shared, index, UploadForm(form.fields), form.filename, writer, uploader)
    finally:
        writer.abort()  # no-op once committed


async def _accept(
    shared: WorkerResources, index: HostedIndex, form: UploadForm, filename: str, writer: BlobWriter, uploader: str
) -> UploadOutcome:
    dist = check_form(form, filename)
    check_digests(form, writer.hexdigests())
    # As sent: a JSON array (PEP 740), verified against the file while it is published.
    values = form.fields.get("attestations")
    attestations = values[0] if values else None
    try:
        return await shared.db(publish, shared, index, dist, filename, writer, uploader, None, attestations)
    except UploadDenied as denied:
        shared.metrics.policy(denied.refusal.index, denied.refusal.rule, "refused")
        raise
