"""PEP 740 provenance: the checks rennet makes on provenance objects and on uploaded attestations, without I/O.

A provenance object is `{"version": 1, "attestation_bundles": [{"publisher": {...}, "attestations": [...]}]}`,
served by the Integrity API at `<index>/integrity/<project>/<version>/<filename>/provenance`. rennet serves
only what it holds: an upstream's provenance is fetched once, checked here for shape and size, and stored; an
upload's attestations are checked here (their statement names the uploaded file and its sha256) after the
service has verified their signatures, and wrapped into a provenance object with the publisher their
certificate names.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from rennet.domain.names import parse_dist_filename

__all__ = [
    "MAX_ATTESTATIONS",
    "MAX_PROVENANCE_BYTES",
    "InvalidProvenance",
    "check_provenance",
    "check_statement",
    "parse_attestations",
    "provenance_document",
    "provenance_path",
    "publisher_of",
]

# A provenance object holds a few attestations of a few KiB each (a certificate, a log entry, a signature).
MAX_PROVENANCE_BYTES = 1 << 20
MAX_ATTESTATIONS = 16

# Fulcio's certificate extensions (sigstore's OID registry) that name who signed.
ISSUER = "1.3.6.1.4.1.57264.1.8"
SOURCE_REPOSITORY = "1.3.6.1.4.1.57264.1.12"
BUILD_CONFIG = "1.3.6.1.4.1.57264.1.18"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")


class InvalidProvenance(ValueError):
    """Why a provenance object or an attestation is refused: a sentence for people."""


def provenance_path(index: str, project: str, filename: str) -> str | None:
    """The Integrity API path of a file's provenance below the server root; None for a name without a version."""
    parsed = parse_dist_filename(filename)
    if parsed is None or parsed.version is None:
        return None
    return f"{index}/integrity/{project}/{quote(str(parsed.version), safe='')}/{quote(filename, safe='')}/provenance"


def check_provenance(body: bytes) -> bytes:
    """An upstream's provenance object, as sent, if it is one: small JSON of PEP 740's shape."""
    if len(body) > MAX_PROVENANCE_BYTES:
        raise InvalidProvenance(f"the provenance is larger than {MAX_PROVENANCE_BYTES} bytes")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidProvenance("the provenance is not JSON") from None
    if not isinstance(document, dict) or document.get("version") != 1:
        raise InvalidProvenance("the provenance is not a PEP 740 provenance object (version 1)")
    bundles = document.get("attestation_bundles")
    if not isinstance(bundles, list) or not bundles:
        raise InvalidProvenance("the provenance has no list of attestation bundles")
    for bundle in bundles:
        if not isinstance(bundle, dict) or not isinstance(bundle.get("publisher"), dict):
            raise InvalidProvenance("an attestation bundle of the provenance names no publisher")
        if not isinstance(bundle.get("attestations"), list):
            raise InvalidProvenance("an attestation bundle of the provenance has no list of attestations")
    return body


def parse_attestations(text: str) -> list[dict[str, Any]]:
    """The upload form's `attestations` field: a JSON array of attestation objects (PEP 740); an empty one (some
    clients send it) stands for none."""
    if len(text.encode()) > MAX_PROVENANCE_BYTES:
        raise InvalidProvenance(f"Invalid attestations: larger than {MAX_PROVENANCE_BYTES} bytes")
    try:
        found = json.loads(text)
    except ValueError:
        raise InvalidProvenance("Invalid attestations: the field is not JSON") from None
    if not isinstance(found, list):
        raise InvalidProvenance("Invalid attestations: expected a JSON array of attestation objects")
    if len(found) > MAX_ATTESTATIONS:
        raise InvalidProvenance(f"Invalid attestations: at most {MAX_ATTESTATIONS} are accepted per file")
    if not all(isinstance(item, dict) for item in found):
        raise InvalidProvenance("Invalid attestations: every item must be a JSON object")
    predicates = [_predicate_type(item) for item in found]
    if len(set(predicates)) != len(predicates):
        raise InvalidProvenance("Invalid attestations: more than one attestation of the same type")
    return found


