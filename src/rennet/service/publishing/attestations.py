"""Attestations sent with an upload (PEP 740; `twine upload --attestations`, `uv publish`): verified on this
machine, without the network, and turned into the provenance object rennet serves for the file.

Each attestation must be a PEP 740 attestation object (pypi-attestations' model); its Sigstore bundle must verify
against the trust root that the installed sigstore embeds (the public-good instance): the signing certificate
chains to Fulcio, the signature over the statement is the certificate's, the Rekor log entry proves it was
logged while the certificate was valid. Sigstore's TUF repository is never consulted (offline): a trust root
rotated after that sigstore release is unknown here. The signed statement must name the uploaded file and its
sha256 (domain/provenance.py). rennet has no trusted publishers: the publisher recorded is the one the
certificate names (GitHub, GitLab or Google), whoever that is; nothing checks that it may publish the project.

pypi-attestations and sigstore are imported on first use (about 0.3 s): servers that never receive
attestations never load them. Blocking: a server calls `verified_provenance` in a worker thread.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from rennet.domain.provenance import (
    InvalidProvenance,
    check_statement,
    parse_attestations,
    provenance_document,
    publisher_of,
)

if TYPE_CHECKING:
    from sigstore.verify import Verifier

__all__ = ["verified_provenance"]


def verified_provenance(field: str, filename: str, sha256: str) -> bytes | None:
    """The provenance object of the `attestations` form field, each attestation verified for the file (its name
    and sha256), None for an empty array; raises InvalidProvenance with a sentence for the uploader."""
    from pydantic import ValidationError
    from pypi_attestations import Attestation, AttestationType

    attestations = parse_attestations(field)
    if not attestations:
        return None
    known = frozenset(kind.value for kind in AttestationType)
    bundles: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for raw in attestations:
        try:
            attestation = Attestation.model_validate(raw)
        except ValidationError as error:
            raise InvalidProvenance(f"Invalid attestation: {_first_problem(error)}") from None
        publisher = _verify(attestation, filename, sha256, known)
        key = json.dumps(publisher, sort_keys=True)
        bundles.setdefault(key, (publisher, []))[1].append(attestation.model_dump(mode="json"))
    return provenance_document(list(bundles.values()))


def _verify(attestation: Any, filename: str, sha256: str, known: frozenset[str]) -> dict[str, Any]:
    """The publisher the attestation's certificate names, once its signature and statement verify."""
    from pypi_attestations import ConversionError
    from sigstore.errors import Error as SigstoreError
    from sigstore.verify.policy import Identity

    try:
        bundle = attestation.to_bundle()
        identity = _identity(bundle.signing_certificate)
        publisher = publisher_of(attestation.certificate_claims, identity)
        # Any signer the trust root vouches for; the publisher is recorded as the certificate names it.
        _, payload = _verifier().verify_dsse(bundle, Identity(identity=identity))
    except InvalidProvenance:
        raise
    except (ConversionError, SigstoreError, ValueError) as error:
        raise InvalidProvenance(f"Invalid attestation: its signature does not verify: {error}") from None
    try:
        statement = json.loads(payload)
    except ValueError:
        raise InvalidProvenance("Invalid attestation: its signed statement is not JSON") from None
    if not isinstance(statement, dict):
        raise InvalidProvenance("Invalid attestation: its signed statement is not an in-toto statement")
    check_statement(statement, filename, sha256, known)
    return publisher


def _identity(certificate: Any) -> str:
    """The signer's identity: the certificate's subject alternative name (a URI, an email address)."""
    from cryptography.x509 import RFC822Name, SubjectAlternativeName, UniformResourceIdentifier

    names = certificate.extensions.get_extension_for_class(SubjectAlternativeName).value
    found = [*names.get_values_for_type(UniformResourceIdentifier), *names.get_values_for_type(RFC822Name)]
    if not found:
        raise InvalidProvenance("Invalid attestation: its certificate names no signer")
    return str(found[0])


@cache
def _verifier() -> Verifier:
    """Sigstore's production verifier on the trust root embedded in the installed sigstore: no TUF refresh, and
    nothing written to the home directory (sigstore's own offline mode copies the root into a cache there)."""
    from importlib.resources import as_file, files
    from urllib.parse import quote

    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier

    try:
        from sigstore._internal.tuf import DEFAULT_TUF_URL

        # Where sigstore keeps the roots it ships (sigstore._utils.read_embedded reads them there).
        embedded = files("sigstore._store").joinpath(quote(DEFAULT_TUF_URL, safe=""), "trusted_root.json")
        with as_file(embedded) as path:
            root = TrustedRoot.from_file(str(path))
    except (ImportError, OSError):
        # A sigstore that keeps them elsewhere: its own offline mode, on the same embedded root (cached in ~).
        return Verifier.production(offline=True)
    return Verifier(trusted_root=root)


def _first_problem(error: Any) -> str:
    problems = error.errors()
    if not problems:
        return "it is not a PEP 740 attestation object"
    first = problems[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where or 'the object'}: {first.get('msg', 'invalid')}"[:300]
