"""Wheels and sdists built by the tests themselves, byte for byte reproducible."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import random
import tarfile
import zipfile
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

_EPOCH = (2024, 1, 1, 0, 0, 0)


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
        return canonicalize_name(self.filename.split("-")[0])


def metadata_text(name: str, version: str, requires: tuple[str, ...] = (), requires_python: str | None = None) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {name} for tests"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n\n"


def make_wheel(
    name: str,
    version: str,
    requires: tuple[str, ...] = (),
    requires_python: str | None = None,
    padding: int = 0,
    tag: str = "py3-none-any",
) -> Dist:
    """A pure-Python wheel that pip and uv install: one module `<name>` with __version__."""
    module = name.replace("-", "_").replace(".", "_").lower()
    dist_info = f"{module}-{version}.dist-info"
    metadata = metadata_text(name, version, requires, requires_python).encode()
    files = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: rennet-tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    if padding:
        # Incompressible, deterministic filler so "large file" tests move real bytes.
        files[f"{module}/blob.bin"] = _filler(padding, name + version)
    record_lines = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for path, data in files.items()
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
    filename = f"{module}-{version}-{tag}.whl"
    return Dist(filename, buffer.getvalue(), metadata, requires_python)


def make_sdist(name: str, version: str, requires_python: str | None = None) -> Dist:
    module = name.replace("-", "_").replace(".", "_").lower()
    root = f"{module}-{version}"
    files = {
        f"{root}/PKG-INFO": metadata_text(name, version, (), requires_python).encode(),
        f"{root}/pyproject.toml": b'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n',
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
    packed = gzip.compress(raw.getvalue(), mtime=0)
    return Dist(f"{root}.tar.gz", packed, None, requires_python)


def _filler(size: int, seed: str) -> bytes:
    """Incompressible, deterministic bytes."""
    return random.Random(seed).randbytes(size)
