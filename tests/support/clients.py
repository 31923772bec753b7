"""Many clients at once, with httpx.AsyncClient: each gets its own connection."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Outcome:
    status: int | None
    body: bytes
    error: str | None = None


async def _fetch(url: str, headers: dict[str, str], timeout: float) -> Outcome:
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        try:
            response = await client.get(url, headers=headers)
        except httpx.HTTPError as error:
            return Outcome(None, b"", f"{type(error).__name__}: {error}")
        return Outcome(response.status_code, response.content)


async def _fetch_all(urls: list[str], headers: dict[str, str], timeout: float) -> list[Outcome]:
    return list(await asyncio.gather(*(_fetch(url, headers, timeout) for url in urls)))


def fetch_concurrently(
    url: str, count: int, headers: dict[str, str] | None = None, timeout: float = 60.0
) -> list[Outcome]:
    """GET url from `count` clients at the same moment; failures are outcomes, not exceptions."""
    return asyncio.run(_fetch_all([url] * count, headers or {}, timeout))


def fetch_once(url: str, headers: dict[str, str] | None = None, timeout: float = 30.0) -> Outcome:
    """One GET whose failure (a broken-off body, a reset) is an outcome to check, not an exception."""
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as error:
        return Outcome(None, b"", f"{type(error).__name__}: {error}")
    return Outcome(response.status_code, response.content)
