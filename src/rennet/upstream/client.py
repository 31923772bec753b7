"""HTTP to upstream indexes with aiohttp: pooled connections, explicit timeouts, streaming, size limits.

Errors come out as UpstreamError with the status rennet should answer (502 or 504) and a sentence for people.
Credentials are sent only to the upstream's own origin and never appear in messages or logs. What the client does
(responses by status, bytes received, failures by reason) is told to an UpstreamObserver, for metrics.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

from rennet import __version__
from rennet.domain.hosts import TrustedHosts, refuse_url
from rennet.domain.validators import UpstreamValidators
from rennet.upstream.urls import redact

__all__ = ["FileStream", "PageFetch", "UpstreamClient", "UpstreamError", "UpstreamObserver"]

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
PAGE_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
USER_AGENT = f"rennet/{__version__}"


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class UpstreamError(Exception):
    """The upstream could not give an answer; `status` is what rennet answers when it has nothing cached, `reason`
    a word for metrics: timeout, connect, broken, status, too_large, refused, redirects or failed."""

    def __init__(self, message: str, status: int = 502, reason: str = "failed") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class UpstreamObserver(Protocol):
    """What the client tells of its work; `kind` is "page" (pages, project lists, JSON) or "file"."""

    def answered(self, kind: str, status: int) -> None:
        """A response arrived (a redirect followed is one too)."""

    def received(self, kind: str, size: int) -> None:
        """Bytes of a body arrived."""

    def failed(self, kind: str, reason: str) -> None:
        """A request ended in UpstreamError (raised by the client, or by its caller while reading a file)."""


class _Unobserved:
    def answered(self, kind: str, status: int) -> None:
        pass

    def received(self, kind: str, size: int) -> None:
        pass

    def failed(self, kind: str, reason: str) -> None:
        pass


UNOBSERVED: UpstreamObserver = _Unobserved()


FetchStatus = Literal["ok", "not_modified", "missing"]

# Awaited with each piece of a file received: a bandwidth limit (`rennet mirror --bandwidth`) sleeps in it.
Pace = Callable[[int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PageFetch:
    """One conditional page request: the page, or that it did not change, or that the upstream has none."""

    status: FetchStatus
    body: bytes = b""
    content_type: str = ""
    url: str = ""
    validators: UpstreamValidators = field(default_factory=UpstreamValidators)


@dataclass(slots=True)
class FileStream:
    response: aiohttp.ClientResponse
    url: str
    content_length: int | None
    last_modified: float | None
    observer: UpstreamObserver = UNOBSERVED
    pace: Pace | None = None

    async def chunks(self, size: int = 256 << 10) -> AsyncIterator[bytes]:
        """The body as it arrives; a broken or stalled transfer raises UpstreamError."""
        try:
            async for chunk in self.response.content.iter_chunked(size):
                self.observer.received("file", len(chunk))
                if self.pace is not None:
                    await self.pace(len(chunk))
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as error:
            raise _translate(error, self.url) from None


class UpstreamClient:
    """One per index: its base URL, credentials and timeouts; the connection pool is shared by all."""

    def __init__(
        self,
        session_factory: SessionHolder,
        base_url: str,
        connect_timeout: float,
        read_timeout: float,
        username: str | None = None,
        password: str | None = None,
        max_page_bytes: int = 64 << 20,
        trusted: TrustedHosts | None = None,
        observer: UpstreamObserver = UNOBSERVED,
    ) -> None:
        """`trusted`: hosts fetched from whatever their addresses (by default the upstream's own host)."""
        parts = urlsplit(base_url)
        self.base_url = redact(base_url).rstrip("/") + "/"
        self._origin = (parts.scheme, parts.hostname, parts.port)
        self._trusted = trusted if trusted is not None else TrustedHosts.of([parts.hostname or ""])
        user = username if username is not None else parts.username
        secret = password if password is not None else parts.password
        credentials = base64.b64encode(f"{user}:{secret or ''}".encode()).decode() if user else None
        self._authorization = {"Authorization": f"Basic {credentials}"} if credentials else {}
        self._sessions = session_factory
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=read_timeout)
        self._max_page_bytes = max_page_bytes
        self._observer = observer
        self.pace: Pace | None = None  # files only: pages are small, and a client waits for them

    def project_url(self, name: str) -> str:
        return f"{self.base_url}{name}/"

    def _auth_for(self, url: str) -> dict[str, str]:
        """The Authorization header for a request to `url`: the upstream's credentials go to its origin only."""
        parts = urlsplit(url)
        return self._authorization if (parts.scheme, parts.hostname, parts.port) == self._origin else {}

    async def fetch_page(
        self,
        url: str,
        validators: UpstreamValidators | None = None,
        sink: Sink | None = None,
        limit: int | None = None,
        accept: str = PAGE_ACCEPT,
    ) -> PageFetch:
        """A conditional GET of a page. With a sink the body is written there (the project list can be huge)."""
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        limit = limit or self._max_page_bytes
        with self._failures_counted("page"):
            async with self._request(url, headers, "page") as response:
                found = UpstreamValidators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
                if response.status == 304:
                    return PageFetch("not_modified", validators=found)
                if response.status in (404, 410):
                    return PageFetch("missing")
                _raise_for_status(response, url)
                body = await self._read_page(response, url, limit, sink)
                content_type = response.headers.get("Content-Type", "text/html")
                return PageFetch("ok", body, content_type, str(response.url), found)

    async def _read_page(self, response: aiohttp.ClientResponse, url: str, limit: int, sink: Sink | None) -> bytes:
        """The body (b"" when it went to the sink), refused when larger than `limit`."""
        too_large = UpstreamError(f"the upstream page {redact(url)} is larger than {limit} bytes", reason="too_large")
        if response.content_length is not None and response.content_length > limit:
            raise too_large
        parts: list[bytes] = []
        total = 0
        try:
            async for chunk in response.content.iter_chunked(1 << 20):
                self._observer.received("page", len(chunk))
                total += len(chunk)
                if total > limit:
                    raise too_large
                if sink is None:
                    parts.append(chunk)
                else:
                    sink.write(chunk)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise _translate(error, url) from None
        return b"".join(parts)

    @asynccontextmanager
    async def open_file(self, url: str) -> AsyncIterator[FileStream]:
        """Stream a distribution file exactly as stored: no content decoding, whatever the upstream claims. An
        UpstreamError raised in the caller's block (a digest mismatch, say) counts as this file's failure."""
        headers = {"Accept-Encoding": "identity", "User-Agent": USER_AGENT}
        with self._failures_counted("file"):
            async with self._request(url, headers, "file", decompress=False) as response:
                if response.status in (404, 410):
                    raise UpstreamError(
                        f"the upstream no longer has {redact(url)} ({response.status})", reason="status"
                    )
                _raise_for_status(response, url)
                last_modified = _http_date(response.headers.get("Last-Modified"))
                yield FileStream(response, url, response.content_length, last_modified, self._observer, self.pace)

    @contextmanager
    def _failures_counted(self, kind: str) -> Iterator[None]:
        try:
            yield
        except UpstreamError as error:
            self._observer.failed(kind, error.reason)
            raise

    @asynccontextmanager
    async def _request(
        self, url: str, headers: dict[str, str], kind: str, decompress: bool = True
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The response once its headers arrived, redirects followed (each target checked as the first one was).
        Only the request's own failures become UpstreamError here: what the caller's block raises (a digest
        mismatch, a full disk) passes through as it is."""
        session = await self._sessions.get(self._trusted.everything)
        for _ in range(MAX_REDIRECTS + 1):
            if (reason := refuse_url(url, self._trusted)) is not None:
                raise UpstreamError(f"refusing to fetch {redact(url)}: {reason}", reason="refused")
            try:
                response = await session.get(
                    url,
                    headers=headers | self._auth_for(url),
                    timeout=self._timeout,
                    auto_decompress=decompress,
                    allow_redirects=False,
                    proxy=self._sessions.proxy_for(url),
                )
            except (TimeoutError, aiohttp.ClientError, ValueError) as error:  # ValueError: a URL aiohttp refuses
                raise _translate(error, url) from None
            self._observer.answered(kind, response.status)
            location = response.headers.get("Location")
            if response.status in _REDIRECTS and location:
                response.release()
                url = urljoin(str(response.url), location)
                continue
            try:
                yield response
            finally:
                response.release()
            return
        raise UpstreamError(f"more than {MAX_REDIRECTS} redirects for {redact(url)}", reason="redirects")


class SessionHolder:
    """One aiohttp session per event loop (per worker), created on first use.

    Proxy settings come from the environment (HTTP(S)_PROXY, NO_PROXY), read once: aiohttp's trust_env would
    also read ~/.netrc on every request, two blocking file reads per upstream request.
    """

    def __init__(self, trusted: TrustedHosts | None = None) -> None:
        """`trusted`: the hosts whose names may resolve to private addresses (every index's upstream and
        file_hosts; HTTP proxies from the environment are added). An index that trusts every host ("*") gets a
        session of its own, so that it does not open the others' guard."""
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        self._proxies = {scheme: url for scheme, url in getproxies().items() if scheme in ("http", "https")}
        self._proxy_of: dict[tuple[str, str], str | None] = {}
        proxy_hosts = [urlsplit(url).hostname or "" for url in self._proxies.values()]
        given = trusted or TrustedHosts()
        self._trusted = TrustedHosts(given.names, given.networks) | TrustedHosts.of(proxy_hosts)

    async def get(self, every_host: bool = False) -> aiohttp.ClientSession:
        """The session of the indexes that trust the named hosts only, or of those that trust every host."""
        session = self._sessions.get(every_host)
        if session is None or session.closed:
            trusted = TrustedHosts(everything=True) if every_host else self._trusted
            connector = aiohttp.TCPConnector(
                limit=256, limit_per_host=64, ttl_dns_cache=300, resolver=_GuardedResolver(trusted)
            )
            session = self._sessions[every_host] = aiohttp.ClientSession(connector=connector, trust_env=False)
        return session

    def proxy_for(self, url: str) -> str | None:
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc.rpartition("@")[2])
        if key not in self._proxy_of:
            proxy = self._proxies.get(parts.scheme)
            self._proxy_of[key] = None if proxy is None or proxy_bypass(key[1]) else proxy
        return self._proxy_of[key]

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()


