"""The upload API (the legacy API of twine, uv, poetry and pdm) over HTTP, request by request.

One server per module (per catalog): every test uploads its own project names, so they do not disturb each other.
The memory an upload takes in a server's workers is measured on real processes in
tests/e2e/test_uploads_processes.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from rennet.storage.catalog import DuplicateFile
from rennet.storage.store import open_store
from tests.support.dists import make_sdist, make_wheel
from tests.support.hosting import ALICE, UPLOADS, hosted_server
from tests.support.pages import json_files as page
from tests.support.server import LocalServer
from tests.support.store import hosted_upload
from tests.support.uploads import Multipart, hosted_file_row, post_upload, stored

CONFIG = f"""{UPLOADS}
[index.small]
type = "hosted"
upload = ["alice"]
max_upload_size = "64K"

[index.everything]
type = "group"
members = ["default", "small"]
"""

server = hosted_server(CONFIG)


def test_upload_is_listed_at_once_with_everything_pypi_lists(server: LocalServer) -> None:
    wheel = make_wheel("Listed.Pkg", "1.0", requires_python=">=3.8")
    sdist = make_sdist("listed_pkg", "1.0", requires_python=">=3.8")
    # Read the pages first, so that a cached page would show if an upload did not invalidate it.
    for path in ("/local/simple/listed-pkg/", "/simple/listed-pkg/", "/everything/simple/listed-pkg/"):
        assert server.get(path).status_code == 404

    for dist in (wheel, sdist):
        response = post_upload(server.url + "/local/", dist, auth=ALICE)
        assert response.status_code == 200, response.text

    for path in ("/local/simple/listed-pkg/", "/simple/listed-pkg/", "/everything/simple/listed-pkg/"):
        files = page(server, path)
        assert set(files) == {wheel.filename, sdist.filename}, path
        for dist in (wheel, sdist):
            entry = files[dist.filename]
            assert entry["hashes"] == {"sha256": dist.sha256}
            assert entry["size"] == len(dist.data)
            assert entry["requires-python"] == ">=3.8"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", str(entry["upload-time"]))
            file = server.get(httpx.URL(server.url + path).join(str(entry["url"])).path)
            assert file.status_code == 200 and file.content == dist.data
        # PEP 658 for the wheel only: the advertised hash is that of the METADATA inside the wheel.
        assert wheel.metadata is not None
        assert files[wheel.filename]["core-metadata"] == {"sha256": hashlib.sha256(wheel.metadata).hexdigest()}
        assert files[sdist.filename]["core-metadata"] is False
        metadata_url = httpx.URL(server.url + path).join(str(files[wheel.filename]["url"]) + ".metadata")
        assert server.get(metadata_url.path).content == wheel.metadata

    html = server.get("/simple/listed-pkg/").text
    assert wheel.metadata is not None
    digest = hashlib.sha256(wheel.metadata).hexdigest()
    assert f'data-core-metadata="sha256={digest}"' in html
    assert 'data-requires-python="&gt;=3.8"' in html

    row = hosted_file_row(server, "local", wheel.filename)
    assert row is not None
    assert row["md5"] == hashlib.md5(wheel.data).hexdigest()
    assert row["blake2b_256"] == hashlib.blake2b(wheel.data, digest_size=32).hexdigest()
    assert row["blob_sha256"] == wheel.sha256
    assert row["uploaded_by"] == "alice"


def test_same_file_again_is_accepted_other_bytes_are_refused(server: LocalServer) -> None:
    first = make_wheel("twice", "1.0")
    assert post_upload(server.url + "/local/", first, auth=ALICE).status_code == 200
    again = post_upload(server.url + "/local/", first, auth=ALICE)
    assert again.status_code == 200, again.text

    other = make_wheel("twice", "1.0", padding=100)
    assert other.filename == first.filename and other.data != first.data
    before = stored(server)
    refused = post_upload(server.url + "/local/", other, auth=ALICE)
    assert refused.status_code == 400
    assert refused.text.startswith("File already exists")
    as_json = post_upload(server.url + "/local/", other, auth=ALICE, accept_json=True)
    assert as_json.status_code == 400
    assert as_json.headers["content-type"].startswith("application/json")
    body = as_json.json()
    assert body["message"].startswith("File already exists")
    assert body["code"] == "400 Bad Request" and body["title"] == "Bad Request"
    assert stored(server) == before
    assert server.get(f"/local/files/twice/{first.filename}").content == first.data


def test_one_sdist_per_release(server: LocalServer) -> None:
    assert post_upload(server.url + "/local/", make_sdist("onesdist", "2.0"), auth=ALICE).status_code == 200
    # 2.0.0 is the same release as 2.0 (versions compare normalized), under another filename.
    response = post_upload(server.url + "/local/", make_sdist("onesdist", "2.0.0"), auth=ALICE)
    assert response.status_code == 400
    assert "one sdist" in response.text.lower()
    # A wheel for the same release is fine.
    assert post_upload(server.url + "/local/", make_wheel("onesdist", "2.0"), auth=ALICE).status_code == 200


def test_every_upload_url_works_without_redirect(server: LocalServer) -> None:
    """twine and poetry abort on redirects: each spelling of the URL must answer the upload itself."""
    paths = ["/", "/legacy", "/legacy/", "/local", "/local/", "/local/legacy", "/local/legacy/", "/default/legacy/"]
    for number, path in enumerate(paths):
        wheel = make_wheel("routes", f"1.{number}")
        response = post_upload(server.url + path, wheel, auth=ALICE)
        assert response.status_code == 200, (path, response.status_code, response.text)
    # Uploads to the default group land in its first hosted member.
    assert len(page(server, "/local/simple/routes/")) == len(paths)


def test_upload_to_a_mirror_or_nowhere_is_refused(server: LocalServer) -> None:
    wheel = make_wheel("nowhere", "1.0")
    to_mirror = post_upload(server.url + "/pypi/", wheel, auth=ALICE)
    assert to_mirror.status_code == 405
    assert "mirror" in to_mirror.text
    unknown = post_upload(server.url + "/no-such-index/", wheel, auth=ALICE)
    assert unknown.status_code == 404
    assert "no-such-index" in unknown.text


def test_configured_size_limit_gives_413_and_stores_nothing(server: LocalServer) -> None:
    fits = make_wheel("sizes", "1.0", padding=30 << 10)
    assert post_upload(server.url + "/small/", fits, auth=ALICE).status_code == 200
    before = stored(server)
    too_big = make_wheel("sizes", "2.0", padding=200 << 10)
    response = post_upload(server.url + "/small/", too_big, auth=ALICE, accept_json=True)
    assert response.status_code == 413
    assert "too large" in response.json()["message"]
    assert stored(server) == before
    assert server.get(f"/small/files/sizes/{too_big.filename}").status_code == 404
    # A declared length far beyond the limit is refused before the body is read.
    huge = make_wheel("sizes", "3.0", padding=20 << 20)
    response = post_upload(server.url + "/small/", huge, auth=ALICE)
    assert response.status_code == 413 and "too large" in response.text
    assert stored(server) == before


def test_the_fields_clients_send_besides_are_accepted(server: LocalServer) -> None:
    """twine sends every core-metadata field, repeated ones repeated, and sometimes attestations."""
    wheel = make_wheel("chatty", "1.0")
    extra = [
        ("description", "# Chatty\n\n" + "A long description. " * 5000),
        ("description_content_type", "text/markdown"),
        ("keywords", "a,b,c"),
        ("classifiers", "Programming Language :: Python :: 3"),
        ("classifiers", "License :: OSI Approved :: MIT License"),
        ("project_urls", "Homepage, http://example.invalid/chatty"),
        ("requires_dist", "requests>=2"),
        ("comment", ""),
        ("attestations", "[]"),
    ]
    form = Multipart.for_dist(wheel)
    form = Multipart([*form.fields, *extra], form.filename, form.content)
    response = post_upload(server.url + "/local/", form, auth=ALICE)
    assert response.status_code == 200, response.text
    assert wheel.filename in page(server, "/local/simple/chatty/")


def test_uploads_a_browser_sends_for_another_site_are_refused(server: LocalServer) -> None:
    """A page elsewhere could make a browser that remembers a user's credentials post an upload (a plain form
    needs no permission); browsers say so in Sec-Fetch-Site, and rennet refuses such requests."""
    wheel = make_wheel("cross-site", "1.0")
    before = stored(server)
    for accept_json in (False, True):
        refused = post_upload(
            server.url + "/local/", wheel, auth=ALICE, accept_json=accept_json, extra_headers=CROSS_SITE
        )
        assert refused.status_code == 403, refused.text
        message = refused.json()["message"] if accept_json else refused.text
        assert "another site" in message
    assert stored(server) == before
    assert server.get("/local/simple/cross-site/").status_code == 404
    for origin in ("same-origin", "same-site", "none"):  # the browser's own pages, or typed in
        accepted = post_upload(server.url + "/local/", wheel, auth=ALICE, extra_headers={"sec-fetch-site": origin})
        assert accepted.status_code == 200, (origin, accepted.text)


CROSS_SITE = {"sec-fetch-site": "cross-site"}


def test_errors_are_sentences_or_json(server: LocalServer) -> None:
    wheel = make_wheel("errors", "1.0")
    form = Multipart.for_dist(wheel, sha256_digest="0" * 64)
    text = post_upload(server.url + "/local/", form, auth=ALICE)
    assert text.status_code == 400
    assert text.headers["content-type"].startswith("text/plain")
    assert "sha256 digest does not match" in text.text
    as_json = post_upload(server.url + "/local/", form, auth=ALICE, accept_json=True)
    assert json.loads(as_json.text) == {
        "message": "The sha256 digest does not match the uploaded file",
        "code": "400 Bad Request",
        "title": "Bad Request",
    }


def test_concurrent_uploads_of_a_new_release(server: LocalServer) -> None:
    """CI jobs upload the wheels of a new release at the same moment: every one must be taken (no 500 from two
    writers creating the same project or version), and of rival files under one name exactly one wins."""
    wheels = [make_wheel("together", "1.0", tag=f"py3-none-platform{n}") for n in range(16)]
    with ThreadPoolExecutor(len(wheels)) as pool:
        codes = list(pool.map(lambda w: post_upload(server.url + "/local/", w, auth=ALICE).status_code, wheels))
    assert codes == [200] * len(wheels), codes
    assert set(page(server, "/simple/together/")) == {w.filename for w in wheels}

    rivals = [make_wheel("rivals", "1.0", padding=100 + n) for n in range(8)]
    with ThreadPoolExecutor(len(rivals)) as pool:
        answers = list(pool.map(lambda w: post_upload(server.url + "/local/", w, auth=ALICE), rivals))
    assert sorted(a.status_code for a in answers) == [200] + [400] * 7, [a.text for a in answers]
    assert all(a.text.startswith("File already exists") for a in answers if a.status_code == 400)
    winner = rivals[[a.status_code for a in answers].index(200)]
    assert page(server, "/local/simple/rivals/")[winner.filename]["hashes"] == {"sha256": winner.sha256}


def test_catalog_writers_racing_for_a_new_project(catalog_url: str, tmp_path: Path) -> None:
    """The same race in the catalog alone, many threads released at once on a shared database."""
    store = open_store(tmp_path, catalog_url)
    try:
        for round_number in range(5):
            barrier = threading.Barrier(12)

            def add(n: int, project: str = f"race{round_number}", barrier: threading.Barrier = barrier) -> str:
                filename = f"{project}-1.0-py3-none-p{n % 6}.whl"
                upload = hosted_upload(filename, f"{n:064x}")
                barrier.wait()
                try:
                    return "new" if store.catalog.add_hosted_file("local", project, project, upload) else "added"
                except DuplicateFile:
                    return "duplicate"

            with ThreadPoolExecutor(12) as pool:
                outcomes = list(pool.map(add, range(12)))
            assert sorted(outcomes) == sorted(["new"] + ["added"] * 5 + ["duplicate"] * 6), outcomes
            assert len(store.catalog.files_of("local", f"race{round_number}", None)) == 6
    finally:
        store.close()
