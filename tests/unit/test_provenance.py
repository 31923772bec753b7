"""The pure checks of PEP 740 provenance: upstream provenance objects, the `attestations` upload field, signed
statements against the uploaded file, and the publisher a signing certificate names."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from rennet.domain.provenance import (
    MAX_ATTESTATIONS,
    MAX_PROVENANCE_BYTES,
    InvalidProvenance,
    check_provenance,
    check_statement,
    parse_attestations,
    provenance_document,
    provenance_path,
    publisher_of,
)

PUBLISH = "https://example.test/attestations/publish/v1"
SLSA = "https://example.test/provenance/v1"
KNOWN = frozenset({PUBLISH, SLSA})
SHA = "ab" * 32
PUBLISHER = {"kind": "GitHub", "repository": "o/r", "workflow": "w.yml", "environment": None}


def provenance(**changes: Any) -> bytes:
    document: dict[str, Any] = {"version": 1, "attestation_bundles": [{"publisher": PUBLISHER, "attestations": []}]}
    document.update(changes)
    return json.dumps(document).encode()


def test_a_pep_740_provenance_object_is_kept_as_sent() -> None:
    body = provenance()
    assert check_provenance(body) is body


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "not a PEP 740 provenance object"),
        (provenance(version=2), "not a PEP 740 provenance object"),
        (provenance(attestation_bundles=[]), "no list of attestation bundles"),
        (provenance(attestation_bundles={"a": 1}), "no list of attestation bundles"),
        (provenance(attestation_bundles=[{"attestations": []}]), "names no publisher"),
        (provenance(attestation_bundles=[{"publisher": PUBLISHER}]), "has no list of attestations"),
        (b" " * (MAX_PROVENANCE_BYTES + 1), "larger than"),
    ],
)
def test_anything_else_is_refused_with_a_reason(body: bytes, problem: str) -> None:
    with pytest.raises(InvalidProvenance, match=problem):
        check_provenance(body)


def attestation(predicate: str = PUBLISH) -> dict[str, Any]:
    statement = json.dumps({"predicateType": predicate}).encode()
    return {"version": 1, "envelope": {"statement": base64.b64encode(statement).decode(), "signature": ""}}


def test_the_attestations_field_is_a_json_array_of_objects() -> None:
    items = [attestation(PUBLISH), attestation(SLSA)]
    assert parse_attestations(json.dumps(items)) == items
    assert parse_attestations("[]") == [], "an empty array (some clients send one) stands for no attestations"


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        ("", "the field is not JSON"),
        ("{}", "expected a JSON array"),
        ("[1]", "every item must be a JSON object"),
        (json.dumps([attestation()] * 2), "more than one attestation of the same type"),
        (json.dumps([{}] * (MAX_ATTESTATIONS + 1)), f"at most {MAX_ATTESTATIONS}"),
        ("[" + " " * MAX_PROVENANCE_BYTES + "]", "larger than"),
    ],
)
def test_a_malformed_attestations_field_is_refused(field: str, problem: str) -> None:
    with pytest.raises(InvalidProvenance, match=problem):
        parse_attestations(field)


def statement(name: str, sha256: str = SHA, predicate: str = PUBLISH) -> dict[str, Any]:
    return {"subject": [{"name": name, "digest": {"sha256": sha256}}], "predicateType": predicate}


def test_a_statement_naming_the_file_and_its_digest_holds_however_the_name_is_spelled() -> None:
    assert check_statement(statement("foo-1.0-py3-none-any.whl"), "foo-1.0-py3-none-any.whl", SHA, KNOWN) == PUBLISH
    # The same project, version and tags: another spelling of the same file (as pypi-attestations compares).
    assert check_statement(statement("Foo-1.0.0-py3-none-any.whl"), "foo-1.0-py3-none-any.whl", SHA, KNOWN)
    assert check_statement(statement("foo_bar-2.0.tar.gz", predicate=SLSA), "foo-bar-2.0.tar.gz", SHA, KNOWN) == SLSA


@pytest.mark.parametrize(
    ("signed", "problem"),
    [
        (statement("foo-1.1-py3-none-any.whl"), "it is for 'foo-1.1-py3-none-any.whl', not for foo-1.0"),
        (statement("foo-1.0-cp312-none-any.whl"), "it is for 'foo-1.0-cp312-none-any.whl'"),
        (statement("foo-1.0.tar.gz"), "it is for 'foo-1.0.tar.gz'"),
        (statement("not a file name"), "it is for 'not a file name'"),
        (statement("foo-1.0-py3-none-any.whl", "cd" * 32), "its sha256 digest is not the one of foo-1.0"),
        (statement("foo-1.0-py3-none-any.whl", predicate="https://x.test/other"), "unknown attestation type"),
        ({"subject": []}, "exactly one subject"),
        ({"subject": [statement("a-1.whl")["subject"][0]] * 2}, "exactly one subject"),
    ],
)
def test_a_statement_for_anything_else_is_refused(signed: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidProvenance, match=problem):
        check_statement(signed, "foo-1.0-py3-none-any.whl", SHA, KNOWN)


def test_the_publisher_is_what_the_certificate_names() -> None:
    github = {
        "1.3.6.1.4.1.57264.1.8": "https://token.actions.githubusercontent.com",
        "1.3.6.1.4.1.57264.1.12": "https://github.com/octo/widget",
        "1.3.6.1.4.1.57264.1.18": "https://github.com/octo/widget/.github/workflows/release.yml@refs/tags/v1",
    }
    assert publisher_of(github, "https://github.com/octo/widget/.github/workflows/release.yml@refs/tags/v1") == {
        "kind": "GitHub",
        "repository": "octo/widget",
        "workflow": "release.yml",
        "environment": None,
    }
    gitlab = {
        "1.3.6.1.4.1.57264.1.8": "https://gitlab.com",
        "1.3.6.1.4.1.57264.1.12": "https://gitlab.com/group/sub/project",
        "1.3.6.1.4.1.57264.1.18": "https://gitlab.com/group/sub/project//ci/release.yml@refs/heads/main",
    }
    assert publisher_of(gitlab, "x")["repository"] == "group/sub/project"
    assert publisher_of(gitlab, "x")["workflow_filepath"] == "ci/release.yml"
    google = {"1.3.6.1.4.1.57264.1.8": "https://accounts.google.com"}
    assert publisher_of(google, "builder@project.iam.example") == {
        "kind": "Google",
        "email": "builder@project.iam.example",
    }
    with pytest.raises(InvalidProvenance, match="names no publisher rennet knows"):
        publisher_of({"1.3.6.1.4.1.57264.1.8": "https://issuer.test"}, "x")


def test_the_provenance_document_groups_attestations_by_publisher() -> None:
    document = json.loads(provenance_document([(PUBLISHER, [attestation()])]))
    assert document == {
        "version": 1,
        "attestation_bundles": [{"publisher": PUBLISHER, "attestations": [attestation()]}],
    }
    assert check_provenance(provenance_document([(PUBLISHER, [attestation()])]))


def test_provenance_paths_are_quoted() -> None:
    assert provenance_path("local", "foo", "foo-1.0+x-py3-none-any.whl") == (
        "local/integrity/foo/1.0%2Bx/foo-1.0%2Bx-py3-none-any.whl/provenance"
    )
    assert provenance_path("local", "foo", "foo.exe") is None
