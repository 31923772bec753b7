"""Reading core metadata out of distribution archives: METADATA of a wheel, PKG-INFO of an sdist.

Archives come from strangers (uploads) and from upstreams: only the metadata member is decompressed, with a
hard limit, and the archive's declared sizes are checked so that a zip or gzip bomb costs nothing.
"""

from __future__ import annotations

import gzip
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rennet.domain.names import canonical_name, parse_dist_filename

__all__ = [
    "MAX_METADATA_BYTES",
    "MetadataFile",
    "NoMetadata",
    "read_metadata",
    "read_metadata_file",
    "read_wheel_metadata",
]

MAX_METADATA_BYTES = 4 << 20
MAX_TAR_MEMBERS = 100_000
MAX_SCAN_BYTES = 4 << 30  # decompressed bytes read while looking for PKG-INFO


class NoMetadata(ValueError):
    """The archive is unreadable or has no single, reasonably sized metadata file."""


@dataclass(frozen=True, slots=True)
class MetadataFile:
    data: bytes
    directory: str  # where it was: a wheel's <name>-<version>.dist-info, an sdist's top directory


def read_metadata(path: Path, filename: str) -> bytes:
    return read_metadata_file(path, filename).data


def read_metadata_file(path: Path, filename: str) -> MetadataFile:
    """The core metadata of a wheel or sdist, and the directory of the archive it was found in."""
    if filename.lower().endswith(".whl"):
        return _wheel_metadata(path, filename)
    if filename.lower().endswith(".zip"):
        return _zip_pkg_info(path, filename)
    return _tar_pkg_info(path, filename)


def read_wheel_metadata(path: Path, filename: str) -> bytes:
    """The bytes of <name>-<version>.dist-info/METADATA."""
    return _wheel_metadata(path, filename).data


def _wheel_metadata(path: Path, filename: str) -> MetadataFile:
    parsed = parse_dist_filename(filename)
    try:
        with zipfile.ZipFile(path) as archive:
            candidates = [
                info
                for info in archive.infolist()
                if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA")
            ]
            if parsed is not None and len(candidates) > 1:
                candidates = [info for info in candidates if _dist_info_project(info.filename) == parsed.project]
            if len(candidates) != 1:
                raise NoMetadata(f"{filename} has {len(candidates)} .dist-info/METADATA files, not one")
            with archive.open(candidates[0]) as member:
                return MetadataFile(_bounded(member, filename), candidates[0].filename.split("/")[0])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as error:
        raise NoMetadata(f"{filename} is not a readable wheel (zip archive): {error}") from None


def _tar_pkg_info(path: Path, filename: str) -> MetadataFile:
    try:
        with gzip.open(path, "rb") as raw, tarfile.open(fileobj=_Counting(raw), mode="r|") as archive:  # type: ignore[call-overload]
            for count, member in enumerate(archive):
                if count > MAX_TAR_MEMBERS:
                    break
                parts = member.name.strip("/").split("/")
                if len(parts) == 2 and parts[1] == "PKG-INFO" and member.isfile():
                    extracted = archive.extractfile(member)
                    if extracted is None:
                        break
                    return MetadataFile(_bounded(extracted, filename), parts[0])
    except (tarfile.TarError, OSError, EOFError, ValueError) as error:
        raise NoMetadata(f"{filename} is not a readable source distribution (tar.gz): {error}") from None
    raise NoMetadata(f"{filename} has no PKG-INFO at its top level")


def _zip_pkg_info(path: Path, filename: str) -> MetadataFile:
    try:
        with zipfile.ZipFile(path) as archive:
            found = [i for i in archive.infolist() if i.filename.count("/") == 1 and i.filename.endswith("/PKG-INFO")]
            if len(found) != 1:
                raise NoMetadata(f"{filename} has no single top-level PKG-INFO")
            with archive.open(found[0]) as member:
                return MetadataFile(_bounded(member, filename), found[0].filename.split("/")[0])
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as error:
        raise NoMetadata(f"{filename} is not a readable source distribution (zip): {error}") from None


def _bounded(member: IO[bytes], filename: str) -> bytes:
    data = member.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise NoMetadata(f"{filename}: the metadata file is larger than {MAX_METADATA_BYTES} bytes")
    return data


def _dist_info_project(member: str) -> str:
    return canonical_name(member.split("/")[0].removesuffix(".dist-info").rsplit("-", 1)[0])


class _Counting:
    """A read-only stream that refuses to decompress more than MAX_SCAN_BYTES (a gzip bomb stops here)."""

    def __init__(self, inner: gzip.GzipFile) -> None:
        self.inner = inner
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.total += len(data)
        if self.total > MAX_SCAN_BYTES:
            raise ValueError(f"more than {MAX_SCAN_BYTES} bytes decompressed before finding PKG-INFO")
        return data
