"""Fixtures of the service tier: the index services of one worker, in-process, against a fake upstream.

A module's tests share one catalog (per database kind: a fresh PostgreSQL database costs a second to create) and
one fake upstream, so each test uses project names of its own. Each test gets its own data directory (blobs,
change counters, rendered lists) and its own workers; faults it set on the upstream are cleared after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from rennet.storage.database import connect, migrate
from tests.support.services import Services
from tests.support.upstream import FakeUpstream


class Catalogs(Protocol):
    """What these fixtures use of tests.support.databases.Database (the `database` fixture)."""

    def new_url(self) -> str | None: ...


@pytest.fixture(scope="module")
def service_catalog(database: Catalogs, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated catalog for the module's tests (on the module's database kind)."""
    directory = tmp_path_factory.mktemp("catalog")
    url = database.new_url() or f"sqlite:///{directory / 'rennet.sqlite3'}"
    engine = connect(url)
    try:
        migrate(engine, directory / "migrate.lock")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def service_upstream(database: Catalogs) -> Iterator[FakeUpstream]:
    """The module's fake upstream (one per database kind, so that request counts start from zero)."""
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def services(tmp_path: Path, service_catalog: str, service_upstream: FakeUpstream) -> Iterator[Services]:
    yield Services(tmp_path / "data", service_catalog, service_upstream, migrated=True)
    service_upstream.faults.clear()
