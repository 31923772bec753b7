"""Importing existing wheels and sdists from a directory into a hosted index (`rennet import`).

Each file is checked as an upload of it would be (its name, then its own metadata against that name, then the
release rules) and published by the same code, so an import is visible to a running server at once. A file
that is there already with the same bytes is skipped; one with other bytes under the same name is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from rennet.domain.indexes import HostedIndex
from rennet.domain.names import parse_dist_filename
from rennet.domain.uploads import DIGEST_FIELDS, UploadForm, UploadRejected, check_form
from rennet.service.publishing.publish import UploadOutcome, publish
from rennet.service.runtime.resources import Storage

__all__ = ["distribution_paths", "import_file"]

CHUNK = 1 << 20


def distribution_paths(root: Path, tree: bool = False) -> tuple[list[Path], int]:
    """Files below `root` (or `root` itself) whose names say they are distributions, in name order, and the
    number of other files passed over. Hidden files and directories are passed over too, and so are the pages
    of an exported `tree` (root/simple/) and the .metadata files beside distributions, which belong to them."""
    if root.is_file():
        return [root], 0
    found: list[Path] = []
    others = 0
    for directory, subdirectories, names in os.walk(root):
        skip = {"simple"} if tree and Path(directory) == root else set()
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith(".") and d not in skip)
        present = set(names)
        for name in sorted(names):
            if not name.startswith(".") and parse_dist_filename(name) is not None:
                found.append(Path(directory) / name)
            elif not (name.endswith(".metadata") and name.removesuffix(".metadata") in present):
                others += 1
    return found, others


def import_file(
    storage: Storage,
    index: HostedIndex,
    path: Path,
    uploader: str,
    upload_time: float | None = None,
    sha256: str | None = None,
) -> UploadOutcome:
    """Add one file, or raise UploadRejected (or OSError when it cannot be read). Nothing partial stays.

    `sha256` is what a page of an exported tree says the file hashes to: other bytes are refused."""
    filename = path.name
    dist = check_form(_claim(filename), filename)
    if path.stat().st_size > index.max_upload_size:
        raise UploadRejected(f"File too large: the limit is {index.max_upload_size} bytes", 413)
    writer = storage.blobs.writer(tuple(DIGEST_FIELDS.values()))
    try:
        with path.open("rb") as source:
            while chunk := source.read(CHUNK):
                writer.write(chunk)
        if sha256 is not None and writer.hexdigests()["sha256"] != sha256.lower():
            raise UploadRejected(f"{filename} does not match the sha256 its page gives ({sha256})")
        return publish(storage, index, dist, filename, writer, uploader, upload_time)
    finally:
        writer.abort()  # nothing to do once published


def _claim(filename: str) -> UploadForm:
    """The form an uploader would send, as far as the name tells; the file's own metadata must then agree."""
    parsed = parse_dist_filename(filename)
    if parsed is None or parsed.version is None:
        return UploadForm({})  # check_form refuses the name before it looks for fields
    filetype = "bdist_wheel" if parsed.kind == "wheel" else "sdist"
    return UploadForm({"name": [parsed.project], "version": [str(parsed.version)], "filetype": [filetype]})
