"""`rennet advisories import`: OSV records from files and zips into the catalog, shown in the JSON API's
`vulnerabilities` as PyPI shows them; a malformed record is named and skipped, the rest applied; importing again
updates, and a withdrawn record lifts what it said."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.accounts import serving
from tests.support.databases import Database
from tests.support.dists import make_wheel
from tests.support.hosting import ALICE, UPLOADS, upload
from tests.support.server import LocalServer
from tests.support.store import cli
from tests.support.upstream import FakeUpstream


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, module_upstream: FakeUpstream, database: Database
) -> Iterator[LocalServer]:
    module_upstream.add(make_wheel("public-vuln", "1.0"), make_wheel("public-vuln", "1.1"))
    module_upstream.add(make_wheel("evil-thing", "1.0"), make_wheel("evil-thing", "0.9"))
    base = tmp_path_factory.mktemp("advisories")
    config = UPLOADS + LENIENT_AND_STRICT
    with serving(base, config, (ALICE,), upstream_url=module_upstream.url, database=database) as rennet:
        yield rennet


LENIENT_AND_STRICT = """
[index.lenient]
type = "hosted"
upload = ["alice"]
block_malicious = false

[index.strict]
type = "hosted"
upload = ["alice"]
block_vulnerable = true
"""


def osv(ident: str, project: str, events: list[dict[str, str]], **fields: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "modified": "2026-12-01T12:00:00Z",
        "aliases": [f"CVE-{ident[-4:]}"],
        "summary": f"{ident} summary",
        "details": "details",
        "affected": [
            {"package": {"ecosystem": "PyPI", "name": project}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
        ],
        **fields,
    }


def write(path: Path, *records: Any) -> Path:
    path.write_text(json.dumps(records[0] if len(records) == 1 else list(records)))
    return path


def vulnerabilities(server: LocalServer, path: str) -> list[str]:
    response = server.get(path)
    assert response.status_code == 200, response.text
    return [entry["id"] for entry in response.json()["vulnerabilities"]]


def test_imported_advisories_show_in_the_json_api_of_the_releases_they_name(
    server: LocalServer, tmp_path: Path
) -> None:
    upload(server, make_wheel("hosted-vuln", "1.0"), make_wheel("hosted-vuln", "2.0"))
    record = osv("GHSA-1111-2222-3333", "Hosted_Vuln", [{"introduced": "0"}, {"fixed": "2.0"}])
    done = cli(server, "advisories", "import", str(write(tmp_path / "one.json", record)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 records read, 0 skipped; advisories: 1 added, 0 changed, 0 removed" in done.stdout

    old = server.get("/local/pypi/hosted-vuln/1.0/json").json()["vulnerabilities"]
    assert old == [
        {
            "aliases": ["CVE-3333"],
            "details": "details",
            "fixed_in": ["2.0"],
            "id": "GHSA-1111-2222-3333",
            "link": "https://osv.dev/vulnerability/GHSA-1111-2222-3333",
            "source": "osv",
            "summary": "GHSA-1111-2222-3333 summary",
            "withdrawn": None,
        }
    ]
    assert vulnerabilities(server, "/local/pypi/hosted-vuln/json") == []  # the latest, 2.0, is fixed
    assert vulnerabilities(server, "/local/pypi/hosted-vuln/2.0/json") == []


def test_a_malformed_record_is_named_and_skipped_and_the_rest_applied_then_updated_by_a_new_import(
    server: LocalServer, tmp_path: Path
) -> None:
    good = osv("GHSA-4444-5555-6666", "public-vuln", [{"introduced": "1.0"}, {"fixed": "1.1"}])
    bad = osv("GHSA-7777-8888-9999", "public-vuln", [{"introduced": "not a version"}])
    bundle = tmp_path / "osv.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("GHSA-4444-5555-6666.json", json.dumps(good))
        archive.writestr("GHSA-7777-8888-9999.json", json.dumps(bad))
        archive.writestr("broken.json", "{")
    done = cli(server, "advisories", "import", str(bundle))
    assert done.returncode == 1
    assert (
        f"skipped {bundle}:GHSA-7777-8888-9999.json (GHSA-7777-8888-9999): 'not a version' in a range is not a "
        "PEP 440 version" in done.stdout
    )
    assert f"skipped {bundle}:broken.json: not JSON" in done.stdout
    assert "1 records read, 2 skipped" in done.stdout
    assert vulnerabilities(server, "/pypi/pypi/public-vuln/1.0/json") == ["GHSA-4444-5555-6666"]
    assert vulnerabilities(server, "/pypi/pypi/public-vuln/json") == []
    listed = cli(server, "advisories", "list", "--project", "Public.Vuln")
    assert listed.stdout == "GHSA-4444-5555-6666  public-vuln  >=1.0 <1.1  GHSA-4444-5555-6666 summary\n"

    withdrawn = dict(good, withdrawn="2026-12-02T00:00:00Z", modified="2026-12-02T00:00:00Z")
    again = cli(server, "advisories", "import", str(write(tmp_path / "withdrawn.json", withdrawn)))
    assert again.returncode == 0 and "0 added, 1 changed, 0 removed" in again.stdout
    assert vulnerabilities(server, "/pypi/pypi/public-vuln/1.0/json") == []
    listed = cli(server, "advisories", "list", "--project", "public-vuln")
    assert "(withdrawn)" in listed.stdout


def test_a_record_that_no_longer_names_a_project_leaves_it(server: LocalServer, tmp_path: Path) -> None:
    upload(server, make_wheel("renamed-vuln", "1.0"))
    record = osv("PYSEC-2026-0001", "renamed-vuln", [{"introduced": "0"}])
    assert cli(server, "advisories", "import", str(write(tmp_path / "a.json", record))).returncode == 0
    assert vulnerabilities(server, "/local/pypi/renamed-vuln/json") == ["PYSEC-2026-0001"]

    moved = osv("PYSEC-2026-0001", "another-name", [{"introduced": "0"}])
    done = cli(server, "advisories", "import", str(write(tmp_path / "b.json", moved)))
    assert "1 added, 0 changed, 1 removed" in done.stdout
    assert vulnerabilities(server, "/local/pypi/renamed-vuln/json") == []


def listed(server: LocalServer, index: str, project: str) -> list[str]:
    response = server.get(f"/{index}/simple/{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert response.status_code == 200, response.text
    return sorted(file["filename"] for file in response.json()["files"])


def test_files_a_malicious_package_report_names_are_neither_listed_nor_served_until_it_is_withdrawn(
    server: LocalServer, tmp_path: Path
) -> None:
    bad, good = make_wheel("evil-thing", "1.0"), make_wheel("evil-thing", "0.9")
    assert listed(server, "pypi", "evil-thing") == [good.filename, bad.filename]  # cached before the import
    assert server.get(f"/pypi/files/evil-thing/{bad.filename}").status_code == 200
    report = osv("MAL-2026-4242", "evil-thing", [{"introduced": "1.0"}, {"last_affected": "1.0"}])
    assert cli(server, "advisories", "import", str(write(tmp_path / "mal.json", report))).returncode == 0

    for index in ("pypi", "default"):  # the proxy, and the default group in front of it
        assert listed(server, index, "evil-thing") == [good.filename]
        refused = server.get(f"/{index}/files/evil-thing/{bad.filename}")
        assert refused.status_code == 403
        assert refused.text.startswith(
            f"{bad.filename} is blocked by index 'pypi': advisory MAL-2026-4242 reports it as malicious: "
            "MAL-2026-4242 summary"
        )
        assert server.get(f"/{index}/files/evil-thing/{good.filename}").status_code == 200
        described = server.get(f"/{index}/pypi/evil-thing/json").json()  # the JSON API leaves it out too
        assert [f["filename"] for f in described["urls"]] == []  # 1.0, the latest, has no file left
        assert set(described["releases"]) == {"0.9"}
    assert "rennet.policy" in server.log() and "MAL-2026-4242" in server.log()

    withdrawn = dict(report, withdrawn="2026-12-03T00:00:00Z")
    assert cli(server, "advisories", "import", str(write(tmp_path / "lifted.json", withdrawn))).returncode == 0
    assert listed(server, "default", "evil-thing") == [good.filename, bad.filename]
    assert server.get(f"/default/files/evil-thing/{bad.filename}").status_code == 200


def test_each_index_chooses_what_it_blocks(server: LocalServer, tmp_path: Path) -> None:
    malicious, vulnerable = make_wheel("chosen-mal", "1.0"), make_wheel("chosen-vuln", "1.0")
    for index in ("local", "lenient", "strict"):
        upload(server, malicious, vulnerable, index=index)
    records = (
        osv("MAL-2026-0007", "chosen-mal", [{"introduced": "0"}]),
        osv("GHSA-0000-0000-0007", "chosen-vuln", [{"introduced": "0"}]),
    )
    assert cli(server, "advisories", "import", str(write(tmp_path / "both.json", *records))).returncode == 0

    shown = {index: listed(server, index, "chosen-mal") + listed(server, index, "chosen-vuln") for index in (
        "local", "lenient", "strict")}  # fmt: skip
    assert shown == {
        "local": [vulnerable.filename],  # by default: malicious packages only
        "lenient": [malicious.filename, vulnerable.filename],  # block_malicious = false
        "strict": [],  # block_vulnerable = true
    }
    assert server.get("/strict/pypi/chosen-vuln/json").status_code == 404  # no file left to describe
    assert server.get("/lenient/pypi/chosen-mal/json").status_code == 200
    refused = server.get(f"/strict/files/chosen-vuln/{vulnerable.filename}")
    assert refused.status_code == 403
    assert "advisory GHSA-0000-0000-0007 reports a vulnerability in it" in refused.text
