"""Verifying real attestations offline (tests/fixtures/attestations/README.md): sigstore's embedded trust root,
no network, nothing written outside the test's own directories."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rennet.domain.provenance import InvalidProvenance
from rennet.service.publishing.attestations import verified_provenance

FIXTURES = Path(__file__).parent.parent / "fixtures" / "attestations"


def fixture(name: str) -> tuple[str, str]:
    """The attestations field for the fixture file, and the file's sha256."""
    attestation = (FIXTURES / f"{name}.publish.attestation").read_text()
    return f"[{attestation}]", hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("name", "publisher"),
    [
        (
            "pypi_attestations-0.0.19.tar.gz",
            {"kind": "GitHub", "repository": "trailofbits/pypi-attestations", "workflow": "release.yml"},
        ),
        (
            "gitlab_oidc_project-0.0.3.tar.gz",
            {"kind": "GitLab", "repository": "facutuesca/gitlab-oidc-project", "workflow_filepath": ".gitlab-ci.yml"},
        ),
    ],
)
def test_a_real_attestation_verifies_offline_and_names_its_publisher(
    name: str, publisher: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    field, sha256 = fixture(name)
    made = verified_provenance(field, name, sha256)
    assert made is not None
    document = json.loads(made)
    (bundle,) = document["attestation_bundles"]
    assert bundle["publisher"] == publisher | {"environment": None}
    assert bundle["attestations"] == json.loads(field)
    assert list(tmp_path.iterdir()) == [], "sigstore's cache of the trust root is not used"
    with pytest.raises(InvalidProvenance, match="its sha256 digest is not the one of"):
        verified_provenance(field, name, hashlib.sha256(b"other bytes").hexdigest())
    assert verified_provenance("[]", name, sha256) is None, "an empty array stands for no attestations"
