"""The upstream client against a fake upstream: its own failures become UpstreamError with a sentence; what the
caller's code raises while reading a file passes through unchanged."""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin

import pytest

from rennet.storage.blobs import DigestMismatch
from rennet.upstream.client import SessionHolder, UpstreamClient, UpstreamError
from tests.support.dists import make_wheel
from tests.support.upstream import NOWHERE, FakeUpstream


def _client(upstream: FakeUpstream, sessions: SessionHolder) -> UpstreamClient:
    return UpstreamClient(sessions, upstream.url, connect_timeout=2, read_timeout=2)


def test_an_error_of_the_callers_block_is_not_taken_for_an_upstream_failure(upstream: FakeUpstream) -> None:
    wheel = make_wheel("plain", "1.0")
    upstream.add(wheel)

    async def read() -> None:
        sessions = SessionHolder()
        try:
            async with _client(upstream, sessions).open_file(upstream.file_url(wheel.filename)) as stream:
                async for _ in stream.chunks():
                    pass
                raise DigestMismatch("sha256", "0" * 64, wheel.sha256)
        finally:
            await sessions.close()

    with pytest.raises(DigestMismatch):
        asyncio.run(read())


def test_a_broken_transfer_is_an_upstream_error(upstream: FakeUpstream) -> None:
    wheel = make_wheel("broken", "1.0", padding=200_000)
    upstream.add(wheel)
    upstream.fault("/files/", "truncate")

    async def read() -> int:
        sessions = SessionHolder()
        received = 0
        try:
            async with _client(upstream, sessions).open_file(upstream.file_url(wheel.filename)) as stream:
                async for chunk in stream.chunks():
                    received += len(chunk)
        finally:
            await sessions.close()
        return received

    with pytest.raises(UpstreamError, match="broke off the transfer"):
        asyncio.run(read())


def test_a_refused_connection_is_an_upstream_error() -> None:
    async def read() -> None:
        sessions = SessionHolder()
        try:
            client = UpstreamClient(sessions, NOWHERE, connect_timeout=2, read_timeout=2)
            async with client.open_file(urljoin(NOWHERE, "../files/x-1.0-py3-none-any.whl")):
                pass
        finally:
            await sessions.close()

    with pytest.raises(UpstreamError, match="cannot connect to the upstream"):
        asyncio.run(read())


class Observed:
    """What an UpstreamObserver was told."""

    def __init__(self) -> None:
        self.statuses: list[tuple[str, int]] = []
        self.bytes: dict[str, int] = {}
        self.failures: list[tuple[str, str]] = []

    def answered(self, kind: str, status: int) -> None:
        self.statuses.append((kind, status))

    def received(self, kind: str, size: int) -> None:
        self.bytes[kind] = self.bytes.get(kind, 0) + size

    def failed(self, kind: str, reason: str) -> None:
        self.failures.append((kind, reason))


def test_the_observer_hears_of_responses_bytes_and_failures(upstream: FakeUpstream) -> None:
    wheel = make_wheel("observed", "1.0", padding=100_000)
    upstream.add(wheel)
    observed = Observed()

    async def work() -> tuple[int, int]:
        sessions = SessionHolder()
        client = UpstreamClient(sessions, upstream.url, connect_timeout=2, read_timeout=2, observer=observed)
        try:
            page = await client.fetch_page(client.project_url("observed"))
            missing = await client.fetch_page(client.project_url("nothing-here"))
            assert missing.status == "missing"
            received = 0
            async with client.open_file(upstream.file_url(wheel.filename)) as stream:
                async for chunk in stream.chunks():
                    received += len(chunk)
            upstream.fault("/files/", "truncate")
            with pytest.raises(UpstreamError):
                async with client.open_file(upstream.file_url(wheel.filename)) as stream:
                    async for _ in stream.chunks():
                        pass
            return len(page.body), received
        finally:
            await sessions.close()

    page_bytes, file_bytes = asyncio.run(work())
    assert observed.statuses == [("page", 200), ("page", 404), ("file", 200), ("file", 200)]
    assert observed.bytes["page"] == page_bytes > 0
    assert observed.bytes["file"] >= file_bytes == len(wheel.data)
    assert observed.failures == [("file", "broken")]


def test_the_observer_hears_why_a_request_got_no_answer() -> None:
    observed = Observed()

    async def work() -> None:
        sessions = SessionHolder()
        client = UpstreamClient(sessions, NOWHERE, connect_timeout=2, read_timeout=2, observer=observed)
        try:
            with pytest.raises(UpstreamError):
                await client.fetch_page(client.project_url("anything"))
            with pytest.raises(UpstreamError):
                await client.fetch_page("http://127.0.0.2:1/simple/anything/")  # not the upstream's host
        finally:
            await sessions.close()

    asyncio.run(work())
    assert observed.statuses == []
    assert observed.failures == [("page", "connect"), ("page", "refused")]