class _GuardedResolver(AbstractResolver):
    """Resolves names as aiohttp does, but a name that is not trusted may only lead to public addresses: checked
    here, where the connection's address is chosen, so that no name can be pointed elsewhere after a check."""

    def __init__(self, trusted: TrustedHosts) -> None:
        self._resolver = DefaultResolver()
        self._trusted = trusted

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        found = await self._resolver.resolve(host, port, family)
        if self._trusted.trusts_name(host):
            return found
        public = [entry for entry in found if self._trusted.allows_address(entry["host"])]
        if not public:
            # With an errno, aiohttp keeps the sentence (strerror) for the message the client gets.
            raise OSError(errno.EACCES, f"{host} has only private or local addresses (trust it with file_hosts)")
        return public

    async def close(self) -> None:
        await self._resolver.close()


def _raise_for_status(response: aiohttp.ClientResponse, url: str) -> None:
    if response.status >= 400 or response.status < 200:
        reason = f"{response.status} {response.reason or ''}".strip()
        raise UpstreamError(f"the upstream answered {reason} for {redact(url)}", reason="status")


def _translate(error: BaseException, url: str) -> UpstreamError:
    where = redact(url)
    if isinstance(error, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamError(f"the upstream did not answer in time for {where}", 504, "timeout")
    if isinstance(error, aiohttp.ClientConnectorError):
        message = f"cannot connect to the upstream for {where}: {error.os_error.strerror or error}"
        return UpstreamError(message, reason="connect")
    if isinstance(error, aiohttp.ClientPayloadError):
        return UpstreamError(f"the upstream broke off the transfer of {where}", reason="broken")
    return UpstreamError(f"the upstream failed for {where}: {type(error).__name__}")


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
