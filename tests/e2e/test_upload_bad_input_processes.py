"""A server killed (SIGKILL) while an upload streams in: after a restart nothing partial is visible, and the same
upload works (the refusals of bad uploads are tested over HTTP in tests/web/test_upload_bad_input.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from tests.support.accounts import add_user
from tests.support.dists import make_wheel, write_large_wheel
from tests.support.hosting import ALICE, UPLOADS
from tests.support.server import RennetServer
from tests.support.store import wait_until
from tests.support.uploads import Multipart, post_upload, stored
from tests.support.upstream import NOWHERE

CONFIG = f"""{UPLOADS}
[index.default]
type = "group"
members = ["local"]
"""


def test_server_killed_mid_upload(process_factory: Callable[..., RennetServer], tmp_path: Path) -> None:
    """SIGKILL while a file streams in: after a restart nothing partial is visible and a re-upload works."""
    server = process_factory(config=CONFIG, upstream_url=NOWHERE)
    add_user(server, *ALICE)
    kept = make_wheel("crash", "0.9")
    assert post_upload(server.url + "/local/", kept, auth=ALICE).status_code == 200
    before = stored(server)
    path = write_large_wheel(tmp_path, "crash", "1.0", 30 << 20)
    form = Multipart.for_file(path)
    resume = threading.Event()
    errors: list[BaseException] = []

    def stalled_body() -> Iterator[bytes]:
        total = 0
        for chunk in form.chunks():
            yield chunk
            total += len(chunk)
            if total > len(form) // 2 and not resume.is_set():
                resume.wait(60)

    def upload() -> None:
        try:
            httpx.post(server.url + "/local/", content=stalled_body(), headers=form.headers(), auth=ALICE, timeout=60)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=upload)
    thread.start()
    temp = server.data_dir / "tmp"
    wait_until(
        lambda: any(p.is_file() and p.stat().st_size > (10 << 20) for p in temp.rglob("*")),
        "half the file reaches the server's temporary file",
    )
    server.kill()
    resume.set()
    thread.join(60)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], httpx.HTTPError), errors

    server.start()
    after = stored(server)
    assert after.blobs == before.blobs
    assert after.hosted_files == before.hosted_files
    assert after.temp_files == ()
    crash_page = server.get("/local/simple/crash/")
    assert crash_page.status_code == 200
    assert path.name not in crash_page.text and kept.filename in crash_page.text
    assert server.get(f"/local/files/crash/{path.name}").status_code == 404

    again = post_upload(server.url + "/local/", Multipart.for_file(path), auth=ALICE, timeout=120)
    assert again.status_code == 200, again.text
    assert path.name in server.get("/local/simple/crash/").text
    assert server.get(f"/local/files/crash/{path.name}").headers["content-length"] == str(path.stat().st_size)
