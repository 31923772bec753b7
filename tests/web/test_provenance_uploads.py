"""Uploads that carry PEP 740 attestations (the `attestations` field twine and uv publish send): verified offline
against the uploaded file, refused with 400 and a sentence when they do not hold, and served as the file's
provenance through the Integrity API and the page's `provenance` field. The attestations are real ones, signed
by CI systems with Sigstore (tests/fixtures/attestations/README.md): nothing here needs the network."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from pypi_attestations import Attestation, Provenance

from tests.support.dists import make_sdist
from tests.support.hosting import ALICE, hosted_server
from tests.support.pages import JSON_V1
from tests.support.server import LocalServer
from tests.support.uploads import Multipart, post_upload

FIXTURES = Path(__file__).parent.parent / "fixtures" / "attestations"
GITLAB = FIXTURES / "gitlab_oidc_project-0.0.3.tar.gz"

server = hosted_server()


def attestation(dist: Path) -> str:
    return (FIXTURES / f"{dist.name}.publish.attestation").read_text()


def upload(server: LocalServer, dist: Path, attestations: str | None) -> tuple[int, str]:
    # No metadata_version: the form would have to name the one in the archive (2.3, 2.4).
    form = Multipart.for_file(dist, attestations=attestations, metadata_version=None)
    response = post_upload(f"{server.url}/local/", form, auth=ALICE)
    return response.status_code, response.text.strip()


def integrity(index: str, project: str, version: str, filename: str) -> str:
    return f"{index}/integrity/{project}/{version}/{filename}/provenance"


def test_an_upload_with_a_valid_attestation_serves_it_as_the_files_provenance(server: LocalServer) -> None:
    sent = attestation(GITLAB)
    assert upload(server, GITLAB, f"[{sent}]") == (200, f"OK: {GITLAB.name} stored")

    path = integrity("local", "gitlab-oidc-project", "0.0.3", GITLAB.name)
    page = json.loads(server.get("/local/simple/gitlab-oidc-project/", headers={"accept": JSON_V1}).content)
    (entry,) = page["files"]
    assert entry["provenance"] == f"{server.url}/{path}"
    grouped = json.loads(server.get("/simple/gitlab-oidc-project/", headers={"accept": JSON_V1}).content)
    assert (
        grouped["files"][0]["provenance"]
        == f"{server.url}/default/integrity/gitlab-oidc-project/0.0.3/{GITLAB.name}/provenance"
    )

    for url in (f"/{path}", f"/default/{path.removeprefix('local/')}", f"/{path.removeprefix('local/')}"):
        response = server.get(url)
        assert response.status_code == 200, (url, response.text)
        provenance = Provenance.model_validate_json(response.content)
        (bundle,) = provenance.attestation_bundles
        # rennet has no trusted publishers: the publisher is the one the signing certificate names.
        assert bundle.publisher.model_dump() == {
            "kind": "GitLab",
            "repository": "facutuesca/gitlab-oidc-project",
            "workflow_filepath": ".gitlab-ci.yml",
            "environment": None,
        }
        assert bundle.attestations == [Attestation.model_validate_json(sent)]


def test_an_attestation_for_another_file_is_refused_and_nothing_is_listed(server: LocalServer) -> None:
    other = make_sdist("unrelated-project", "1.0")
    form = Multipart.for_dist(other, attestations=f"[{attestation(GITLAB)}]")
    response = post_upload(f"{server.url}/local/", form, auth=ALICE)
    assert response.status_code == 400
    assert response.text.strip() == (
        f"Invalid attestation: it is for 'gitlab_oidc_project-0.0.3.tar.gz', not for {other.filename}"
    )
    assert server.get("/local/simple/unrelated-project/").status_code == 404
    # The attested name with other bytes (rebuilt, or tampered with): the signed sha256 is not theirs.
    rebuilt = make_sdist("gitlab-oidc-project", "0.0.3")
    assert rebuilt.filename == GITLAB.name
    form = Multipart.for_dist(rebuilt, attestations=f"[{attestation(GITLAB)}]")
    response = post_upload(f"{server.url}/local/", form, auth=ALICE)
    assert response.status_code == 400
    assert response.text.strip() == f"Invalid attestation: its sha256 digest is not the one of {GITLAB.name}"


def test_malformed_or_forged_attestations_are_refused_with_a_sentence(server: LocalServer) -> None:
    sent = json.loads(attestation(GITLAB))
    forged_signature = bytearray(base64.b64decode(sent["envelope"]["signature"]))
    forged_signature[10] ^= 1
    forged = sent | {"envelope": sent["envelope"] | {"signature": base64.b64encode(forged_signature).decode()}}
    cases = {
        "not json": "Invalid attestations: the field is not JSON",
        "{}": "Invalid attestations: expected a JSON array of attestation objects",
        '[{"version": 1}]': "Invalid attestation: verification_material: Field required",
        json.dumps([forged]): "Invalid attestation: its signature does not verify: DSSE: invalid signature",
    }
    for field, expected in cases.items():
        assert upload(server, GITLAB, field) == (400, expected), field


def test_an_upload_without_attestations_has_no_provenance(server: LocalServer) -> None:
    plain = make_sdist("unattested", "1.0")
    assert post_upload(f"{server.url}/local/", plain, auth=ALICE).status_code == 200
    page = json.loads(server.get("/local/simple/unattested/", headers={"accept": JSON_V1}).content)
    assert "provenance" not in page["files"][0]
    response = server.get("/" + integrity("local", "unattested", "1.0", plain.filename))
    assert response.status_code == 404
    assert response.text.strip() == f"local has no provenance for {plain.filename}"
