"""The catalog's search index of project names and summaries: SQLite's FTS5 or PostgreSQL's full-text search.

Both keep a table `project_search` keyed by the project's id (migration 0010): an FTS5 table whose rowid is the
id on SQLite, a tsvector with a GIN index on PostgreSQL. The catalog writes it in the transactions that create,
describe and delete projects (index_projects, forget_projects): nothing rebuilds it later.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, text

from rennet.domain.search import SearchHit, SearchQuery, name_words

__all__ = ["find_projects", "forget_projects", "index_projects"]

# The name weighs ten times the summary in SQLite's bm25 (PostgreSQL: weights A and B of ts_rank).
_NAME_WEIGHT = 10.0

_SQLITE_FORGET = text("DELETE FROM project_search WHERE rowid IN :ids").bindparams(bindparam("ids", expanding=True))
_SQLITE_ADD = text("INSERT INTO project_search (rowid, words, summary) VALUES (:id, :words, :summary)")
_POSTGRES_FORGET = text("DELETE FROM project_search WHERE project_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_POSTGRES_ADD = text(
    "INSERT INTO project_search (project_id, document) VALUES (:id, "
    "setweight(to_tsvector('simple', :words), 'A') || setweight(to_tsvector('simple', :summary), 'B')) "
    "ON CONFLICT (project_id) DO UPDATE SET document = excluded.document"
)

# Ranking costs microseconds per match (bm25, ts_rank): a query that matches more projects than this (one or
# two letters, a word in every other summary) lists them unranked instead, after the names that start with it.
# At 100,000 projects every query then answers within 50 ms on either database (bench/search.py).
RANKED_MATCHES = 5000

_NAMES_STARTING_WITH = """
SELECT index_name, name, display_name, summary FROM projects
WHERE index_name IN :indexes AND name >= :name AND name < :after AND NOT missing
ORDER BY length(name), name, index_name
LIMIT :limit
"""
_SQLITE_MATCHES = "SELECT count(*) FROM project_search WHERE project_search MATCH :match"
_SQLITE_FIND = """
SELECT p.index_name, p.name, p.display_name, p.summary
FROM project_search JOIN projects AS p ON p.id = project_search.rowid
WHERE project_search MATCH :match AND NOT p.missing AND p.index_name IN :indexes
{order}
LIMIT :limit
"""
_POSTGRES_MATCHES = "SELECT count(*) FROM project_search WHERE document @@ to_tsquery('simple', :match)"
_POSTGRES_FIND = """
SELECT p.index_name, p.name, p.display_name, p.summary
FROM project_search AS s JOIN projects AS p ON p.id = s.project_id, to_tsquery('simple', :match) AS q
WHERE s.document @@ q AND NOT p.missing AND p.index_name IN :indexes
{order}
LIMIT :limit
"""
_SQLITE_RANK = f"ORDER BY bm25(project_search, {_NAME_WEIGHT}, 1.0), p.name, p.index_name"
_POSTGRES_RANK = (
    f"ORDER BY ts_rank(CAST('{{0.1, 0.2, {1.0 / _NAME_WEIGHT}, 1.0}}' AS real[]), s.document, q) DESC, "
    "p.name, p.index_name"
)


def index_projects(conn: Connection, projects: Iterable[tuple[int, str, str | None]]) -> None:
    """(Re)index projects as (id, normalized name, summary), in the caller's transaction."""
    rows = [{"id": id_, "words": name_words(name), "summary": summary or ""} for id_, name, summary in projects]
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(_POSTGRES_ADD, rows)
        return
    # FTS5 has no upsert: the old row goes first (deleting a rowid that is not there is no error).
    conn.execute(_SQLITE_FORGET, {"ids": [row["id"] for row in rows]})
    conn.execute(_SQLITE_ADD, rows)


def forget_projects(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(_POSTGRES_FORGET if conn.dialect.name == "postgresql" else _SQLITE_FORGET, {"ids": list(ids)})


def find_projects(conn: Connection, query: SearchQuery, indexes: Sequence[str], limit: int) -> list[SearchHit]:
    """The best `limit` hits of the query among the projects of `indexes` (never those an upstream lacks): names
    that start with the query (the shortest first, so the exact name leads), then the other matches of its
    words, by relevance unless there are too many to rank."""
    if not query or not indexes:
        return []
    # Normalized names are made of a-z, 0-9 and "-": every name that starts with the query sorts below this.
    starting = {"indexes": list(indexes), "name": query.name, "after": query.name + "~", "limit": limit}
    hits = _hits(conn.execute(text(_NAMES_STARTING_WITH).bindparams(bindparam("indexes", expanding=True)), starting))
    if len(hits) >= limit:
        return hits
    if conn.dialect.name == "postgresql":
        statement, count, rank = _POSTGRES_FIND, _POSTGRES_MATCHES, _POSTGRES_RANK
        match = " & ".join(f"{term}:*" for term in query.terms)
    else:
        statement, count, rank = _SQLITE_FIND, _SQLITE_MATCHES, _SQLITE_RANK
        match = " ".join(f'"{term}"*' for term in query.terms)
    ranked = conn.execute(text(count), {"match": match}).scalar_one() <= RANKED_MATCHES
    matching = text(statement.format(order=rank if ranked else "")).bindparams(bindparam("indexes", expanding=True))
    seen = {(hit.index, hit.name) for hit in hits}
    more = _hits(conn.execute(matching, {"match": match, "indexes": list(indexes), "limit": limit + len(hits)}))
    hits += [hit for hit in more if (hit.index, hit.name) not in seen]
    return hits[:limit]


def _hits(rows: Iterable[Any]) -> list[SearchHit]:
    return [SearchHit(row.index_name, row.name, row.display_name, row.summary) for row in rows]
