"""Uploads that must be refused: a clear 4xx with a sentence, and nothing stored anywhere.

"Nothing stored" is checked on disk after every case: no new blob under data_dir/blobs, no temporary file left
in data_dir/tmp, no new catalog row. Then a fault: a client that goes away mid-upload (a server killed mid-upload
is in tests/e2e/test_upload_bad_input_processes.py).
"""

from __future__ import annotations

import gzip
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from tests.support.accounts import create_token, rennet_cli, token_key
from tests.support.dists import (
    Dist,
    gzip_bomb_sdist,
    make_sdist,
    make_tar_gz,
    make_wheel,
    make_zip,
    metadata_text,
    wheel_members,
    write_large_wheel,
    zip_bomb_wheel,
)
from tests.support.hosting import ALICE, UPLOADS, hosted_server
from tests.support.server import LocalServer
from tests.support.store import wait_until
from tests.support.uploads import Multipart, form_fields, post_upload, stored

CONFIG = f"""{UPLOADS}
[index.small]
type = "hosted"
upload = ["alice"]
max_upload_size = "64K"

[index.default]
type = "group"
members = ["local"]
"""
WHEEL = make_wheel("victim", "1.0")
SDIST = make_sdist("victim", "1.0")
WHEEL_NAME = WHEEL.filename  # victim-1.0-py3-none-any.whl


server = hosted_server(CONFIG, upstream=None)  # pypi is never asked


@dataclass
class Case:
    """A request body and what the server must answer: status and a fragment of the sentence."""

    body: bytes
    content_type: str
    status: int
    says: str
    index: str = "local"


def multipart(form: Multipart, status: int, says: str, index: str = "local") -> Case:
    return Case(form.body(), form.content_type, status, says, index)


def wheel_file(filename: str, data: bytes, status: int, says: str, **fields: str | None) -> Case:
    """An upload of `data` named `filename`, with the form fields twine would send for a well-formed name."""
    form_name = fields.pop("form_filename", None) or WHEEL_NAME
    form = Multipart(form_fields(form_name, data, **fields), filename, data)
    return multipart(form, status, says)


def with_metadata(metadata: str | bytes, status: int = 400, says: str = "metadata") -> Case:
    """A well-named victim 1.0 wheel whose METADATA is `metadata`."""
    raw = metadata.encode() if isinstance(metadata, str) else metadata
    return wheel_file(WHEEL_NAME, make_zip(wheel_members("victim", "1.0", raw)), status, says)


def _two_files() -> Case:
    form = Multipart.for_dist(WHEEL)
    body = form.body()
    extra = (
        (
            f'--{form.boundary}\r\nContent-Disposition: form-data; name="content"; filename="{SDIST.filename}"\r\n\r\n'
        ).encode()
        + SDIST.data
        + b"\r\n"
    )
    head, _, tail = body.rpartition(f"--{form.boundary}--".encode())
    return Case(head + extra + f"--{form.boundary}--".encode() + tail, form.content_type, 400, "Only one file")


def _truncated(cut: int) -> Case:
    form = Multipart.for_dist(WHEEL)
    return Case(form.body()[:-cut], form.content_type, 400, "Malformed multipart body")


def _nameless_part() -> Case:
    form = Multipart.for_dist(WHEEL)
    body = form.body().replace(b'form-data; name="summary"', b"form-data", 1)
    return Case(body, form.content_type, 400, "has no name")


