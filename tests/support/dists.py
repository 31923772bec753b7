"""Wheels and sdists built by the tests themselves, byte for byte reproducible.

The standard library's alone: bench/fixture.py builds the benchmark's distributions with it too.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import random
import re
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

_EPOCH = (2024, 1, 1, 0, 0, 0)
_PYPROJECT = b'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'


def canonical(name: str) -> str:
    """The normalized project name (PEP 503), as packaging's canonicalize_name gives it."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Dist:
    filename: str
    data: bytes
    metadata: bytes | None = None  # METADATA of a wheel (served as .metadata)
    requires_python: str | None = None
    yanked: str | bool = False
    upload_time: str | None = "2024-01-02T03:04:05.000000Z"
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def project(self) -> str:
        return canonical(self.filename.split("-")[0])


def metadata_text(
    name: str,
    version: str,
    requires: tuple[str, ...] = (),
    requires_python: str | None = None,
    extra: tuple[str, ...] = (),
    description: str = "",
    summary: str | None = None,
) -> str:
    """Core metadata; `extra` adds header lines ("Author: ..."), `description` the body."""
    summary = f"{name} for tests" if summary is None else summary
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {summary}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    lines += extra
    return "\n".join(lines) + "\n\n" + description


def make_wheel(
    name: str,
    version: str,
    requires: tuple[str, ...] = (),
    requires_python: str | None = None,
    padding: int = 0,
    tag: str = "py3-none-any",
    extra_metadata: tuple[str, ...] = (),
    description: str = "",
    summary: str | None = None,
) -> Dist:
    """A pure-Python wheel that pip and uv install: one module `<name>` with __version__."""
    text = metadata_text(name, version, requires, requires_python, extra_metadata, description, summary)
    metadata = text.encode()
    filename, data = wheel_file(name, version, metadata, padding, tag)
    return Dist(filename, data, metadata, requires_python)


def wheel_file(
    name: str,
    version: str,
    metadata: bytes,
    padding: int = 0,
    tag: str = "py3-none-any",
    generator: str = "rennet-tests",
) -> tuple[str, bytes]:
    """The filename and bytes of a wheel with this METADATA, and `padding` bytes of filler when not 0."""
    module = _module(name)
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: {generator}\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    if padding:
        # Incompressible, deterministic filler so "large file" tests move real bytes.
        files[f"{module}/blob.bin"] = _filler(padding, name + version)
    record_lines = [
        f"{path},sha256={_record_hash(hashlib.sha256(data).digest())},{len(data)}" for path, data in files.items()
    ]
    record_lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            info = zipfile.ZipInfo(path, _EPOCH)
            info.compress_type = zipfile.ZIP_STORED if path.endswith(".bin") else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return f"{module}-{version}-{tag}.whl", buffer.getvalue()


def make_sdist(name: str, version: str, requires_python: str | None = None) -> Dist:
    filename, data = sdist_file(name, version, metadata_text(name, version, (), requires_python).encode())
    return Dist(filename, data, None, requires_python)


def sdist_file(name: str, version: str, pkg_info: bytes) -> tuple[str, bytes]:
    """The filename and bytes of a .tar.gz sdist with this PKG-INFO."""
    module = _module(name)
    root = f"{module}-{version}"
    files = {
        f"{root}/PKG-INFO": pkg_info,
        f"{root}/pyproject.toml": _PYPROJECT,
        f"{root}/{module}/__init__.py": f"__version__ = {version!r}\n".encode(),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1704067200
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return f"{root}.tar.gz", gzip.compress(raw.getvalue(), mtime=0)


def _module(name: str) -> str:
    """The import name of a project's module, which also starts its distributions' filenames."""
    return name.replace("-", "_").replace(".", "_").lower()


def _filler(size: int, seed: str) -> bytes:
    """Incompressible, deterministic bytes."""
    return random.Random(seed).randbytes(size)


def write_large_wheel(directory: Path, name: str, version: str, size: int) -> Path:
    """A valid wheel of about `size` bytes written straight to disk (incompressible, never held in memory)."""
    module = _module(name)
    dist_info = f"{module}-{version}.dist-info"
    path = directory / f"{module}-{version}-py3-none-any.whl"
    small = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{dist_info}/METADATA": metadata_text(name, version).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: rennet-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{p},sha256={_record_hash(hashlib.sha256(d).digest())},{len(d)}" for p, d in small.items()]
    generator = random.Random(name + version)
    digest = hashlib.sha256()
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in small.items():
            archive.writestr(zipfile.ZipInfo(member, _EPOCH), data)
        info = zipfile.ZipInfo(f"{module}/blob.bin", _EPOCH)
        with archive.open(info, "w", force_zip64=True) as blob:
            remaining = size
            while remaining > 0:
                chunk = generator.randbytes(min(remaining, 1 << 20))
                blob.write(chunk)
                digest.update(chunk)
                remaining -= len(chunk)
        record += [f"{module}/blob.bin,sha256={_record_hash(digest.digest())},{size}", f"{dist_info}/RECORD,,"]
        archive.writestr(zipfile.ZipInfo(f"{dist_info}/RECORD", _EPOCH), ("\n".join(record) + "\n").encode())
    return path


def _record_hash(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_zip(members: dict[str, bytes]) -> bytes:
    """A zip archive of exactly these members (for wheels and zip sdists a test wants to get wrong)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in members.items():
            info = zipfile.ZipInfo(path, _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def make_tar_gz(members: dict[str, bytes]) -> bytes:
    """A gzipped tar of exactly these members."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, data in members.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1704067200
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def wheel_members(name: str, version: str, metadata: bytes) -> dict[str, bytes]:
    """The members of a minimal wheel with the given METADATA bytes, named after `name` and `version`."""
    module = _module(name)
    dist_info = f"{module}-{version}.dist-info"
    return {
        f"{module}/__init__.py": b"",
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/RECORD": b"",
    }


def zip_bomb_wheel(name: str, version: str, metadata_size: int) -> bytes:
    """A wheel whose METADATA inflates to `metadata_size` bytes of zeros from a few hundred KB."""
    module = _module(name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(f"{module}-{version}.dist-info/METADATA", _EPOCH)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(metadata_size >> 20):
                member.write(zeros)
    return buffer.getvalue()


def gzip_bomb_sdist(name: str, version: str, pkg_info_size: int) -> bytes:
    """An sdist whose PKG-INFO inflates to `pkg_info_size` bytes of zeros."""
    module = _module(name)
    raw = io.BytesIO()
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed, tarfile.open(fileobj=packed, mode="w|") as tar:
        info = tarfile.TarInfo(f"{module}-{version}/PKG-INFO")
        info.size = pkg_info_size
        tar.addfile(info, _Zeros(pkg_info_size))
    return raw.getvalue()


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        count = self.left if size < 0 else min(size, self.left)
        self.left -= count
        return bytes(count)
