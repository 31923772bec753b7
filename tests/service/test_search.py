"""Search in the catalog, on SQLite (FTS5) and PostgreSQL (full-text search): prefix matches over names and
summaries, the ranking, the index kept by the catalog's own writes, and the read rules of private indexes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

import rennet.storage.database
from rennet.domain.access import Identity
from rennet.domain.files import ProjectPage
from rennet.domain.indexes import GroupIndex, HostedIndex, ProxyIndex
from rennet.domain.search import Described, parse_query
from rennet.domain.validators import UpstreamValidators
from rennet.service.search import readable_sources
from rennet.storage.catalog import Catalog
from rennet.storage.database import connect, migrate
from rennet.storage.maintenance import CatalogMaintenance
from tests.support.databases import Database
from tests.support.store import hosted_upload


@pytest.fixture
def catalog(engine: Engine) -> Catalog:
    return Catalog(engine)


def upload(catalog: Catalog, index: str, name: str, version: str = "1.0", summary: str | None = None) -> None:
    filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    catalog.add_hosted_file(index, name, name, replace(hosted_upload(filename), version=version, summary=summary))


def cache(catalog: Catalog, index: str, name: str) -> None:
    """What a proxy stores when it fetched a page: the project, without a summary."""
    catalog.store_upstream_page(index, name, ProjectPage(name, ()), UpstreamValidators(), 1000.0)  # type: ignore[arg-type]


def found(catalog: Catalog, query: str, indexes: tuple[str, ...] = ("local", "pypi")) -> list[tuple[str, str]]:
    return [(hit.index, hit.name) for hit in catalog.search(parse_query(query), indexes, 20)]


def test_words_of_names_and_summaries_are_found_by_their_beginning(catalog: Catalog) -> None:
    upload(catalog, "local", "acme-widgets", summary="Widgets for the Acme intranet")
    cache(catalog, "pypi", "zope-interface")
    assert found(catalog, "acme") == [("local", "acme-widgets")]
    assert found(catalog, "wid") == [("local", "acme-widgets")]
    assert found(catalog, "intra") == [("local", "acme-widgets")]  # from the summary
    assert found(catalog, "INTERFACE") == [("pypi", "zope-interface")]
    assert found(catalog, "zope.interface") == [("pypi", "zope-interface")]
    assert found(catalog, "acme zope") == []  # every word must match
    assert found(catalog, "widgetsx") == []


def test_exact_names_come_first_then_names_that_start_with_the_query_then_the_rest(catalog: Catalog) -> None:
    upload(catalog, "local", "requests-toolbelt", summary="utilities for requests")
    upload(catalog, "local", "httpie", summary="a tool that sends requests")
    upload(catalog, "local", "my-requests", summary="requests, requests, requests")
    cache(catalog, "pypi", "requests")
    assert found(catalog, "requests") == [
        ("pypi", "requests"),
        ("local", "requests-toolbelt"),
        ("local", "my-requests"),  # the name matches: above a summary that does
        ("local", "httpie"),
    ]


def test_a_project_in_two_indexes_is_found_in_each(catalog: Catalog) -> None:
    upload(catalog, "local", "shared")
    cache(catalog, "pypi", "shared")
    assert sorted(found(catalog, "shared")) == [("local", "shared"), ("pypi", "shared")]
    assert found(catalog, "shared", ("pypi",)) == [("pypi", "shared")]  # only the indexes asked


def test_the_summary_is_the_newest_release_s(catalog: Catalog) -> None:
    upload(catalog, "local", "versioned", "2.0", summary="the second")
    upload(catalog, "local", "versioned", "1.5", summary="an older fix")  # uploaded later, but older
    assert found(catalog, "second") == [("local", "versioned")]
    assert found(catalog, "older") == []
    upload(catalog, "local", "versioned", "3.0rc1", summary="the third")
    assert found(catalog, "second") == []
    record = catalog.project("local", "versioned")
    assert record is not None and record.summary == "the third"


def test_a_proxy_project_s_summary_is_indexed_when_learned(catalog: Catalog) -> None:
    cache(catalog, "pypi", "numpy")
    assert found(catalog, "array") == []
    described = Described("2.0", "Fundamental package for array computing")
    assert catalog.learn_summary("pypi", "numpy", described) is True
    assert catalog.learn_summary("pypi", "numpy", described) is False
    assert found(catalog, "array comp") == [("pypi", "numpy")]
    assert catalog.learn_summary("pypi", "nothing-here", described) is False


def test_a_proxy_project_is_described_by_the_newest_release_seen(catalog: Catalog) -> None:
    """Clients fetch old releases too: their metadata must not replace the summary of a newer one."""
    cache(catalog, "pypi", "evolving")
    assert catalog.learn_summary("pypi", "evolving", Described("2.0", "the second")) is True
    assert catalog.learn_summary("pypi", "evolving", Described("1.9", "an older fix")) is False
    assert catalog.learn_summary("pypi", "evolving", Described("10.0rc1", "the tenth")) is True
    assert found(catalog, "second") == [] and found(catalog, "tenth") == [("pypi", "evolving")]
    record = catalog.project("pypi", "evolving")
    assert record is not None and record.summary == "the tenth"


def test_deleted_projects_and_missing_ones_are_not_found(catalog: Catalog, engine: Engine) -> None:
    upload(catalog, "local", "short-lived", summary="soon gone")
    catalog.delete_project("local", "short-lived")
    assert found(catalog, "short") == []
    assert found(catalog, "gone") == []
    catalog.store_missing("pypi", "never-there", 1000.0)  # the upstream has no such project
    assert found(catalog, "never") == []
    assert CatalogMaintenance(engine).drop_missing("pypi", confirmed_before=2000.0) == 1
    upload(catalog, "local", "short-lived", summary="back again")  # a new row: the index has only its words
    assert found(catalog, "short") == [("local", "short-lived")]
    assert found(catalog, "soon") == []
    assert _rows_in_index(engine) == 1  # the missing project's and the deleted one's entries are gone


def _rows_in_index(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM project_search")).scalar_one())


@pytest.mark.parametrize(
    "query", ['"', "*", "a:*", "x & y | !z", "'; DROP TABLE projects; --", "(a", "NEAR(a b)", "é"]
)
def test_query_syntax_of_either_database_is_only_text(catalog: Catalog, query: str) -> None:
    upload(catalog, "local", "drop-table", summary="NEAR the end")
    found(catalog, query)  # no error, whatever the database's own query language makes of these characters
    assert found(catalog, "drop") == [("local", "drop-table")]


def test_empty_queries_find_nothing(catalog: Catalog) -> None:
    upload(catalog, "local", "anything")
    assert found(catalog, "") == found(catalog, " -_. ") == []


def test_private_indexes_are_searched_for_their_readers_only(catalog: Catalog) -> None:
    upload(catalog, "secret", "acme-internal", summary="acme's own")
    upload(catalog, "local", "acme-public")
    indexes = (
        HostedIndex(name="local"),
        HostedIndex(name="secret", private=True, readers=frozenset({"bob"})),
        ProxyIndex(name="pypi", upstream="http://upstream.test/simple/"),
        GroupIndex(name="default", members=("local", "secret", "pypi"), private=True),
    )

    def hits(identity: Identity | None) -> list[str]:
        sources = readable_sources(indexes, identity)
        return sorted(f"{h.index}/{h.name}" for h in catalog.search(parse_query("acme"), sources, 10))

    assert readable_sources(indexes, None) == ["local", "pypi"]  # groups hold nothing of their own
    assert hits(None) == ["local/acme-public"]
    assert hits(Identity("carol")) == ["local/acme-public"]
    assert hits(Identity("bob")) == ["local/acme-public", "secret/acme-internal"]
    assert hits(Identity("admin", admin=True)) == ["local/acme-public", "secret/acme-internal"]
    assert hits(Identity("bob", token_index="local")) == ["local/acme-public"]  # a token for another index


def test_projects_there_before_the_search_index_are_found_after_the_upgrade(
    database: Database, tmp_path: Path
) -> None:
    with database.empty_catalog(tmp_path) as url:
        engine = connect(url)
        try:
            config = Config()
            config.set_main_option(
                "script_location", str(Path(rennet.storage.database.__file__).parent / "migrations")
            )
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "0009")
                connection.execute(
                    text(
                        "INSERT INTO projects (index_name, name, display_name, missing, serial, created_at) "
                        "VALUES ('local', 'old-timer', 'Old-Timer', false, 0, 1.0)"
                    )
                )
            migrate(engine, tmp_path / "migrate.lock")
            assert found(Catalog(engine), "timer") == [("local", "old-timer")]
        finally:
            engine.dispose()
