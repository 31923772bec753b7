"""The core metadata inside a wheel (PEP 658 serves it on its own as <wheel>.metadata)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from rennet.domain.names import canonical_name, parse_dist_filename

__all__ = ["MAX_METADATA_BYTES", "NoMetadata", "read_wheel_metadata"]

MAX_METADATA_BYTES = 16 << 20


class NoMetadata(ValueError):
    pass


def read_wheel_metadata(path: Path, filename: str) -> bytes:
    """The bytes of <name>-<version>.dist-info/METADATA, refusing oversized or ambiguous archives."""
    parsed = parse_dist_filename(filename)
    try:
        with zipfile.ZipFile(path) as archive:
            candidates = [
                info
                for info in archive.infolist()
                if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA")
            ]
            if parsed is not None and len(candidates) > 1:
                candidates = [
                    info
                    for info in candidates
                    if canonical_name(info.filename.split("/")[0][: -len(".dist-info")].rsplit("-", 1)[0])
                    == parsed.project
                ]
            if len(candidates) != 1:
                raise NoMetadata(f"{filename} has {len(candidates)} .dist-info/METADATA files, not one")
            info = candidates[0]
            if info.file_size > MAX_METADATA_BYTES:
                raise NoMetadata(f"{filename}: METADATA is larger than {MAX_METADATA_BYTES} bytes")
            with archive.open(info) as member:
                data = member.read(MAX_METADATA_BYTES + 1)
            if len(data) > MAX_METADATA_BYTES:
                raise NoMetadata(f"{filename}: METADATA is larger than {MAX_METADATA_BYTES} bytes")
            return data
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as error:
        raise NoMetadata(f"{filename} is not a readable wheel: {error}") from None
