"""Responses that need more care than Starlette's: distribution files, growing downloads, and errors.

Files are sent exactly as stored (never with Content-Encoding), zero-copy through the ASGI pathsend extension
when the server offers it, with one byte range when asked, and with a strong ETag that is their sha256.
A held file is sent from the descriptor its answer opened (/proc/self/fd/<n> for pathsend), never reopened by
name: the blob may be deleted meanwhile (eviction, gc, verify) and the client still gets every byte.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from rennet.domain.ranges import ByteRange, Unsatisfiable, parse_range
from rennet.service.answers import StoredFile
from rennet.service.errors import ServiceError
from rennet.service.runtime.downloads import Download, DownloadFailed
from rennet.service.runtime.openblobs import PROC_FD, BlobLease
from rennet.service.runtime.resources import database_unavailable, storage_full, store_unavailable
from rennet.storage.database import DatabaseUnavailable
from rennet.storage.errors import StorageFull
from rennet.storage.objectstore import ObjectStoreUnavailable
from rennet.web.requestids import current_request_id

__all__ = [
    "REFUSALS",
    "BytesResponse",
    "FileSend",
    "StoredSend",
    "StreamSend",
    "error_response",
    "etag_matches",
    "prefer_json_errors",
    "refusal",
    "unhandled_refusal",
]

IMMUTABLE = "public, max-age=31536000, immutable"
# A file of a private index went to someone who logged in: no shared cache (a company proxy, a CDN) may keep it
# and hand it to the next person who asks.
IMMUTABLE_PRIVATE = "private, max-age=31536000, immutable"
_JSON_ERRORS = "rennet.json_errors"  # a scope key set by prefer_json_errors
_CHUNK = 256 << 10


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110, 13.1.2)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))


def _headers(pairs: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs.items()]


def _file_headers(private: bool) -> dict[str, str]:
    return {
        "content-type": "application/octet-stream",
        "accept-ranges": "bytes",
        "cache-control": IMMUTABLE_PRIVATE if private else IMMUTABLE,
    }


class BytesResponse:
    """A body already rendered, with headers already encoded: the page hot path builds nothing else."""

    __slots__ = ("body", "head", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, head: bool = False) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.head = head

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = self.headers
        if self.status != 304:
            headers = [*headers, (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if self.head or self.status == 304 else self.body})


class FileSend:
    """A file on disk: full (pathsend when offered), one range (206), 416, HEAD and If-None-Match (304).

    By default the headers of a distribution file; rendered project lists pass their own. With a lease, the bytes
    come from the lease's open file, which is released once the response is over (sent, refused or broken off).
    """

    def __init__(
        self,
        path: Path,
        size: int,
        etag: str,
        headers: Mapping[str, str] | None = None,
        lease: BlobLease | None = None,
        accel: str | None = None,
    ) -> None:
        self.path = path
        self.size = size
        self.etag = etag
        self.lease = lease
        self.accel = accel
        self.headers = dict(headers) if headers is not None else _file_headers(private=False)

    @classmethod
    def distribution(
        cls,
        path: Path,
        size: int,
        sha256: str,
        lease: BlobLease | None = None,
        private: bool = False,
        accel: str | None = None,
    ) -> FileSend:
        """A distribution file or its .metadata; `private` when the index serving it is private; `accel`: the path
        that the web server in front sends it from (X-Accel-Redirect), if it does."""
        return cls(path, size, f'"{sha256}"', _file_headers(private), lease, accel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._respond(scope, send)
        finally:
            if self.lease is not None:
                self.lease.release()

    async def _respond(self, scope: Scope, send: Send) -> None:
        request_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        head_only = scope["method"] == "HEAD"
        headers = self.headers | {"etag": self.etag}
        if "rennet" in scope:
            scope["rennet"]["size"] = self.size
        if etag_matches(request_headers.get("if-none-match"), self.etag):
            await send({"type": "http.response.start", "status": 304, "headers": _headers(headers)})
            await send({"type": "http.response.body", "body": b""})
            return
        if self.accel is not None and not head_only:
            await self._send_accel(send, headers)
            return
        if_range = request_headers.get("if-range")
        range_header = request_headers.get("range") if if_range in (None, self.etag) else None
        if "accept-ranges" not in headers:
            range_header = None
        try:
            wanted = parse_range(range_header, self.size)
        except Unsatisfiable:
            headers |= {"content-range": f"bytes */{self.size}", "content-length": "0"}
            await send({"type": "http.response.start", "status": 416, "headers": _headers(headers)})
            await send({"type": "http.response.body", "body": b""})
            return
        if wanted is None:
            headers["content-length"] = str(self.size)
            await send({"type": "http.response.start", "status": 200, "headers": _headers(headers)})
            if head_only:
                await send({"type": "http.response.body", "body": b""})
            else:
                await self._send_whole(scope, send)
            return
        headers |= {"content-length": str(wanted.length), "content-range": wanted.content_range(self.size)}
        await self._send_part(scope, send, headers, wanted, head_only)

    async def _send_accel(self, send: Send, headers: dict[str, str]) -> None:
        """Headers and no body: the web server in front sends the file itself, with its ranges (it adds
        Accept-Ranges, Content-Length and Last-Modified of its own)."""
        del headers["accept-ranges"]
        headers["x-accel-redirect"] = self.accel or ""
        await send({"type": "http.response.start", "status": 200, "headers": _headers(headers)})
        await send({"type": "http.response.body", "body": b""})

    async def _send_part(
        self, scope: Scope, send: Send, headers: dict[str, str], wanted: ByteRange, head_only: bool
    ) -> None:
        await send({"type": "http.response.start", "status": 206, "headers": _headers(headers)})
        if head_only:
            await send({"type": "http.response.body", "body": b""})
        else:
            await self._send_bytes(send, wanted.start, wanted.length)

    async def _send_whole(self, scope: Scope, send: Send) -> None:
        if (path := self._sendable_path()) and "http.response.pathsend" in scope.get("extensions", {}):
            await send({"type": "http.response.pathsend", "path": path})
        else:
            await self._send_bytes(send, 0, self.size)

    def _sendable_path(self) -> str | None:
        """What pathsend may open: the open file itself; without /proc, None (the bytes are read here)."""
        if self.lease is None:
            return str(self.path)
        return self.lease.proc_path if PROC_FD else None

    async def _send_bytes(self, send: Send, start: int, length: int) -> None:
        if self.lease is not None:
            await self._send_range(send, self.lease.fd, start, length)
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            await self._send_range(send, fd, start, length)
        finally:
            os.close(fd)

    async def _send_range(self, send: Send, fd: int, start: int, length: int) -> None:
        position, end = start, start + length
        while position < end:
            count = min(_CHUNK, end - position)
            # Small reads (range requests for metadata) are cheaper inline than in a thread.
            if count <= 64 << 10:
                data = os.pread(fd, count, position)
            else:
                data = await asyncio.to_thread(os.pread, fd, count, position)
            if not data:
                raise OSError(f"{self.path} is shorter than expected")
            position += len(data)
            await send({"type": "http.response.body", "body": data, "more_body": position < end})
        if length == 0:
            await send({"type": "http.response.body", "body": b""})


class StoredSend(FileSend):
    """A file of the object store that this host has no copy of: HEAD, 304 and 416 from what the store told of
    it, a range straight from the store, and a whole file through `copy` (the host's copy, as it arrives).

    A store failing before the first byte of a range gets `refuse`'s answer (503 and a sentence); after it, the
    transfer breaks off, as a download's does."""

    def __init__(
        self,
        stored: StoredFile,
        copy: Callable[[], Awaitable[FileSend | StreamSend]],
        refuse: Callable[[ServiceError], Response],
        private: bool,
    ) -> None:
        super().__init__(Path(), stored.size, f'"{stored.sha256}"', _file_headers(private))
        self.stored = stored
        self.copy = copy
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.receive = receive
        await super().__call__(scope, receive, send)

    async def _send_whole(self, scope: Scope, send: Send) -> None:
        raise AssertionError("a whole file is answered by copy(), in _respond")

    async def _respond(self, scope: Scope, send: Send) -> None:
        if scope["method"] == "GET" and not _wants_part(scope, self.etag, self.size):
            whole: FileSend | StreamSend | Response
            try:
                whole = await self.copy()
            except ServiceError as error:
                whole = self.refuse(error)
            await whole(scope, self.receive, send)
            return
        await super()._respond(scope, send)

    async def _send_part(
        self, scope: Scope, send: Send, headers: dict[str, str], wanted: ByteRange, head_only: bool
    ) -> None:
        if head_only:
            await super()._send_part(scope, send, headers, wanted, head_only)
            return
        chunks = aiter(self.stored.byte_range(wanted.start, wanted.length))
        try:
            first = await anext(chunks)
        except ServiceError as error:
            await self.refuse(error)(scope, self.receive, send)
            return
        await _send_body(send, 206, headers, first, chunks)


def _wants_part(scope: Scope, etag: str, size: int) -> bool:
    """Whether FileSend answers a GET with anything but the whole file: 304, 206 or 416."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    if etag_matches(headers.get("if-none-match"), etag):
        return True
    if headers.get("if-range") not in (None, etag):
        return False
    try:
        return parse_range(headers.get("range"), size) is not None
    except Unsatisfiable:
        return True


class StreamSend:
    """A file that is still being downloaded: its bytes as they arrive, aborted if it fails to verify."""

    def __init__(
        self,
        download: Download,
        fd: int,
        size: int | None,
        sha256: str | None,
        private: bool = False,
        refuse: Callable[[DownloadFailed], Response] | None = None,
    ) -> None:
        self.download = download
        self.fd = fd
        self.size = size
        self.sha256 = sha256
        self.private = private
        self.refuse = refuse  # the answer to a download that fails before its first byte

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {
            "content-type": "application/octet-stream",
            "cache-control": IMMUTABLE_PRIVATE if self.private else IMMUTABLE,
        }
        if self.sha256:
            headers["etag"] = f'"{self.sha256}"'
        if self.size is not None:
            headers["content-length"] = str(self.size)
        stream = self.download.stream(self.fd)
        try:
            # The first bytes before the 200: a download that fails before them (another worker's, say, which
            # says nothing before it ends) is refused with a sentence, not a 200 broken off before its body.
            try:
                first = await anext(stream, b"")
            except DownloadFailed as error:
                if self.refuse is None:
                    raise
                await self.refuse(error)(scope, receive, send)
                return
            # An exception from here on (DownloadFailed) aborts the connection: the client sees a broken transfer.
            await _send_body(send, 200, headers, first, stream)
        finally:
            await stream.aclose()


async def _send_body(
    send: Send, status: int, headers: Mapping[str, str], first: bytes, rest: AsyncIterator[bytes]
) -> None:
    """The response, its first bytes known already (the source has answered), then the rest as it comes."""
    await send({"type": "http.response.start", "status": status, "headers": _headers(headers)})
    await send({"type": "http.response.body", "body": first, "more_body": True})
    async for chunk in rest:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def prefer_json_errors(request: Request) -> None:
    """Every error this request gets is JSON, whatever it accepts: for the endpoints of JSON APIs."""
    request.scope[_JSON_ERRORS] = True


# What a handler may let through to be answered by unhandled_refusal (the router and the hot paths both do).
REFUSALS = (ServiceError, DatabaseUnavailable, StorageFull, ObjectStoreUnavailable)


def unhandled_refusal(request: Request, error: Exception) -> Response:
    """A refusal that no handler turned into a response: a service's (authentication reaching a database that is
    down, say) or the database's own unavailability."""
    if isinstance(error, DatabaseUnavailable):
        error = database_unavailable()
    elif isinstance(error, StorageFull):
        error = storage_full()
    elif isinstance(error, ObjectStoreUnavailable):
        error = store_unavailable()
    assert isinstance(error, ServiceError)
    return refusal(request, error)


def refusal(request: Request, error: ServiceError) -> Response:
    """A service's refusal as a response: its status, its sentence and its headers (Retry-After, say)."""
    return error_response(request, error.status, error.message, error.headers)


def error_response(request: Request, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A plain sentence for people, or {"message","code","title"} for clients that ask for JSON. A server error
    (5xx) names the request id in the sentence (and as "request_id"): the log lines of the request carry it."""
    request_id = current_request_id() if status >= 500 else None
    if request_id:
        message = f"{message} (request id {request_id})"
    accept = request.headers.get("accept", "")
    if request.scope.get(_JSON_ERRORS) or ("application/json" in accept and "text/html" not in accept):
        title = _TITLES.get(status, "Error")
        fields = {"message": message, "code": f"{status} {title}", "title": title}
        if request_id:
            fields["request_id"] = request_id
        return Response(json.dumps(fields), status, headers, media_type="application/json")
    return PlainTextResponse(message + "\n", status, headers)


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
