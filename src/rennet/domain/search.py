"""Searching projects by name and summary: what a query asks for, and what a hit is (pure rules; the catalog
runs the query on SQLite's FTS5 or PostgreSQL's full-text search).

A query is a few words; every word must start a word of the project's name or summary (prefix matches, so
"djan" finds django). Names are indexed as their words ("zope-interface" as "zope interface"), so each part of a
name is found by its beginning. Hits whose name is the query come first, then names that start with it, then
the rest by the database's relevance score, where the name weighs more than the summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import HeaderParser

from rennet.domain.names import canonical_name, version_or_none

__all__ = [
    "MAX_QUERY_LENGTH",
    "MAX_SUMMARY",
    "Described",
    "SearchHit",
    "SearchQuery",
    "describe",
    "described_release",
    "name_words",
    "parse_query",
]

MAX_QUERY_LENGTH = 200
MAX_SUMMARY = 500  # characters of a summary kept for search: metadata may state any amount
MAX_TERMS = 8
MAX_TERM_LENGTH = 64
_WORD_SEPARATORS = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    terms: tuple[str, ...]  # lower-case words of letters and digits: safe inside either database's query syntax
    name: str  # the query as a normalized project name, for the ranking of exact and prefix matches

    def __bool__(self) -> bool:
        return bool(self.terms)


@dataclass(frozen=True, slots=True)
class SearchHit:
    index: str
    name: str  # normalized
    display_name: str
    summary: str | None


def parse_query(text: str) -> SearchQuery:
    """The words of a query typed by a person; an empty query (no letters or digits) finds nothing. Overlong
    queries are cut rather than refused: a search box should not answer with an error."""
    text = text[:MAX_QUERY_LENGTH]
    terms: list[str] = []
    for word in _WORD_SEPARATORS.split(text.lower()):
        word = word[:MAX_TERM_LENGTH]
        if word and word not in terms:
            terms.append(word)
    return SearchQuery(tuple(terms[:MAX_TERMS]), canonical_name("-".join(terms)) if terms else "")


def name_words(name: str) -> str:
    """What the index holds of a project's name: its words, so that each one is found by its beginning."""
    return " ".join(word for word in _WORD_SEPARATORS.split(name.lower()) if word)


@dataclass(frozen=True, slots=True)
class Described:
    """A release's summary, and the release it describes: a project is described by its newest release."""

    version: str
    summary: str


def described_release(metadata: bytes) -> Described | None:
    """The version and summary that core metadata states (None when it states no valid version or no summary):
    what search learns of a proxy's project from the metadata of a file a client fetched. Only the headers are
    read, not the description below them."""
    headers = metadata.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    message = HeaderParser().parsestr(headers.decode("utf-8", "replace"), headersonly=True)
    version, summary = message.get("Version"), message.get("Summary")
    if not isinstance(version, str) or not isinstance(summary, str) or version_or_none(version.strip()) is None:
        return None
    return describe(version.strip(), summary)


def describe(version: str, summary: str) -> Described | None:
    """The summary as search keeps it (its whitespace runs as one space, at most MAX_SUMMARY characters), for
    that release; None when nothing is left of it."""
    words = " ".join(summary.split())[:MAX_SUMMARY]
    return Described(version, words) if words else None
