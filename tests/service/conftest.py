"""Fixtures of the service tier: the index services of one worker, in-process, against a fake upstream.

A module's tests share one catalog (per database kind: a fresh PostgreSQL database costs a second to create) and
one fake upstream (`module_upstream`), so each test uses project names of its own. Each test gets its own data
directory (blobs, change counters, rendered lists) and its own workers; faults it set on the upstream are cleared
after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from rennet.storage.database import connect, migrate
from tests.support.databases import Database
from tests.support.postgres import PostgresServer
from tests.support.services import Services
from tests.support.upstream import FakeUpstream


@pytest.fixture(scope="module")
def service_catalog(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated catalog for the module's tests (on the module's database kind), given back after them."""
    directory = tmp_path_factory.mktemp("catalog")
    with database.catalog(directory) as url:
        engine = connect(url)
        try:
            migrate(engine, directory / "migrate.lock")
        finally:
            engine.dispose()
        yield url


@pytest.fixture
def services(tmp_path: Path, service_catalog: str, module_upstream: FakeUpstream) -> Iterator[Services]:
    yield Services(tmp_path / "data", service_catalog, module_upstream, migrated=True)
    module_upstream.faults.clear()


@pytest.fixture
def engine(catalog_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a migrated catalog of the test's own (on the module's database kind)."""
    engine = connect(catalog_url)
    migrate(engine, tmp_path / "migrate.lock")
    yield engine
    engine.dispose()


@pytest.fixture(params=["psycopg", "psycopg2"])
def postgres_engine(
    request: pytest.FixtureRequest, postgres_server: PostgresServer, tmp_path: Path
) -> Iterator[Engine]:
    """A migrated PostgreSQL catalog of the test's own, on each driver: for what only PostgreSQL has."""
    with Database(request.param, postgres_server).catalog(tmp_path) as url:
        engine = connect(url)
        migrate(engine, tmp_path / "migrate.lock")
        yield engine
        engine.dispose()
