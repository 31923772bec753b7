"""Fixtures of the e2e tier. `rennet` is a real `rennet serve` here (the other tiers' is in-process)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.server import RennetServer
from tests.support.upstream import FakeUpstream


@pytest.fixture
def rennet(process_factory: Callable[..., RennetServer], upstream: FakeUpstream) -> RennetServer:
    """A real `rennet serve`, as pip and uv meet it."""
    return process_factory(upstream_url=upstream.url)
