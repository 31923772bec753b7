"""HTTP byte ranges (RFC 9110, 14): one range per request, the way uv and poetry ask for wheel metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ByteRange", "Unsatisfiable", "parse_range"]


class Unsatisfiable(ValueError):
    """The range lies outside the file: answer 416 with Content-Range: bytes */size."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single range asked for, or None to send the whole file.

    Malformed headers and multi-range requests are ignored (the whole file is a valid answer to both).
    """
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes":
        return None
    # RFC 9110 DIGIT is ASCII only: str.isdigit() also accepts "²", which int() then refuses.
    match = _RANGE_SPEC.fullmatch(spec.strip())
    if match is None:
        return None
    first, last = match["first"], match["last"]
    if first == "":
        if last == "":
            return None
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(header)
        return ByteRange(max(size - suffix, 0), size - 1)
    if last and _digits_key(last) < _digits_key(first):
        return None
    start = _position(first)
    if start >= size:
        raise Unsatisfiable(header)
    end = min(_position(last), size - 1) if last else size - 1
    return ByteRange(start, end)


_RANGE_SPEC = re.compile(r"(?P<first>[0-9]*)-(?P<last>[0-9]*)")
_BEYOND_ANY_FILE = 1 << 63


def _digits_key(digits: str) -> tuple[int, str]:
    """Orders decimal strings of any length by value without converting them."""
    digits = digits.lstrip("0")
    return len(digits), digits


def _position(digits: str) -> int:
    """A byte position; ones too long for int() (4300 digits) lie beyond any file anyway."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) < 19 else _BEYOND_ANY_FILE
