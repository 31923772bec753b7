"""Bounded caches: max_cache_size evicts least recently sent files, a client being sent an evicted file still gets
every byte, the next request fetches it again (the descriptors behind that: tests/service/test_cache_bound.py)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable

from tests.support.dists import Dist, make_wheel
from tests.support.server import LocalServer
from tests.support.store import blob_path, cli, file_row, query, wait_until, wait_until_held
from tests.support.upstream import FakeUpstream


def url(dist: Dist, index: str = "pypi") -> str:
    return f"/{index}/files/{dist.project}/{dist.filename}"


def fetch(server: LocalServer, dist: Dist, index: str = "pypi") -> None:
    response = server.get(url(dist, index))
    assert response.status_code == 200, response.text
    assert response.content == dist.data
    wait_until_held(server, dist.filename, dist.sha256)


def held_bytes(server: LocalServer, index: str = "pypi") -> int:
    rows = query(
        server,
        "SELECT COALESCE(SUM(f.size), 0) FROM files f JOIN projects p ON f.project_id = p.id "
        "WHERE p.index_name = ? AND f.blob_sha256 IS NOT NULL",
        index,
    )
    return int(rows[0][0])


def is_held(server: LocalServer, dist: Dist) -> bool:
    return file_row(server, dist.filename)["blob_sha256"] is not None


def bounded(rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream, limit: int) -> LocalServer:
    return rennet_factory(upstream_url=upstream.url, config=f"[index.pypi]\nmax_cache_size = {limit}\n")


class SlowClient:
    """A raw HTTP/1.1 GET that reads its body a little at a time, through a small receive buffer."""

    def __init__(self, server: LocalServer, path: str, headers: dict[str, str] | None = None) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        self.sock.settimeout(60)
        self.sock.connect(("127.0.0.1", server.port))
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}Connection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        self.body = bytearray()

    def read(self, count: int) -> None:
        goal = len(self.body) + count
        while len(self.body) < goal and (chunk := self.sock.recv(min(8192, goal - len(self.body)))):
            self.body += chunk

    def finish(self) -> bytes:
        while len(self.body) < int(self.headers["content-length"]):
            before = len(self.body)
            self.read(1 << 20)
            if len(self.body) == before:
                break
        self.sock.close()
        return bytes(self.body)


# -- through a running server ------------------------------------------------------------------------------------------


def test_an_evicted_file_reaches_its_slow_clients_whole(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    big, small = make_wheel("big", "1.0", padding=16_000_000), make_wheel("small", "1.0", padding=100_000)
    upstream.add(big, small)
    server = bounded(rennet_factory, upstream, len(big.data) + len(small.data) // 2)
    fetch(server, big)
    assert blob_path(server, big.sha256).is_file()

    whole = SlowClient(server, url(big))  # sent by pathsend
    ranged = SlowClient(server, url(big), {"range": "bytes=1000-"})  # sent by reads of the open file
    assert (whole.status, ranged.status) == (200, 206)
    whole.read(65536)
    ranged.read(65536)

    fetch(server, small)  # pushes the index over its limit: the least recently sent file, big, goes
    wait_until(lambda: not blob_path(server, big.sha256).exists(), "big's blob deleted by eviction")
    assert not is_held(server, big) and is_held(server, small)

    assert hashlib.sha256(whole.finish()).hexdigest() == big.sha256
    assert ranged.finish() == big.data[1000:]
    fetch(server, big)  # fetched again
    assert upstream.count(f"/files/{big.filename}") == 2


def test_least_recently_sent_files_go_first_and_the_limit_holds(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    first, second, third = (make_wheel(name, "1.0", padding=200_000) for name in ("first", "second", "third"))
    upstream.add(first, second, third)
    limit = sum(len(d.data) for d in (first, second, third)) - 100_000  # room for two
    server = bounded(rennet_factory, upstream, limit)
    fetch(server, first)
    fetch(server, second)
    fetch(server, first)  # now second is the least recently sent
    wait_until(lambda: file_row(server, first.filename)["last_access"] is not None, "first's access recorded")

    fetch(server, third)
    wait_until(lambda: not is_held(server, second), "second evicted")
    assert is_held(server, first) and is_held(server, third)
    assert not blob_path(server, second.sha256).exists()
    assert held_bytes(server) <= limit
    assert [line for line in server.access_lines() if line.status >= 400] == []

    fetch(server, second)  # fetched again; one of the others makes room
    assert upstream.count(f"/files/{second.filename}") == 2
    wait_until(lambda: held_bytes(server) <= limit, "the limit honoured again")


def test_a_blob_another_index_refers_to_is_kept(
    rennet_factory: Callable[..., LocalServer], upstream: FakeUpstream
) -> None:
    shared, other = make_wheel("shared", "1.0", padding=100_000), make_wheel("pusher", "1.0", padding=100_000)
    upstream.add(shared, other)
    config = f"[index.pypi]\nmax_cache_size = {len(shared.data) + 10}\n"
    config += f'[index.twin]\ntype = "proxy"\nupstream = "{upstream.url}"\n'
    server = rennet_factory(upstream_url=upstream.url, config=config)
    fetch(server, shared, "twin")
    fetch(server, shared)
    fetch(server, other)  # pypi evicts shared: the twin index still holds the same bytes

    def blobs_of_shared() -> list[str]:
        rows = query(server, "SELECT blob_sha256 FROM files WHERE filename = ?", shared.filename)
        return sorted(row[0] or "-" for row in rows)

    wait_until(lambda: blobs_of_shared() == ["-", shared.sha256], "shared evicted from pypi, not from twin")
    assert blob_path(server, shared.sha256).is_file()
    fetch(server, shared, "twin")
    assert upstream.count(f"/files/{shared.filename}") == 2  # once per index, never again for twin


def test_a_blob_deleted_under_the_held_file_cache_is_fetched_again(
    rennet: LocalServer, upstream: FakeUpstream
) -> None:
    wheel = make_wheel("vanished-blob", "1.0", padding=50_000)
    upstream.add(wheel)
    fetch(rennet, wheel)
    fetch(rennet, wheel)  # now in the worker's held-file cache
    blob_path(rennet, wheel.sha256).unlink()  # as a concurrent eviction would
    fetch(rennet, wheel)
    assert upstream.count(f"/files/{wheel.filename}") == 2


def test_gc_applies_the_limit_and_dry_run_changes_nothing(rennet: LocalServer, upstream: FakeUpstream) -> None:
    dists = [make_wheel(f"gcbound{n}", "1.0", padding=100_000) for n in range(3)]
    upstream.add(*dists)
    for dist in dists:
        fetch(rennet, dist)
    limit = len(dists[1].data) + len(dists[2].data) + 10
    config = f"[index.pypi]\nmax_cache_size = {limit}\n"  # the server has no limit; this run of gc has

    dry = cli(rennet, "gc", "--dry-run", config=config)
    assert dry.returncode == 0, dry.stderr
    assert "would evict 1 least recently used file(s)" in dry.stdout
    assert all(is_held(rennet, d) and blob_path(rennet, d.sha256).is_file() for d in dists)

    done = cli(rennet, "gc", config=config)
    assert done.returncode == 0, done.stderr
    assert "evicted 1 least recently used file(s)" in done.stdout
    assert not is_held(rennet, dists[0]) and not blob_path(rennet, dists[0].sha256).exists()
    assert held_bytes(rennet) <= limit
    fetch(rennet, dists[0])  # the running server forgot it at once and fetches it again
    assert upstream.count(f"/files/{dists[0].filename}") == 2
