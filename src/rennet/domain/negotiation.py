"""Content negotiation for the Simple API (PEP 691), the way PyPI does it.

Offers are tried in PyPI's order, so that equal preferences (and a missing Accept header, which means */*)
give HTML. When nothing acceptable is offered the answer is HTML too, never 406.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

__all__ = ["Format", "Representation", "negotiate", "representation_for"]

JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
TEXT_HTML = "text/html"


class Format(StrEnum):
    HTML = "html"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Representation:
    format: Format
    content_type: str


_HTML = Representation(Format.HTML, "text/html; charset=utf-8")
_HTML_V1 = Representation(Format.HTML, HTML_V1)
_JSON_V1 = Representation(Format.JSON, JSON_V1)

# (media type a client may ask for, what it gets), in the order that breaks ties.
_OFFERS: tuple[tuple[str, Representation], ...] = (
    (TEXT_HTML, _HTML),
    (HTML_V1, _HTML_V1),
    (JSON_V1, _JSON_V1),
    ("application/vnd.pypi.simple.latest+html", _HTML_V1),
    ("application/vnd.pypi.simple.latest+json", _JSON_V1),
)


@lru_cache(maxsize=512)
def negotiate(accept: str | None) -> Representation:
    """Pick the representation for an Accept header value, honouring q-values."""
    if not accept or not accept.strip():
        return _HTML
    ranges = _parse_accept(accept)
    best: Representation | None = None
    best_q = 0.0
    for media_type, representation in _OFFERS:
        q = _quality(media_type, ranges)
        if q > best_q:
            best, best_q = representation, q
    return best or _HTML


def representation_for(media_type: str) -> Representation | None:
    """The representation named exactly by a media type (used for the ?format= query parameter)."""
    for offered, representation in _OFFERS:
        if offered == media_type.strip().lower():
            return representation
    return None


def _parse_accept(header: str) -> list[tuple[str, str, float]]:
    ranges = []
    for item in header.split(",")[:64]:
        media_range, _, params = item.partition(";")
        main, _, sub = media_range.strip().lower().partition("/")
        if not main or not sub:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append((main, sub.strip(), q))
    return ranges


def _quality(media_type: str, ranges: list[tuple[str, str, float]]) -> float:
    """The q of the most specific range that matches media_type (RFC 9110, 12.5.1)."""
    main, _, sub = media_type.partition("/")
    best_specificity, q = -1, 0.0
    for r_main, r_sub, r_q in ranges:
        if r_main == main and r_sub == sub:
            specificity = 2
        elif r_main == main and r_sub == "*":
            specificity = 1
        elif r_main == "*" and r_sub == "*":
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, q = specificity, r_q
    return q