def _predicate_type(attestation: Mapping[str, Any]) -> str | None:
    """The predicate type of an attestation's statement, if it can be read without verifying anything."""
    envelope = attestation.get("envelope")
    statement = envelope.get("statement") if isinstance(envelope, dict) else None
    if not isinstance(statement, str):
        return None
    try:
        decoded = json.loads(base64.b64decode(statement, validate=True))
    except (ValueError, binascii.Error):
        return None
    value = decoded.get("predicateType") if isinstance(decoded, dict) else None
    return value if isinstance(value, str) else None


def check_statement(statement: Mapping[str, Any], filename: str, sha256: str, known: Collection[str]) -> str:
    """A signed in-toto statement must attest exactly the uploaded file: its one subject names this file
    (the same project, version and tags, however spelled) with this sha256, and its type is one of `known`
    (those PyPI accepts). Returns the predicate type."""
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise InvalidProvenance("Invalid attestation: its statement must name exactly one subject")
    subject = subjects[0]
    name = subject.get("name")
    key = _dist_key(name) if isinstance(name, str) else None
    if key is None or key != _dist_key(filename):
        raise InvalidProvenance(f"Invalid attestation: it is for {str(name)[:200]!r}, not for {filename}")
    digest = subject.get("digest")
    if not isinstance(digest, dict) or digest.get("sha256") != sha256:
        raise InvalidProvenance(f"Invalid attestation: its sha256 digest is not the one of {filename}")
    predicate = statement.get("predicateType")
    if predicate not in known:
        raise InvalidProvenance(f"Invalid attestation: unknown attestation type {str(predicate)[:200]!r}")
    return str(predicate)


DistKey = tuple[NormalizedName, Version] | tuple[NormalizedName, Version, Any, frozenset[Tag]]


def _dist_key(filename: str) -> DistKey | None:
    """What a file name says (as pypi-attestations compares subjects): name, version, and a wheel's build and tags."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def publisher_of(claims: Mapping[str, str], identity: str) -> dict[str, Any]:
    """The PEP 740 publisher that the signing certificate names (its Fulcio extensions and its identity, the
    certificate's subject alternative name). rennet has no trusted publishers of its own: the publisher is what
    the certificate says, recorded as such. Raises InvalidProvenance for an issuer with no publisher kind."""
    issuer = claims.get(ISSUER, "")
    repository_url = claims.get(SOURCE_REPOSITORY, "")
    build_config = claims.get(BUILD_CONFIG, "")
    if issuer == GITHUB_ISSUER:
        repository = repository_url.removeprefix("https://github.com/")
        # ".../.github/workflows/release.yml@refs/tags/v1": the workflow's file name.
        workflow = build_config.split("@", 1)[0].rsplit("/", 1)[-1]
        return {"kind": "GitHub", "repository": repository, "workflow": workflow, "environment": None}
    if issuer == GITLAB_ISSUER:
        repository = repository_url.removeprefix("https://gitlab.com/")
        # "https://gitlab.com/<repository>//<path>@<ref>": the CI file's path in the repository.
        path = build_config.split("@", 1)[0].split("//", 2)[-1]
        return {"kind": "GitLab", "repository": repository, "workflow_filepath": path, "environment": None}
    if issuer in GOOGLE_ISSUERS:
        return {"kind": "Google", "email": identity}
    raise InvalidProvenance(
        f"Invalid attestation: signed through {issuer[:200] or 'an unnamed issuer'!r}, which names no "
        "publisher rennet knows (GitHub, GitLab or Google)"
    )


def provenance_document(bundles: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]]) -> bytes:
    """The provenance object for (publisher, attestations) pairs, as the Integrity API serves it."""
    document = {
        "version": 1,
        "attestation_bundles": [
            {"publisher": dict(publisher), "attestations": [dict(a) for a in attestations]}
            for publisher, attestations in bundles
        ],
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
