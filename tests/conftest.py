"""Fixtures every tier shares: fake upstreams, the catalog databases, and rennet servers.

The tiers are folders: tests/unit (pure code), tests/service (services and storage in-process, against fake
upstreams and real databases), tests/web (the application over HTTP, in-process: LocalServer) and tests/e2e (real
`rennet serve` processes and real clients: pip, uv, twine, poetry, pdm, nginx). Everything under tests/e2e is
marked `e2e`; `./scripts/test --quick` leaves it out.

Tests that start a server (or otherwise use the `database` fixture) run once on SQLite and once on PostgreSQL
(psycopg 3); those marked `drivers` once more on psycopg2. The tests start PostgreSQL themselves (Debian's
server, a throwaway cluster on loopback); `--postgres=URL` uses an existing server instead, `--postgres=off`
leaves the PostgreSQL runs out (they are reported as deselected, never as passed).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.databases import SQLITE, Database
from tests.support.postgres import PostgresServer
from tests.support.s3 import S3Server
from tests.support.server import LocalServer, RennetServer
from tests.support.upstream import FakeUpstream

CATALOGS = (SQLITE, "psycopg")
DRIVERS = (SQLITE, "psycopg", "psycopg2")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--postgres",
        default="start",
        metavar="start|off|URL",
        help="PostgreSQL for the catalog tests: start a throwaway server (default, needs Debian's postgresql), "
        "use the server at URL (a superuser that may create databases), or off (SQLite only)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "drivers: run on SQLite, psycopg 3 and psycopg2 (not only SQLite and psycopg 3)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        kinds = DRIVERS if metafunc.definition.get_closest_marker("drivers") else CATALOGS
        metafunc.parametrize("database", kinds, indirect=True, scope="module")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    end_to_end = Path(__file__).parent / "e2e"
    for item in items:
        if end_to_end in item.path.parents:
            item.add_marker(pytest.mark.e2e)
    if config.getoption("--postgres") != "off":
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        params = getattr(item, "callspec", None)
        on_postgres = params is not None and params.params.get("database", SQLITE) != SQLITE
        (dropped if on_postgres else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def one_tls_context() -> Iterator[None]:
    """httpx builds a TLS context (reading the CA bundle) for every client, also for every httpx.get(): 30-80 ms
    each, more than most requests of a test. The tests talk plain HTTP on loopback: one context serves them all."""
    from httpx._transports import default

    build = getattr(default, "create_ssl_context")  # noqa: B009 - not in the module's __all__
    cached = functools.lru_cache(maxsize=8)(build)

    def create(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if isinstance(verify, bool) and cert is None:
            return cached(verify=verify, trust_env=trust_env)
        return build(verify=verify, cert=cert, trust_env=trust_env)

    setattr(default, "create_ssl_context", create)  # noqa: B010
    yield
    setattr(default, "create_ssl_context", build)  # noqa: B010


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    choice = request.config.getoption("--postgres")
    if choice not in ("start", "off"):
        yield PostgresServer(choice)
        return
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("s3")).start()
    yield server
    server.stop()


@pytest.fixture
def blob_store(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """`s3://BUCKET/blobs` on a bucket of this test's own, with the AWS variables that reach it set."""
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_server.new_bucket()}/blobs"


@pytest.fixture(scope="module")
def database(request: pytest.FixtureRequest) -> Database:
    kind: str = request.param
    if kind == SQLITE:
        return Database(SQLITE)
    return Database(kind, request.getfixturevalue("postgres_server"))


@pytest.fixture
def catalog_url(database: Database, tmp_path: Path) -> Iterator[str]:
    """A catalog of the test's own, for code that connects to it itself (not through a server): a migrated
    PostgreSQL database, given back after the test, or a new SQLite file in tmp_path (see Database.catalog)."""
    with database.catalog(tmp_path) as url:
        yield url


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def module_upstream(database: Database) -> Iterator[FakeUpstream]:
    """One fake upstream for all the tests of a module (they use project names of their own), one per catalog:
    what tests count of its requests are the requests of their own run."""
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


S = TypeVar("S", LocalServer, RennetServer)


@contextlib.contextmanager
def _servers(kind: type[S], base: Path, database: Database) -> Iterator[Callable[..., S]]:
    """A function that starts servers of `kind`, each with its own data directory and catalog; all stopped (and
    their PostgreSQL databases emptied for the next test) at the end."""
    servers: list[S] = []

    def make(**options: Any) -> S:
        options.setdefault("database_url", database.new_url())
        server = kind(base.with_name(f"{base.name}{len(servers)}"), **options)
        servers.append(server)
        server.start()
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()
            database.release(server.database_url)


@pytest.fixture
def rennet_factory(tmp_path: Path, database: Database) -> Iterator[Callable[..., LocalServer]]:
    """Start in-process servers (each with its own data directory and database); all stopped at the end."""
    with _servers(LocalServer, tmp_path / "data", database) as make:
        yield make


@pytest.fixture
def process_factory(tmp_path: Path, database: Database) -> Iterator[Callable[..., RennetServer]]:
    """Start real `rennet serve` processes; all stopped at the end."""
    with _servers(RennetServer, tmp_path / "process", database) as make:
        yield make


@pytest.fixture
def rennet(rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream) -> LocalServer:
    return rennet_factory(upstream_url=upstream.url)
