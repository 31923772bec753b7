"""Validating an upload of the legacy API the way PyPI does, before anything becomes visible.

Pure checks on what the client sent (form fields, digests) and on what the file says about itself (its
METADATA). Reading the archive is the edge's job; it hands the METADATA bytes in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from packaging.metadata import InvalidMetadata, Metadata

from rennet.domain.names import (
    DistName,
    InvalidName,
    check_filename,
    check_project_name,
    parse_dist_filename,
    same_version,
)

__all__ = [
    "DIGEST_FIELDS",
    "FileMetadata",
    "UploadForm",
    "UploadRejected",
    "check_against_release",
    "check_digests",
    "check_form",
    "check_metadata",
]

SUPPORTED_METADATA_VERSIONS = frozenset({"1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5"})
# Form field -> hashlib name of what we compute while receiving the file.
DIGEST_FIELDS = {"md5_digest": "md5", "sha256_digest": "sha256", "blake2_256_digest": "blake2b_256"}
_FILETYPES = {"bdist_wheel": "wheel", "sdist": "sdist"}


class UploadRejected(ValueError):
    """Why an upload is refused; `status` is the HTTP status, the message is shown to the uploader."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class UploadForm:
    """The non-file fields of an upload, as received (multi-use fields keep every value)."""

    fields: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0].strip() if values else None


@dataclass(frozen=True, slots=True)
class FileMetadata:
    name: str
    version: str
    requires_python: str | None
    metadata_version: str
    summary: str | None = None


def check_form(form: UploadForm, filename: str) -> DistName:
    """The form's own consistency: action, protocol, filename and filetype, name and version."""
    action = form.get(":action")
    if action not in (None, "file_upload"):
        raise UploadRejected(f"Unsupported action {action[:40]!r}: only file_upload is supported")
    if form.get("protocol_version") not in (None, "1"):
        raise UploadRejected("Unknown protocol version: only protocol_version=1 is supported")
    try:
        check_filename(filename)
    except InvalidName as error:
        raise UploadRejected(f"Invalid filename: {error}") from None
    parsed = parse_dist_filename(filename)
    lowered = filename.lower()
    if parsed is None or parsed.kind == "legacy" or not lowered.endswith((".whl", ".tar.gz", ".zip")):
        raise UploadRejected(
            f"Invalid filename {filename!r}: expected a wheel (.whl) or a source distribution (.tar.gz)"
        )
    filetype = form.get("filetype")
    if filetype is not None and _FILETYPES.get(filetype) != parsed.kind:
        raise UploadRejected(f"Invalid file extension for filetype {filetype!r}: {filename}")
    name, version = form.get("name"), form.get("version")
    if not name or not version:
        raise UploadRejected("Missing name or version in the upload form")
    try:
        normalized = check_project_name(name)
    except InvalidName as error:
        raise UploadRejected(f"Invalid project name: {error}") from None
    if normalized != parsed.project:
        raise UploadRejected(f"Filename {filename!r} does not belong to project {name!r}")
    if parsed.version is None or not same_version(version, parsed.version):
        raise UploadRejected(f"Filename {filename!r} does not match version {version!r}")
    metadata_version = form.get("metadata_version")
    if metadata_version is not None and metadata_version not in SUPPORTED_METADATA_VERSIONS:
        raise UploadRejected(f"Unsupported metadata version {metadata_version[:20]!r}")
    return parsed


def check_digests(form: UploadForm, computed: Mapping[str, str]) -> None:
    """Every digest the client sent must match what was received; at least one is needed."""
    sent = {algorithm: form.get(key) for key, algorithm in DIGEST_FIELDS.items() if form.get(key)}
    if not sent:
        raise UploadRejected("Include at least one message digest (sha256_digest, md5_digest or blake2_256_digest)")
    for algorithm, value in sent.items():
        assert value is not None
        if computed.get(algorithm) != value.lower():
            raise UploadRejected(f"The {algorithm} digest does not match the uploaded file")


def check_metadata(raw: bytes, dist: DistName, filename: str) -> FileMetadata:
    """The file's own METADATA (or PKG-INFO) must be valid and name the same project and version."""
    try:
        metadata = Metadata.from_email(raw, validate=True)
    except (InvalidMetadata, ExceptionGroup) as error:
        raise UploadRejected(f"Invalid metadata in {filename}: {_describe(error)}") from None
    if metadata.metadata_version not in SUPPORTED_METADATA_VERSIONS:
        raise UploadRejected(f"Unsupported metadata version {metadata.metadata_version!r} in {filename}")
    try:
        name = check_project_name(metadata.name)
    except InvalidName as error:
        raise UploadRejected(f"Invalid project name in {filename}: {error}") from None
    if name != dist.project:
        raise UploadRejected(f"{filename} contains metadata for {metadata.name!r}, not {dist.project!r}")
    if dist.version is None or metadata.version != dist.version:
        raise UploadRejected(f"{filename} contains metadata for version {metadata.version}, not {dist.version}")
    return FileMetadata(
        name=metadata.name,
        version=str(metadata.version),
        requires_python=str(metadata.requires_python) if metadata.requires_python else None,
        metadata_version=metadata.metadata_version,
        summary=metadata.summary or None,
    )


def check_archive_directory(directory: str, dist: DistName, filename: str) -> None:
    """A wheel's .dist-info directory, and an sdist's top directory, name the project and version of the file
    name: installers take the project from there, and a wheel of one project named as another is a swap."""
    kind = "its .dist-info directory" if dist.kind == "wheel" else "its top directory"
    stem = directory.removesuffix(".dist-info") if dist.kind == "wheel" else directory
    name, _, version = stem.rpartition("-")
    try:
        project = check_project_name(name)
    except InvalidName:
        project = None
    if project != dist.project or dist.version is None or not version or not same_version(version, dist.version):
        raise UploadRejected(
            f"Invalid distribution file: {kind} {directory[:100]!r} does not match {filename} "
            f"(project {dist.project}, version {dist.version})"
        )


def check_against_release(
    filename: str, sha256: str, identity: str | None, existing: Mapping[str, tuple[str | None, str | None]]
) -> bool:
    """Rules against what the project already holds; True when the very same file is already there.

    `existing` maps filenames of the project to (sha256, file identity): the file of this name and the files
    that are the same file of the same release under another spelling (names.file_identity). Other bytes under
    another spelling of a published name would change what an exact pin installs.
    """
    if filename in existing:
        if existing[filename][0] == sha256:
            return True
        raise UploadRejected(f"File already exists: {filename} was uploaded before with other contents")
    if identity is None:
        return False
    for other, (other_sha256, other_identity) in existing.items():
        if other_identity != identity:
            continue
        if identity.startswith("sdist"):
            raise UploadRejected(f"Only one sdist may be uploaded per release: {other} exists already")
        if other_sha256 == sha256:
            return True
        raise UploadRejected(
            f"File already exists: {other} is the same release and tags as {filename}, with other contents"
        )
    return False


def _describe(error: BaseException) -> str:
    if isinstance(error, ExceptionGroup):
        return "; ".join(_describe(inner) for inner in error.exceptions)[:500]
    return str(error)[:500]
