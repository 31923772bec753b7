"""Rendering project pages, read back with pypi_simple to show that clients understand them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pypi_simple
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rennet.domain.files import DistFile, ProjectPage, ProjectStatus
from rennet.domain.simple import (
    API_VERSION,
    file_path,
    format_upload_time,
    render_project_html,
    render_project_json,
    root_html_chunks,
    root_json_chunks,
)

SHA = "a" * 64
META_SHA = "b" * 64
PAGE_URL = "http://rennet.test/simple/foo/"
PREFIX = "../../"
ORIGIN = "http://rennet.test/"
PEP_700_TIME = re.compile(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z\Z")


def dist(filename: str = "foo-1.0-py3-none-any.whl", **fields: Any) -> DistFile:
    values: dict[str, Any] = {"index": "pypi", "hashes": {"sha256": SHA}}
    values.update(fields)
    return DistFile(filename=filename, **values)


def page(*files: DistFile, **fields: Any) -> ProjectPage:
    return ProjectPage(name="foo", files=files, **fields)  # type: ignore[arg-type]


def html_of(project: ProjectPage, prefix: str = PREFIX) -> pypi_simple.ProjectPage:
    body = render_project_html(project, prefix, origin=ORIGIN)
    return pypi_simple.ProjectPage.from_html(project.name, body, base_url=PAGE_URL)


def json_data(project: ProjectPage, prefix: str = PREFIX) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render_project_json(project, prefix, origin=ORIGIN))
    return data


def json_of(project: ProjectPage, prefix: str = PREFIX) -> pypi_simple.ProjectPage:
    return pypi_simple.ProjectPage.from_json_data(json_data(project, prefix), base_url=PAGE_URL)


def both(project: ProjectPage) -> list[pypi_simple.ProjectPage]:
    return [html_of(project), json_of(project)]


def all_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from all_keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from all_keys(inner)


# -- what a client reads ------------------------------------------------------------------------------------------


def test_clients_read_every_field_back() -> None:
    uploaded = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    project = page(
        dist(
            requires_python=">=3.8,<4",
            size=1234,
            upload_time=uploaded,
            core_metadata={"sha256": META_SHA},
            provenance="https://provenance.test/foo-1.0.json",
        ),
        dist("foo-0.9.tar.gz", yanked=True, yanked_reason="broken"),
    )
    for parsed in both(project):
        assert parsed.repository_version == API_VERSION
        wheel, sdist = parsed.packages
        assert wheel.filename == "foo-1.0-py3-none-any.whl"
        assert wheel.url == "http://rennet.test/pypi/files/foo/foo-1.0-py3-none-any.whl"
        assert wheel.digests == {"sha256": SHA}
        assert wheel.requires_python == ">=3.8,<4"
        assert wheel.has_metadata is True
        assert wheel.metadata_digests == {"sha256": META_SHA}
        # rennet's own Integrity API, never the upstream's URL (rennet fetches and keeps the provenance).
        assert wheel.provenance_url == "http://rennet.test/pypi/integrity/foo/1.0/foo-1.0-py3-none-any.whl/provenance"
        assert wheel.is_yanked is False
        assert wheel.version == "1.0"
        assert sdist.is_yanked is True
        assert sdist.yanked_reason == "broken"
        assert sdist.package_type == "sdist"
    from_json = json_of(project).packages[0]
    assert from_json.size == 1234
    assert from_json.upload_time == uploaded


def test_html_page_shape() -> None:
    body = render_project_html(page(dist()), PREFIX).decode()
    assert body.startswith("<!DOCTYPE html>")
    assert '<meta name="pypi:repository-version" content="1.4">' in body
    assert "<title>Links for foo</title>" in body
    assert f'href="../../pypi/files/foo/foo-1.0-py3-none-any.whl#sha256={SHA}"' in body
    assert ">foo-1.0-py3-none-any.whl</a>" in body


def test_json_page_shape() -> None:
    data = json_data(page(dist(size=3)))
    assert data["meta"] == {"api-version": "1.4"}
    assert data["name"] == "foo"
    assert data["versions"] == ["1.0"]
    (entry,) = data["files"]
    assert entry["filename"] == "foo-1.0-py3-none-any.whl"
    assert entry["url"] == "../../pypi/files/foo/foo-1.0-py3-none-any.whl"
    assert entry["hashes"] == {"sha256": SHA}
    assert entry["requires-python"] is None
    assert entry["yanked"] is False
    assert entry["core-metadata"] is False
    assert entry["size"] == 3
    assert "provenance" not in entry
    assert "upload-time" not in entry
    assert "project-status" not in data


def test_provenance_url_names_the_serving_index_and_the_file() -> None:
    uploaded = dist("foo-1.0+local-py3-none-any.whl", provenance_sha256="c" * 64)
    for parsed in both(page(uploaded)):
        (wheel,) = parsed.packages
        assert wheel.provenance_url == (
            "http://rennet.test/pypi/integrity/foo/1.0%2Blocal/foo-1.0%2Blocal-py3-none-any.whl/provenance"
        )
    # A group serves its members' provenance under its own name, as it serves their files.
    (entry,) = json.loads(render_project_json(page(uploaded), PREFIX, "default"))["files"]
    assert (
        entry["provenance"] == "../../default/integrity/foo/1.0%2Blocal/foo-1.0%2Blocal-py3-none-any.whl/provenance"
    )


def test_static_pages_name_no_provenance() -> None:
    # An exported tree has no Integrity API to point at.
    project = page(dist(provenance="https://provenance.test/x", provenance_sha256="c" * 64))
    (entry,) = json.loads(render_project_json(project, PREFIX, static=True))["files"]
    assert "provenance" not in entry
    assert "data-provenance" not in render_project_html(project, PREFIX, static=True).decode()


# -- escaping -----------------------------------------------------------------------------------------------------

NASTY = "\"'><script>alert(1)</script>&amp;"


def test_every_html_attribute_is_escaped() -> None:
    project = page(
        dist(
            "foo-1.0-py3-none-any.whl",
            hashes={"sha256": 'x"><b>'},
            requires_python="<3.12,>=3.8",
            yanked=True,
            yanked_reason=NASTY,
            core_metadata={"sha256": '"><i>'},
            provenance='https://p.test/"><u>',
        ),
        status=ProjectStatus.DEPRECATED,
        status_reason=NASTY,
    )
    body = render_project_html(project, PREFIX).decode()
    for raw in ("<script>", "<b>", "<i>", "<u>", '"><', "<3.12"):
        assert raw not in body
    assert 'data-requires-python="&lt;3.12,&gt;=3.8"' in body
    (parsed,) = html_of(project).packages
    assert parsed.requires_python == "<3.12,>=3.8"
    assert parsed.yanked_reason == NASTY
    assert parsed.provenance_url == "http://rennet.test/pypi/integrity/foo/1.0/foo-1.0-py3-none-any.whl/provenance"
    assert html_of(project).status_reason == NASTY


def test_filenames_and_names_are_escaped_in_anchor_text() -> None:
    body = render_project_html(page(dist("foo-1.0&<b>.tar.gz")), PREFIX).decode()
    assert ">foo-1.0&amp;&lt;b&gt;.tar.gz</a>" in body


def test_json_keeps_text_as_is() -> None:
    data = json_data(page(dist(requires_python="<4", yanked=True, yanked_reason=NASTY)))
    assert data["files"][0]["requires-python"] == "<4"
    assert data["files"][0]["yanked"] == NASTY


def test_json_is_utf8_not_ascii_escaped() -> None:
    body = render_project_json(page(dist(yanked=True, yanked_reason="défaut")), PREFIX)
    assert "défaut".encode() in body


# -- core metadata (PEP 658 / PEP 714) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("core_metadata", "html_value", "json_value"),
    [
        (None, None, False),
        ({}, "true", True),
        ({"sha256": META_SHA}, f"sha256={META_SHA}", {"sha256": META_SHA}),
        ({"md5": "c" * 32, "sha256": META_SHA}, f"sha256={META_SHA}", {"md5": "c" * 32, "sha256": META_SHA}),
    ],
)
def test_core_metadata(core_metadata: dict[str, str] | None, html_value: str | None, json_value: Any) -> None:
    project = page(dist(core_metadata=core_metadata))
    body = render_project_html(project, PREFIX).decode()
    if html_value is None:
        assert "data-core-metadata" not in body
        assert "data-dist-info-metadata" not in body
    else:
        # Both names: pip before 23.x reads only the older one.
        assert f'data-core-metadata="{html_value}"' in body
        assert f'data-dist-info-metadata="{html_value}"' in body
    data = json_data(project)
    assert data["files"][0]["core-metadata"] == json_value
    for parsed in both(project):
        # pypi_simple reads an absent HTML attribute as "unknown" (None).
        assert bool(parsed.packages[0].has_metadata) is (core_metadata is not None)


@given(
    st.dictionaries(st.sampled_from(["sha256", "md5", "sha512"]), st.text(alphabet="0123456789abcdef", min_size=1)),
    st.booleans(),
    st.text(max_size=20),
)
def test_json_never_has_the_dist_info_metadata_key(hashes: dict[str, str], yanked: bool, reason: str) -> None:
    project = page(
        dist(core_metadata=hashes, yanked=yanked, yanked_reason=reason),
        dist("foo-1.0.tar.gz"),
        status=ProjectStatus.ACTIVE,
    )
    assert "dist-info-metadata" not in set(all_keys(json_data(project)))


# -- hashes -------------------------------------------------------------------------------------------------------


def test_fragment_uses_the_strongest_hash() -> None:
    body = render_project_html(page(dist(hashes={"md5": "c" * 32, "sha512": "d" * 128})), PREFIX).decode()
    assert "#sha512=" + "d" * 128 + '"' in body
    body = render_project_html(page(dist(hashes={"md5": "c" * 32})), PREFIX).decode()
    assert "#md5=" + "c" * 32 + '"' in body


def test_no_hash_means_no_fragment() -> None:
    body = render_project_html(page(dist(hashes={})), PREFIX).decode()
    assert 'href="../../pypi/files/foo/foo-1.0-py3-none-any.whl"' in body
    assert json_data(page(dist(hashes={})))["files"][0]["hashes"] == {}


# -- upload time (PEP 700) ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 60, tzinfo=UTC), "2024-01-02T03:04:05.000060Z"),
        (datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05Z"),  # naive means UTC
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))), "2024-01-02T01:04:05Z"),
        (datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5))), "2023-12-31T19:30:00Z"),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05Z"),
    ],
)
def test_upload_time_format(moment: datetime, text: str) -> None:
    assert format_upload_time(moment) == text


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_upload_time_always_has_the_pep_700_shape(moment: datetime) -> None:
    text = format_upload_time(moment)
    assert PEP_700_TIME.match(text)
    assert datetime.fromisoformat(text.replace("Z", "+00:00")) == moment


def test_upload_time_only_in_json_and_only_when_known() -> None:
    data = json_data(page(dist(upload_time=datetime(2020, 2, 2, tzinfo=UTC)), dist("foo-1.0.tar.gz")))
    assert data["files"][0]["upload-time"] == "2020-02-02T00:00:00Z"
    assert "upload-time" not in data["files"][1]


@pytest.mark.parametrize(("size", "present"), [(None, False), (0, True), (1, True), (5 * 1024**3, True)])
def test_size_only_when_known(size: int | None, present: bool) -> None:
    entry = json_data(page(dist(size=size)))["files"][0]
    assert ("size" in entry) is present
    if present:
        assert entry["size"] == size


# -- project status (PEP 792) -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [ProjectStatus.ACTIVE, ProjectStatus.ARCHIVED, ProjectStatus.DEPRECATED])
def test_project_status(status: ProjectStatus) -> None:
    project = page(dist(), status=status, status_reason="see the docs")
    body = render_project_html(project, PREFIX).decode()
    assert f'<meta name="pypi:project-status" content="{status.value}">' in body
    assert '<meta name="pypi:project-status-reason" content="see the docs">' in body
    assert json_data(project)["project-status"] == {"status": status.value, "reason": "see the docs"}
    for parsed in both(project):
        assert parsed.status is not None
        assert parsed.status.value == status.value
        assert parsed.status_reason == "see the docs"
        assert len(parsed.packages) == 1


def test_status_without_reason() -> None:
    project = page(dist(), status=ProjectStatus.ARCHIVED)
    assert "project-status-reason" not in render_project_html(project, PREFIX).decode()
    assert json_data(project)["project-status"] == {"status": "archived"}


def test_no_status_no_marker() -> None:
    project = page(dist())
    assert "pypi:project-status" not in render_project_html(project, PREFIX).decode()
    assert "project-status" not in json_data(project)


def test_quarantined_projects_list_no_files() -> None:
    project = page(dist(), dist("foo-2.0.tar.gz"), status=ProjectStatus.QUARANTINED, status_reason="malware")
    body = render_project_html(project, PREFIX).decode()
    assert "<a " not in body
    assert "foo-2.0" not in body
    data = json_data(project)
    assert data["files"] == []
    assert data["versions"] == []
    assert data["project-status"] == {"status": "quarantined", "reason": "malware"}
    for parsed in both(project):
        assert parsed.packages == []
        assert parsed.status is pypi_simple.ProjectStatus.QUARANTINED


# -- URLs ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "encoded"),
    [
        ("foo-1.0+local-py3-none-any.whl", "foo-1.0%2Blocal-py3-none-any.whl"),
        ("foo-1.0+cu121.tar.gz", "foo-1.0%2Bcu121.tar.gz"),
        ("foo?x=1.tar.gz", "foo%3Fx%3D1.tar.gz"),
        ("foo#1.tar.gz", "foo%231.tar.gz"),
        ("foo%2F1.tar.gz", "foo%252F1.tar.gz"),
        ("Foo Bar-1.0.zip", "Foo%20Bar-1.0.zip"),
        ("foo-é.tar.gz", "foo-%C3%A9.tar.gz"),
    ],
)
def test_file_urls_are_percent_encoded_without_query(filename: str, encoded: str) -> None:
    assert file_path("pypi", "foo", filename) == f"pypi/files/foo/{encoded}"
    url = json_data(page(dist(filename, hashes={})))["files"][0]["url"]
    assert url == f"../../pypi/files/foo/{encoded}"
    assert "?" not in url
    assert "#" not in url
    # pip derives the metadata URL by appending ".metadata" to the URL without its fragment.
    (parsed,) = html_of(page(dist(filename))).packages
    assert parsed.url == f"http://rennet.test/pypi/files/foo/{encoded}"
    assert parsed.filename == filename


@pytest.mark.parametrize(
    ("prefix", "page_url", "absolute"),
    [
        ("../../", "http://h.test/simple/foo/", "http://h.test/pypi/files/foo/"),
        ("../../../", "http://h.test/group/simple/foo/", "http://h.test/pypi/files/foo/"),
        ("../../../", "http://h.test/mount/here/simple/foo/", "http://h.test/mount/pypi/files/foo/"),
        ("/", "http://h.test/simple/foo/", "http://h.test/pypi/files/foo/"),
    ],
)
def test_relative_prefixes_resolve_from_the_page(prefix: str, page_url: str, absolute: str) -> None:
    project = page(dist())
    html = pypi_simple.ProjectPage.from_html("foo", render_project_html(project, prefix), base_url=page_url)
    data = json.loads(render_project_json(project, prefix))
    from_json = pypi_simple.ProjectPage.from_json_data(data, base_url=page_url)
    for parsed in (html, from_json):
        assert parsed.packages[0].url == absolute + "foo-1.0-py3-none-any.whl"


def test_each_file_links_under_its_own_index() -> None:
    project = page(dist("foo-1.0.tar.gz", index="local"), dist("foo-0.1.tar.gz", index="pypi"))
    urls = [f["url"] for f in json_data(project)["files"]]
    assert urls == ["../../local/files/foo/foo-1.0.tar.gz", "../../pypi/files/foo/foo-0.1.tar.gz"]


def test_source_url_never_appears() -> None:
    project = page(dist(source_url="https://upstream.test/secret/foo-1.0-py3-none-any.whl?token=x"))
    assert b"upstream.test" not in render_project_html(project, PREFIX)
    assert b"upstream.test" not in render_project_json(project, PREFIX)


# -- versions (PEP 700) -------------------------------------------------------------------------------------------


def test_versions_merge_page_and_files_in_version_order() -> None:
    project = page(
        dist("foo-10.0-py3-none-any.whl"),
        dist("foo-2.0.tar.gz"),
        dist("foo-2.0-py3-none-any.whl"),
        versions=("1.0", "2.0", "3.0rc1"),
    )
    data = json_data(project)
    assert data["versions"] == ["1.0", "2.0", "3.0rc1", "10.0"]
    assert json_of(project).versions == ["1.0", "2.0", "3.0rc1", "10.0"]


# -- the project list ---------------------------------------------------------------------------------------------


def test_root_html_lists_normalized_links_and_escapes_names() -> None:
    names = ["Foo_Bar", "zope.interface", 'x"><script>']
    body = "".join(root_html_chunks(names))
    assert '<a href="foo-bar/">Foo_Bar</a>' in body
    assert '<a href="zope-interface/">zope.interface</a>' in body
    assert "<script>" not in body
    assert 'href="x%22%3E%3Cscript%3E/"' in body
    parsed = pypi_simple.IndexPage.from_html(body)
    assert parsed.projects == names
    assert parsed.repository_version == API_VERSION


def test_root_json() -> None:
    names = ["Foo_Bar", 'we"ird', "défaut"]
    data = json.loads("".join(root_json_chunks(names)))
    assert data == {"meta": {"api-version": "1.4"}, "projects": [{"name": n} for n in names]}
    assert pypi_simple.IndexPage.from_json_data(data).projects == names


def test_empty_root() -> None:
    assert json.loads("".join(root_json_chunks([])))["projects"] == []
    assert pypi_simple.IndexPage.from_html("".join(root_html_chunks([]))).projects == []


def test_root_is_streamed_lazily() -> None:
    def names() -> Iterator[str]:
        yield "a"
        raise AssertionError("read past the first name")

    chunks = root_html_chunks(names())
    next(chunks)
    assert "a/" in next(chunks)
