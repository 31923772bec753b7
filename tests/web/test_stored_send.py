"""A file of the object store on a host without a copy (StoredSend): a store that fails before the first byte is
a refusal with a sentence, never a 200 or 206 broken off after its headers."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

from starlette.responses import PlainTextResponse, Response

from rennet.service.answers import LocalFile, StoredFile, StreamingFile
from rennet.service.errors import ServiceError
from rennet.service.runtime.resources import store_unavailable
from rennet.web.responses import FileSend, StoredSend, StreamSend

SHA256 = "ab" * 32


async def _refused_copy() -> LocalFile | StreamingFile:
    raise store_unavailable()


async def _refused_range(start: int, length: int) -> AsyncIterator[bytes]:
    raise store_unavailable()
    yield b""  # an async generator, as the real one is


async def _whole() -> FileSend | StreamSend:
    raise AssertionError("no whole file was asked for")


def _refuse(error: ServiceError) -> Response:
    return PlainTextResponse(error.message, status_code=error.status, headers=error.headers)


def _answer(method: str, headers: list[tuple[bytes, bytes]], whole: Any = _whole) -> list[MutableMapping[str, Any]]:
    stored = StoredFile(SHA256, 1000, _refused_copy, _refused_range)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "headers": headers, "extensions": {}}
    asyncio.run(StoredSend(stored, whole, _refuse, private=False)(scope, receive, send))
    return sent


def test_a_store_failing_before_a_range_starts_is_a_503_with_a_sentence() -> None:
    start, body = _answer("GET", [(b"range", b"bytes=10-19")])[:2]
    assert start["status"] == 503
    assert (b"retry-after", b"5") in start["headers"]
    assert body["body"] == b"the file store is unavailable right now; try again in a few seconds"


def test_a_store_failing_before_a_copy_starts_is_a_503_with_a_sentence() -> None:
    async def whole() -> FileSend | StreamSend:
        await _refused_copy()
        raise AssertionError("unreachable")

    start = _answer("GET", [], whole)[0]
    assert start["status"] == 503


def test_heads_and_304s_need_nothing_of_the_store() -> None:
    head = _answer("HEAD", [])[0]
    assert head["status"] == 200 and (b"content-length", b"1000") in head["headers"]
    assert _answer("GET", [(b"if-none-match", f'"{SHA256}"'.encode())])[0]["status"] == 304
    assert _answer("GET", [(b"range", b"bytes=1000-")])[0]["status"] == 416


def test_a_download_that_fails_before_its_first_byte_is_refused_not_begun(tmp_path: Path) -> None:
    """Another worker's download says nothing before it ends: one that fails then gets the refusal (a sentence),
    never a 200 that Granian would have to turn into its own 500."""
    from rennet.service.runtime.downloads import Download, DownloadFailed

    part = tmp_path / "part"
    part.write_bytes(b"")
    download = Download(None)
    download.finish("the download in another worker failed")
    refused: list[str] = []

    def refuse(error: DownloadFailed) -> Response:
        refused.append(str(error))
        return PlainTextResponse("the file store is unavailable", status_code=503)

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "headers": [], "extensions": {}}
    response = StreamSend(download, os.open(part, os.O_RDONLY), None, None, refuse=refuse)
    asyncio.run(response(scope, receive, send))
    assert sent[0]["status"] == 503
    assert refused == ["the download in another worker failed"]