CASES: dict[str, Callable[[], Case]] = {
    # The multipart body itself
    "not multipart": lambda: Case(b"name=victim&version=1.0", "application/x-www-form-urlencoded", 400, "multipart"),
    "no boundary": lambda: Case(Multipart.for_dist(WHEEL).body(), "multipart/form-data", 400, "boundary"),
    "boundary longer than any parser takes": lambda: multipart(
        replace(Multipart.for_dist(WHEEL), boundary="b" * 300), 400, "boundary length 300"
    ),
    "garbage body": lambda: Case(b"\x00garbage\xff" * 100, "multipart/form-data; boundary=xyz", 400, "Malformed"),
    "cut in the file": lambda: _truncated(len(WHEEL.data) // 2),
    "cut in the closing boundary": lambda: _truncated(8),
    "part without a name": _nameless_part,
    "two files": _two_files,
    "no file part": lambda: multipart(Multipart(form_fields(WHEEL_NAME, WHEEL.data), None), 400, "'content' part"),
    "file part without filename": lambda: multipart(
        Multipart(form_fields(WHEEL_NAME, WHEEL.data), "", WHEEL.data), 400, "no filename"
    ),
    "file under another field name": lambda: multipart(
        Multipart(form_fields(WHEEL_NAME, WHEEL.data), WHEEL_NAME, WHEEL.data, file_field="file"), 400, "'content'"
    ),
    # Missing and extra fields
    "no name": lambda: multipart(Multipart.for_dist(WHEEL, name=None), 400, "Missing name or version"),
    "no version": lambda: multipart(Multipart.for_dist(WHEEL, version=None), 400, "Missing name or version"),
    "no digest": lambda: multipart(
        Multipart.for_dist(WHEEL, md5_digest=None, sha256_digest=None, blake2_256_digest=None), 400, "digest"
    ),
    "other action": lambda: multipart(Multipart.for_dist(WHEEL, **{":action": "remove_pkg"}), 400, "file_upload"),
    "other protocol": lambda: multipart(Multipart.for_dist(WHEEL, protocol_version="2"), 400, "protocol"),
    "unsupported metadata_version field": lambda: multipart(
        Multipart.for_dist(WHEEL, metadata_version="9.9"), 400, "metadata version"
    ),
    # Digests
    "sha256 mismatch": lambda: multipart(Multipart.for_dist(WHEEL, sha256_digest="ab" * 32), 400, "sha256"),
    "md5 mismatch": lambda: multipart(Multipart.for_dist(WHEEL, md5_digest="ab" * 16), 400, "md5"),
    "blake2 mismatch": lambda: multipart(Multipart.for_dist(WHEEL, blake2_256_digest="ab" * 32), 400, "blake2b"),
    "only a wrong md5": lambda: multipart(
        Multipart.for_dist(WHEEL, sha256_digest=None, blake2_256_digest=None, md5_digest="0" * 32), 400, "md5"
    ),
    # Name, version and type against the filename
    "form name differs": lambda: multipart(Multipart.for_dist(WHEEL, name="other-project"), 400, "does not belong"),
    "form version differs": lambda: multipart(Multipart.for_dist(WHEEL, version="9.9"), 400, "does not match"),
    "filetype differs": lambda: multipart(Multipart.for_dist(WHEEL, filetype="sdist"), 400, "file extension"),
    "sdist filetype differs": lambda: multipart(Multipart.for_dist(SDIST, filetype="bdist_wheel"), 400, "extension"),
    "metadata names another project": lambda: with_metadata(metadata_text("other", "1.0"), says="'other'"),
    "metadata has another version": lambda: with_metadata(metadata_text("victim", "2.0"), says="version 2.0"),
    "sdist metadata names another project": lambda: multipart(
        Multipart.for_dist(
            Dist(SDIST.filename, make_tar_gz({"victim-1.0/PKG-INFO": metadata_text("other", "1.0").encode()}))
        ),
        400,
        "'other'",
    ),
    # Filenames
    "parent directory": lambda: wheel_file("../" + WHEEL_NAME, WHEEL.data, 400, "path separator"),
    "subdirectory": lambda: wheel_file("sub/" + WHEEL_NAME, WHEEL.data, 400, "path separator"),
    "backslash": lambda: wheel_file("..\\" + WHEEL_NAME, WHEEL.data, 400, "path separator"),
    "control character": lambda: wheel_file("victim-1.0-py3-none-any\x07.whl", WHEEL.data, 400, "control"),
    "delete character": lambda: wheel_file("victim-1.0-py3\x7f-none-any.whl", WHEEL.data, 400, "control"),
    "right-to-left override": lambda: wheel_file("victim-1.0-py3-none-\u202elhw.any", WHEEL.data, 400, "control"),
    "leading dot": lambda: wheel_file("." + WHEEL_NAME, WHEEL.data, 400, "dot"),
    "exe": lambda: wheel_file("victim-1.0.win32.exe", WHEEL.data, 400, "Invalid filename"),
    "egg": lambda: wheel_file("victim-1.0-py3.11.egg", WHEEL.data, 400, "Invalid filename"),
    "tar.bz2 sdist": lambda: wheel_file("victim-1.0.tar.bz2", SDIST.data, 400, "Invalid filename", filetype="sdist"),
    "not a wheel filename": lambda: wheel_file("victim.whl", WHEEL.data, 400, "Invalid filename"),
    # Archives that are not archives, or hide bombs
    "random bytes as a wheel": lambda: wheel_file(WHEEL_NAME, os.urandom(4096), 400, "not a readable wheel"),
    "random bytes as an sdist": lambda: multipart(
        Multipart(form_fields(SDIST.filename, b"x" * 999), SDIST.filename, b"x" * 999), 400, "not a readable"
    ),
    "gzip that is no tar": lambda: _sdist_bytes(gzip.compress(b"hello" * 1000), "not a readable"),
    "tar.gz without PKG-INFO": lambda: _sdist_bytes(make_tar_gz({"victim-1.0/setup.py": b""}), "no PKG-INFO"),
    "wheel without METADATA": lambda: wheel_file(WHEEL_NAME, make_zip({"victim/__init__.py": b""}), 400, "METADATA"),
    "wheel with two METADATA": lambda: wheel_file(
        WHEEL_NAME,
        make_zip(
            {
                "victim-1.0.dist-info/METADATA": metadata_text("victim", "1.0").encode(),
                "Victim-1.0.dist-info/METADATA": metadata_text("victim", "1.0").encode(),
            }
        ),
        400,
        "METADATA",
    ),
    "zip bomb in METADATA": lambda: wheel_file(WHEEL_NAME, zip_bomb_wheel("victim", "1.0", 256 << 20), 400, "larger"),
    "gzip bomb in PKG-INFO": lambda: _sdist_bytes(gzip_bomb_sdist("victim", "1.0", 256 << 20), "larger"),
    "oversized METADATA": lambda: with_metadata(metadata_text("victim", "1.0") + "x" * (5 << 20), says="larger than"),
    # Invalid metadata
    "metadata without name": lambda: with_metadata("Metadata-Version: 2.1\nVersion: 1.0\n\n"),
    "metadata with a bad version": lambda: with_metadata("Metadata-Version: 2.1\nName: victim\nVersion: one\n\n"),
    "metadata with a bad requires-python": lambda: with_metadata(
        "Metadata-Version: 2.1\nName: victim\nVersion: 1.0\nRequires-Python: >=>3\n\n"
    ),
    "metadata version 9.9": lambda: with_metadata("Metadata-Version: 9.9\nName: victim\nVersion: 1.0\n\n"),
    "metadata not text": lambda: with_metadata(b"\xff\xfe\x00\x01" * 100),
    # Look-alike names
    "cyrillic i in name and filename": lambda: _confusable("v\u0456ctim"),
    "greek iota in the form only": lambda: multipart(
        Multipart.for_dist(WHEEL, name="v\u03b9ctim"), 400, "project name"
    ),
    "cyrillic in the metadata name": lambda: with_metadata(metadata_text("v\u0456\u0441tim", "1.0")),
    "fullwidth digit version": lambda: wheel_file(
        "victim-\uff11.0-py3-none-any.whl", WHEEL.data, 400, "Invalid filename", version="\uff11.0"
    ),
    # Size
    "larger than the index allows": lambda: multipart(
        Multipart.for_dist(make_wheel("victim", "1.0", padding=200 << 10)), 413, "too large", index="small"
    ),
}


def _sdist_bytes(data: bytes, says: str) -> Case:
    return multipart(Multipart(form_fields(SDIST.filename, data), SDIST.filename, data), 400, says)


def _confusable(name: str) -> Case:
    """A look-alike of `victim` in the filename, the form and the METADATA alike."""
    filename = f"{name}-1.0-py3-none-any.whl"
    data = make_zip(wheel_members(name, "1.0", metadata_text(name, "1.0").encode()))
    fields = [(k, name if k == "name" else v) for k, v in form_fields(WHEEL_NAME, data)]
    return multipart(Multipart(fields, filename, data), 400, "project name")


@pytest.mark.parametrize("case", list(CASES))
def test_refused_and_nothing_stored(server: LocalServer, case: str) -> None:
    request = CASES[case]()
    before = stored(server)
    for accept_json in (False, True):
        response = httpx.post(
            f"{server.url}/{request.index}/",
            content=request.body,
            headers={"content-type": request.content_type} | ({"accept": "application/json"} if accept_json else {}),
            auth=ALICE,
            timeout=60,
        )
        assert response.status_code == request.status, response.text
        message = response.json()["message"] if accept_json else response.text
        assert request.says.lower() in message.lower(), message
        assert len(message) < 2000, "a sentence, not a dump"
    assert stored(server) == before
    assert server.get("/local/simple/victim/").status_code == 404


def test_refused_credentials_store_nothing(server: LocalServer) -> None:
    token = create_token(server, "alice", "local")
    revoked = create_token(server, "alice", "local")
    assert rennet_cli(server, "token", "revoke", token_key(revoked)).returncode == 0
    expired = create_token(server, "alice", "local", expires="1ms")
    read_only = create_token(server, "alice", "local", scope="read")
    before = stored(server)
    for auth in [
        None,
        ("alice", "wrong-password"),
        ("__token__", token[:-2] + "xx"),
        ("__token__", revoked),
        ("__token__", expired),
        ("__token__", read_only),
        ("__token__", "not-a-token"),
    ]:
        response = post_upload(server.url + "/local/", WHEEL, auth=auth)
        assert response.status_code == 403, (auth, response.text)
    assert stored(server) == before


def test_client_gone_mid_upload_leaves_nothing(server: LocalServer, tmp_path: Path) -> None:
    path = write_large_wheel(tmp_path, "gone", "1.0", 20 << 20)
    form = Multipart.for_file(path)
    before = stored(server)
    sent = threading.Event()

    def half_then_stop() -> Iterator[bytes]:
        total = 0
        for chunk in form.chunks():
            yield chunk
            total += len(chunk)
            if total > len(form) // 2:
                sent.set()
                raise ConnectionAbortedError("the client goes away")

    with pytest.raises((httpx.HTTPError, ConnectionAbortedError)):
        httpx.post(server.url + "/local/", content=half_then_stop(), headers=form.headers(), auth=ALICE, timeout=60)
    assert sent.is_set()
    wait_until(lambda: stored(server) == before, "the server drops the partial upload")
    assert server.get("/local/simple/gone/").status_code == 404
    assert "Traceback" not in server.log()
