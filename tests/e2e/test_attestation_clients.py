"""Real publishing clients sending PEP 740 attestations: `twine upload --attestations` and `uv publish` (both
send the `<file>.*.attestation` files given among the paths with the distribution they name). The attestation is a real one
(tests/fixtures/attestations/README.md); rennet verifies it offline and serves it as the file's provenance."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pypi_attestations import Attestation, Provenance

from tests.e2e.test_upload_clients_e2e import run, said, sealed_env
from tests.support.hosting import ALICE, UPLOADS, hosted_server
from tests.support.installers import uv_binary
from tests.support.pages import JSON_V1
from tests.support.server import LocalServer

FIXTURES = Path(__file__).parent.parent / "fixtures" / "attestations"
SDIST = "gitlab_oidc_project-0.0.3.tar.gz"
ATTESTATION = f"{SDIST}.publish.attestation"

server = hosted_server(UPLOADS + '[index.attested]\ntype = "hosted"\nupload = ["alice"]\n')


def dist_dir(base: Path) -> Path:
    base.mkdir()
    for name in (SDIST, ATTESTATION):
        shutil.copy(FIXTURES / name, base / name)
    return base


def served_provenance(server: LocalServer, index: str) -> Provenance:
    page = server.get(f"/{index}/simple/gitlab-oidc-project/", headers={"accept": JSON_V1}).json()
    (entry,) = page["files"]
    response = server.get(entry["provenance"].removeprefix(server.url))
    assert response.status_code == 200, response.text
    return Provenance.model_validate_json(response.content)


def test_twine_uploads_attestations(server: LocalServer, tmp_path: Path) -> None:
    dist = dist_dir(tmp_path / "dist")
    env = sealed_env(tmp_path / "home")
    twine = [sys.executable, "-m", "twine", "upload", "--disable-progress-bar", "--attestations"]
    auth = ["--repository-url", f"{server.url}/local/", "-u", ALICE[0], "-p", ALICE[1]]
    done = run([*twine, *auth, str(dist / SDIST), str(dist / ATTESTATION)], env)
    assert done.returncode == 0, said(done)
    (bundle,) = served_provenance(server, "local").attestation_bundles
    assert bundle.attestations == [Attestation.model_validate_json((FIXTURES / ATTESTATION).read_bytes())]


def test_uv_publish_sends_the_attestations_beside_the_file(server: LocalServer, tmp_path: Path) -> None:
    dist = dist_dir(tmp_path / "dist")
    env = sealed_env(tmp_path / "home")
    uv = [uv_binary(), "publish", "--no-cache", "--trusted-publishing", "never"]
    auth = ["--publish-url", f"{server.url}/attested/legacy/", "--username", ALICE[0], "--password", ALICE[1]]
    # As `uv publish dist/*` does: the attestation is among the paths, grouped with the file it names.
    done = run([*uv, *auth, str(dist / SDIST), str(dist / ATTESTATION)], env)
    assert done.returncode == 0, said(done)
    (bundle,) = served_provenance(server, "attested").attestation_bundles
    assert bundle.publisher.kind == "GitLab"
    assert bundle.attestations == [Attestation.model_validate_json((FIXTURES / ATTESTATION).read_bytes())]
