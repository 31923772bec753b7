"""A second `rennet serve` on a data directory leaves alone what the first one is doing: an upload in flight there
still completes and is listed (the temporary files of live processes are not cleaned away)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support.accounts import add_user
from tests.support.dists import make_wheel
from tests.support.hosting import ALICE
from tests.support.server import RennetServer
from tests.support.uploads import Multipart
from tests.support.upstream import Blackhole

CONFIG = '[index.local]\nupload = ["alice"]\n'


def test_a_second_server_does_not_break_an_upload_in_flight(tmp_path: Path) -> None:
    closed = Blackhole()
    first = RennetServer(tmp_path / "data", upstream_url=closed.url, config=CONFIG).start()
    second = RennetServer(tmp_path / "data", upstream_url=closed.url, config=CONFIG)
    try:
        add_user(first, *ALICE)
        wheel = make_wheel("in-flight", "1.0", padding=3 << 20)
        form = Multipart.for_dist(wheel)
        half_sent, go_on = threading.Event(), threading.Event()

        def body() -> Iterator[bytes]:
            data = b"".join(form.chunks())
            middle = len(data) // 2
            yield data[:middle]
            half_sent.set()
            assert go_on.wait(60)
            yield data[middle:]

        answer: list[httpx.Response] = []
        sender = threading.Thread(
            target=lambda: answer.append(
                httpx.post(first.url + "/local/", content=body(), headers=form.headers(), auth=ALICE, timeout=60)
            )
        )
        sender.start()
        assert half_sent.wait(30)
        second.start()  # prepares the data directory while the upload is half received
        go_on.set()
        sender.join(60)
        assert answer and answer[0].status_code == 200, answer[0].text if answer else "no answer"
        assert second.get("/local/simple/in-flight/").status_code == 200
    finally:
        second.stop()
        first.stop()
        closed.close()
