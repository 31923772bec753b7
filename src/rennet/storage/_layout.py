"""Where a blob lives: the same name under a host's blobs/ and in a bucket, below its prefix."""

from __future__ import annotations

import re

_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_sha256(value: str) -> bool:
    # fullmatch: `$` would accept a trailing newline, and the name becomes a path.
    return _SHA256.fullmatch(value) is not None


def blob_name(sha256: str) -> str:
    """`ab/cd/abcd...`: the blob's path under blobs/, and its key in a bucket."""
    if not is_sha256(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256[:80]!r}")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
