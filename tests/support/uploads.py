"""Uploads of the legacy API built by hand: the form twine sends, as a multipart body that can be bent at will.

`Multipart` streams its file from disk (for large uploads) or from bytes, knows its exact length, and lets a
test change any field, drop one, add one, or rename the file part, to see what the server makes of it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from packaging.utils import parse_sdist_filename, parse_wheel_filename

from tests.support.dists import Dist
from tests.support.server import Server
from tests.support.store import query, records

CHUNK = 1 << 20


def digests(data: bytes | Path) -> dict[str, str]:
    """The three digests twine sends, of bytes or of a file read in pieces."""
    md5, sha256, blake2 = hashlib.md5(), hashlib.sha256(), hashlib.blake2b(digest_size=32)
    for chunk in [data] if isinstance(data, bytes) else _read(data):
        for digest in (md5, sha256, blake2):
            digest.update(chunk)
    return {
        "md5_digest": md5.hexdigest(),
        "sha256_digest": sha256.hexdigest(),
        "blake2_256_digest": blake2.hexdigest(),
    }


def form_fields(filename: str, data: bytes | Path, **overrides: str | None) -> list[tuple[str, str]]:
    """The non-file fields twine sends for a distribution; an override of None drops the field."""
    if filename.endswith(".whl"):
        name, version, _, _ = parse_wheel_filename(filename)
        filetype, pyversion = "bdist_wheel", "py3"
    else:
        name, version = parse_sdist_filename(filename)
        filetype, pyversion = "sdist", "source"
    fields: dict[str, str | None] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": str(name),
        "version": str(version),
        "filetype": filetype,
        "pyversion": pyversion,
        "metadata_version": "2.1",
        "summary": f"{name} for tests",
        **digests(data),
    }
    fields.update(overrides)
    return [(key, value) for key, value in fields.items() if value is not None]


@dataclass
class Multipart:
    """A multipart/form-data body: fields, then one file part (unless `filename` is None)."""

    fields: Sequence[tuple[str, str]]
    filename: str | None
    content: bytes | Path = b""
    file_field: str = "content"
    boundary: str = field(default_factory=lambda: "rennet-test-" + secrets.token_hex(12))

    @classmethod
    def for_dist(cls, dist: Dist, **overrides: str | None) -> Multipart:
        return cls(form_fields(dist.filename, dist.data, **overrides), dist.filename, dist.data)

    @classmethod
    def for_file(cls, path: Path, filename: str | None = None, **overrides: str | None) -> Multipart:
        name = filename or path.name
        return cls(form_fields(name, path, **overrides), name, path)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def _head(self) -> bytes:
        parts = []
        for key, value in self.fields:
            parts.append(
                f'--{self.boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode()
                + value.encode()
                + b"\r\n"
            )
        if self.filename is not None:
            parts.append(
                f"--{self.boundary}\r\nContent-Disposition: form-data; "
                f'name="{self.file_field}"; filename="{self.filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n".encode()
            )
        return b"".join(parts)

    def _tail(self) -> bytes:
        return (b"\r\n" if self.filename is not None else b"") + f"--{self.boundary}--\r\n".encode()

    def _content_size(self) -> int:
        if self.filename is None:
            return 0
        return len(self.content) if isinstance(self.content, bytes) else self.content.stat().st_size

    def __len__(self) -> int:
        return len(self._head()) + self._content_size() + len(self._tail())

    def chunks(self) -> Iterator[bytes]:
        yield self._head()
        if self.filename is not None:
            if isinstance(self.content, bytes):
                yield self.content
            else:
                yield from _read(self.content)
        yield self._tail()

    def body(self) -> bytes:
        return b"".join(self.chunks())

    def headers(self) -> dict[str, str]:
        return {"content-type": self.content_type, "content-length": str(len(self))}


def post_upload(
    url: str,
    upload: Multipart | Dist,
    auth: tuple[str, str] | None = None,
    accept_json: bool = False,
    timeout: float = 60,
    client: httpx.Client | None = None,
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST an upload the way twine does (one request, never following redirects)."""
    form = upload if isinstance(upload, Multipart) else Multipart.for_dist(upload)
    headers = form.headers() | (extra_headers or {})
    if accept_json:
        headers["accept"] = "application/json"
    content: bytes | Iterator[bytes] = form.body() if isinstance(form.content, bytes) else form.chunks()
    if client is None:
        return httpx.post(url, content=content, headers=headers, auth=auth, timeout=timeout, follow_redirects=False)
    if auth is None:
        return client.post(url, content=content, headers=headers, timeout=timeout, follow_redirects=False)
    return client.post(url, content=content, headers=headers, auth=auth, timeout=timeout, follow_redirects=False)


def _read(path: Path) -> Iterator[bytes]:
    fd = os.open(path, os.O_RDONLY)
    try:
        while chunk := os.read(fd, CHUNK):
            yield chunk
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Stored:
    """What a server holds on disk: blobs, leftover temporary files, and catalog rows of hosted files."""

    blobs: frozenset[str]
    temp_files: tuple[str, ...]
    hosted_files: frozenset[tuple[str, str, str]]  # (index, project, filename)
    projects: frozenset[tuple[str, str]]


def stored(server: Server) -> Stored:
    data_dir = server.data_dir
    blobs = frozenset(p.name for p in (data_dir / "blobs").rglob("*") if p.is_file())
    temp = tuple(
        sorted(
            str(p)
            for p in (data_dir / "tmp").rglob("*")
            if p.is_file() and not p.name.startswith(".ready") and p.suffix != ".lock"
        )
    )
    files = query(
        server, "select p.index_name, p.name, f.filename from files f join projects p on f.project_id = p.id"
    )
    projects = query(server, "select index_name, name from projects")
    return Stored(blobs, temp, frozenset(files), frozenset(projects))


def hosted_file_row(server: Server, index: str, filename: str) -> dict[str, object] | None:
    """The catalog row of one file of an index, as a dict (None if there is none)."""
    found = records(
        server,
        "select f.* from files f join projects p on f.project_id = p.id where p.index_name = ? and f.filename = ?",
        index,
        filename,
    )
    return found[0] if found else None
