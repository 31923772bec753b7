"""What search learns of a proxy's project from the core metadata of a file a client fetched (domain/search.py)."""

from __future__ import annotations

import pytest

from rennet.domain.search import MAX_SUMMARY, Described, described_release


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (
            b"Metadata-Version: 2.1\nName: a\nVersion: 1.0\nSummary: Short  and\n  folded\n\nSummary: body",
            ("1.0", "Short and folded"),
        ),
        (b"Metadata-Version: 2.1\r\nName: a\r\nVersion: 2.0\r\nSummary: caf\xc3\xa9\r\n\r\n", ("2.0", "caf\u00e9")),
        (b"Name: a\nVersion: not a version\nSummary: x\n", None),
        (b"Name: a\nVersion: 1.0\nSummary:   \n", None),
        (b"Name: a\nVersion: 1.0\n", None),
        (b"\xff\xfe garbage", None),
    ],
)
def test_what_search_learns_from_core_metadata(metadata: bytes, expected: tuple[str, str] | None) -> None:
    described = described_release(metadata)
    assert (None if described is None else (described.version, described.summary)) == expected
    assert described_release(b"Version: 1.0\nSummary: " + b"x" * 10_000 + b"\n") == Described(
        "1.0", "x" * MAX_SUMMARY
    )
