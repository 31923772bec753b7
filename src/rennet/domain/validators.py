"""What an upstream said to identify a page's version, for the next conditional request (ETag, Last-Modified).

A plain value, shared by the catalog that keeps it and the upstream client that sends and receives it: neither
edge depends on the other.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UpstreamValidators"]


@dataclass(frozen=True, slots=True)
class UpstreamValidators:
    etag: str | None = None
    last_modified: str | None = None
