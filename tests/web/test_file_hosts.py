"""A page decides what a proxy fetches, not where: files only from the upstream's host, trusted hosts (file_hosts)
or over https from public addresses; never from another private address, also not by a redirect."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rennet.config import InvalidConfig, load_settings
from tests.support.dists import make_wheel
from tests.support.server import LocalServer, proxy_config
from tests.support.upstream import FakeUpstream


@pytest.fixture
def elsewhere() -> Iterator[FakeUpstream]:
    """Another host on the machine's network (a second loopback address): what an internal service looks like."""
    fake = FakeUpstream(address="127.0.0.2").start()
    yield fake
    fake.stop()


def test_a_file_at_another_private_address_is_refused(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream, elsewhere: FakeUpstream
) -> None:
    wheel = make_wheel("pointed", "1.0")
    upstream.add(wheel)
    elsewhere.add(wheel)
    upstream.files_base = f"http://127.0.0.2:{elsewhere.port}/files/"
    server = rennet_factory(upstream_url=upstream.url)
    assert server.get("/pypi/simple/pointed/").status_code == 200
    response = server.get(f"/pypi/files/pointed/{wheel.filename}")
    assert response.status_code == 502, response.text
    assert "refusing to fetch http://127.0.0.2" in response.text
    assert "private or local address" in response.text
    assert elsewhere.count("/files/") == 0
    assert server.blobs() == set()


def test_file_hosts_trusts_another_host(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream, elsewhere: FakeUpstream
) -> None:
    wheel = make_wheel("pointed", "1.0")
    upstream.add(wheel)
    elsewhere.add(wheel)
    upstream.files_base = f"http://127.0.0.2:{elsewhere.port}/files/"
    config = proxy_config(upstream=upstream.url) + 'file_hosts = ["127.0.0.2"]\n'
    server = rennet_factory(config=config)
    response = server.get(f"/pypi/files/pointed/{wheel.filename}")
    assert response.status_code == 200, response.text
    assert response.content == wheel.data
    assert elsewhere.count("/files/") == 1


def test_a_proxy_that_trusts_every_host_leaves_the_others_guarded(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream, elsewhere: FakeUpstream
) -> None:
    """As the built-in pypi proxy does while its upstream is PyPI's: file_hosts = ["*"]. Another proxy in the
    same server (upstreams at 127.0.0.2 and 127.0.0.3) still refuses "localhost", a name of 127.0.0.1."""
    wheel = make_wheel("named", "1.0")
    elsewhere.add(wheel)
    elsewhere.files_base = f"https://localhost:{upstream.port}/files/"
    strict = FakeUpstream(address="127.0.0.3").start()
    try:
        strict.add(wheel)
        strict.files_base = f"https://localhost:{upstream.port}/files/"
        config = proxy_config(upstream=elsewhere.url) + 'file_hosts = ["*"]\n'
        config += proxy_config("strict", upstream=strict.url)
        server = rennet_factory(config=config)
        open_answer = server.get(f"/pypi/files/named/{wheel.filename}")
        strict_answer = server.get(f"/strict/files/named/{wheel.filename}")
    finally:
        strict.stop()
    # Trusted: rennet connects to localhost, a plain http server, so the https request fails there, not before.
    assert open_answer.status_code == 502, open_answer.text
    assert "private or local" not in open_answer.text
    assert strict_answer.status_code == 502, strict_answer.text
    assert "localhost has only private or local addresses" in strict_answer.text


def test_a_name_that_resolves_to_a_private_address_is_refused(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream, elsewhere: FakeUpstream
) -> None:
    """The upstream lives at 127.0.0.2; "localhost" (127.0.0.1, another host for all rennet knows) is refused
    where the name is resolved, although its URL is https."""
    wheel = make_wheel("named", "1.0")
    elsewhere.add(wheel)
    elsewhere.files_base = f"https://localhost:{upstream.port}/files/"
    server = rennet_factory(upstream_url=elsewhere.url)
    response = server.get(f"/pypi/files/named/{wheel.filename}")
    assert response.status_code == 502, response.text
    assert "localhost has only private or local addresses" in response.text
    assert upstream.count("/files/") == 0


def test_a_redirect_to_a_private_address_is_refused(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream, elsewhere: FakeUpstream
) -> None:
    wheel = make_wheel("bounced", "1.0")
    upstream.add(wheel)
    elsewhere.add(wheel)
    upstream.redirects[f"/files/{wheel.filename}"] = f"http://127.0.0.2:{elsewhere.port}/files/{wheel.filename}"
    server = rennet_factory(upstream_url=upstream.url)
    response = server.get(f"/pypi/files/bounced/{wheel.filename}")
    assert response.status_code == 502, response.text
    assert "refusing to fetch http://127.0.0.2" in response.text
    assert elsewhere.count("/files/") == 0


def test_a_bad_file_hosts_entry_is_refused_at_start(tmp_path: Path) -> None:
    config = tmp_path / "rennet.toml"
    config.write_text('[index.pypi]\nfile_hosts = ["http://x"]\n')
    with pytest.raises(InvalidConfig, match=r"index\.pypi\.file_hosts: 'http://x' is neither a host name"):
        load_settings(env={}, config_file=config)
