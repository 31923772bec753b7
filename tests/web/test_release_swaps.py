"""A published release cannot be changed under another spelling of its files' names, by concurrent uploads, or
by an archive whose insides name another project or version."""

from __future__ import annotations

import gzip
import io
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from tests.support.dists import Dist, make_sdist, make_wheel, metadata_text, sdist_file, wheel_file
from tests.support.hosting import ALICE, hosted_server
from tests.support.pages import json_files
from tests.support.server import LocalServer
from tests.support.uploads import post_upload

# A server of its own for each test: they use the same project names.
server = hosted_server(upstream=None, scope="function")


def _wheel(name: str, version: str, filename: str | None = None, padding: int = 0, tag: str = "py3-none-any") -> Dist:
    metadata = metadata_text(name, version).encode()
    built, data = wheel_file(name, version, metadata, padding, tag)
    return Dist(filename or built, data, metadata)


def _upload(server: LocalServer, dist: Dist) -> tuple[int, str]:
    response = post_upload(server.url + "/local/", dist, auth=ALICE)
    return response.status_code, response.text


@pytest.mark.parametrize(
    "rival",
    [
        "SWAPX-1.0-py3-none-any.whl",  # the project's name spelled otherwise
        "swapx-1.0.0-py3-none-any.whl",  # the version spelled otherwise
        "swapx-1.0-1-py3-none-any.whl",  # a build number: pip would prefer it
    ],
)
def test_other_bytes_under_another_spelling_are_refused(server: LocalServer, rival: str) -> None:
    original = _wheel("swapx", "1.0")
    assert _upload(server, original)[0] == 200
    version = "1.0.0" if "1.0.0" in rival else "1.0"
    status, text = _upload(server, _wheel("swapx", version, filename=rival, padding=10))
    assert status == 400, text
    assert text.startswith(f"File already exists: {original.filename} is the same release and tags as {rival}")
    assert set(json_files(server, "/local/simple/swapx/")) == {original.filename}


def test_the_same_bytes_under_another_spelling_are_already_there(server: LocalServer) -> None:
    original = _wheel("swapx", "1.0")
    assert _upload(server, original)[0] == 200
    status, text = _upload(server, replace(original, filename="SwapX-1.0-py3-none-any.whl"))
    assert status == 200 and "already there" in text
    assert set(json_files(server, "/local/simple/swapx/")) == {original.filename}


def test_other_tags_are_another_wheel(server: LocalServer) -> None:
    assert _upload(server, _wheel("swapx", "1.0"))[0] == 200
    other = _wheel("swapx", "1.0", tag="py2.py3-none-any")
    assert _upload(server, other)[0] == 200
    assert other.filename in json_files(server, "/local/simple/swapx/")


def test_one_sdist_per_release_whatever_its_spelling(server: LocalServer) -> None:
    first = make_sdist("swapx", "1.0")
    assert _upload(server, first)[0] == 200
    name, data = sdist_file("swapx", "1.0.0", metadata_text("swapx", "1.0.0").encode())
    status, text = _upload(server, Dist(name, data, None))
    assert status == 400, text
    assert text.startswith(f"Only one sdist may be uploaded per release: {first.filename} exists already")


def test_concurrent_uploads_of_one_release_leave_one_sdist(server: LocalServer) -> None:
    """Each upload checks before it inserts; the database decides between those that check at the same time."""
    spellings = ["1.0", "1.0.0", "1.00", "01.0", "1.0.0.0", "1.000", "1.0.00", "001.0"]
    sdists = []
    for spelling in spellings:
        name, data = sdist_file("racer", spelling, metadata_text("racer", spelling).encode())
        sdists.append(Dist(name, data, None))
    with ThreadPoolExecutor(len(sdists)) as pool:
        outcomes = list(pool.map(lambda dist: _upload(server, dist), sdists))
    assert sorted(status for status, _ in outcomes) == [200] + [400] * (len(sdists) - 1), outcomes
    refusals = [text for status, text in outcomes if status == 400]
    assert all(text.startswith("Only one sdist may be uploaded per release: racer-") for text in refusals), refusals
    assert len(json_files(server, "/local/simple/racer/")) == 1


def test_a_wheel_whose_dist_info_names_another_project_is_refused(server: LocalServer) -> None:
    metadata = metadata_text("innocent", "1.0").encode()
    _, data = wheel_file("other", "1.0", metadata)  # other-1.0.dist-info/METADATA saying "innocent"
    status, text = _upload(server, Dist("innocent-1.0-py3-none-any.whl", data, metadata))
    assert status == 400, text
    assert "its .dist-info directory 'other-1.0.dist-info' does not match innocent-1.0-py3-none-any.whl" in text


def test_an_sdist_whose_top_directory_names_another_version_is_refused(server: LocalServer) -> None:
    pkg_info = metadata_text("innocent", "1.0").encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        info = tarfile.TarInfo("innocent-2.0/PKG-INFO")
        info.size = len(pkg_info)
        archive.addfile(info, io.BytesIO(pkg_info))
    status, text = _upload(server, Dist("innocent-1.0.tar.gz", gzip.compress(raw.getvalue()), None))
    assert status == 400, text
    assert "its top directory 'innocent-2.0' does not match innocent-1.0.tar.gz" in text


def test_a_new_release_after_a_refusal_works(server: LocalServer) -> None:
    original = make_wheel("swapx", "1.0")
    assert _upload(server, original)[0] == 200
    status, text = _upload(server, _wheel("swapx", "1.0", filename="SWAPX-1.0-py3-none-any.whl", padding=10))
    assert status == 400, text
    newer = make_wheel("swapx", "1.1")
    status, text = _upload(server, newer)
    assert status == 200, text
    assert set(json_files(server, "/local/simple/swapx/")) == {original.filename, newer.filename}
