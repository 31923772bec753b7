from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.server import RennetServer
from tests.support.upstream import FakeUpstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def module_upstream() -> Iterator[FakeUpstream]:
    """One fake upstream for all the tests of a module (they use project names of their own)."""
    fake = FakeUpstream().start()
    yield fake
    fake.stop()


@pytest.fixture
def rennet_factory(tmp_path: Path) -> Iterator[Callable[..., RennetServer]]:
    servers: list[RennetServer] = []

    def make(**options: object) -> RennetServer:
        server = RennetServer(tmp_path / f"data{len(servers)}", **options)  # type: ignore[arg-type]
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def rennet(rennet_factory: Callable[..., RennetServer], upstream: FakeUpstream) -> RennetServer:
    return rennet_factory(upstream_url=upstream.url)
