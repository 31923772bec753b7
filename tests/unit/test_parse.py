"""Reading upstream pages: a malformed entry costs that entry, never the whole project."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from packaging.utils import NormalizedName

from rennet.upstream.parse import UnreadablePage, iter_listing_entries, parse_project_page

JSON = "application/vnd.pypi.simple.v1+json"
URL = "https://upstream.test/simple/thing/"
SHA = "a" * 64


def _entry(filename: str, **fields: object) -> dict[str, object]:
    return {"filename": filename, "url": f"../../files/{filename}", "hashes": {"sha256": SHA}, **fields}


def _json_page(*entries: object, **extra: object) -> bytes:
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "thing", "files": list(entries), **extra}).encode()


def _parse(body: bytes, content_type: str = JSON) -> list[str]:
    page = parse_project_page(body, content_type, URL, NormalizedName("thing"), "pypi")
    return [file.filename for file in page.files]


@pytest.mark.parametrize(
    "bad",
    [
        {"yanked": 5},
        {"upload-time": "yesterday"},
        {"hashes": "sha256"},
        {"requires-python": ["3.8"]},
        {"core-metadata": 7},
        {"size": "big"},
    ],
)
def test_one_malformed_json_entry_is_skipped_and_logged(
    bad: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    body = _json_page(_entry("thing-1.0-py3-none-any.whl"), _entry("thing-2.0-py3-none-any.whl", **bad))
    with caplog.at_level(logging.WARNING, logger="rennet.upstream"):
        assert _parse(body) == ["thing-1.0-py3-none-any.whl"]
    assert "skipping 'thing-2.0-py3-none-any.whl' of the upstream page https://upstream.test/simple/thing/" in (
        caplog.text
    )


def test_entries_that_are_not_tables_are_skipped() -> None:
    body = _json_page("thing-9.0.tar.gz", None, _entry("thing-1.0.tar.gz"))
    assert _parse(body) == ["thing-1.0.tar.gz"]


def test_malformed_versions_and_status_leave_the_files_readable() -> None:
    body = _json_page(_entry("thing-1.0.tar.gz"), versions=["1.0", 5, None], **{"project-status": "weird"})
    page = parse_project_page(body, JSON, URL, NormalizedName("thing"), "pypi")
    assert [file.filename for file in page.files] == ["thing-1.0.tar.gz"]
    assert page.versions == ("1.0",)


def test_many_malformed_entries_are_counted_not_each_logged(caplog: pytest.LogCaptureFixture) -> None:
    body = _json_page(*[_entry(f"thing-{n}.0.tar.gz", yanked=5) for n in range(1, 11)], _entry("thing-0.1.tar.gz"))
    with caplog.at_level(logging.WARNING, logger="rennet.upstream"):
        assert _parse(body) == ["thing-0.1.tar.gz"]
    assert caplog.text.count("skipping") == 3
    assert "skipped 10 malformed entries of https://upstream.test/simple/thing/ in all" in caplog.text


def test_a_page_that_is_not_a_page_is_still_unreadable() -> None:
    with pytest.raises(UnreadablePage):
        _parse(b'{"meta": {"api-version": "1.1"}, "name": "thing"}')
    with pytest.raises(UnreadablePage):
        _parse(b"[1, 2")


def test_root_entries_carry_serials_from_json_and_none_from_html(tmp_path: Path) -> None:
    body = {
        "meta": {"api-version": "1.1", "_last-serial": 99},
        "projects": [
            {"name": "Alpha", "_last-serial": 12},
            {"_last-serial": 7, "name": "beta"},
            {"name": "gamma"},
            {"name": "not a name", "_last-serial": 3},
        ],
    }
    as_json = tmp_path / "root.json"
    as_json.write_text(json.dumps(body))
    assert list(iter_listing_entries(as_json, "application/vnd.pypi.simple.v1+json")) == [
        ("Alpha", 12),
        ("beta", 7),
        ("gamma", None),
    ]
    as_html = tmp_path / "root.html"
    as_html.write_text('<html><body><a href="alpha/">Alpha</a><a href="beta/">beta</a></body></html>')
    assert list(iter_listing_entries(as_html, "text/html")) == [("Alpha", None), ("beta", None)]


def test_root_entries_are_read_across_chunks(tmp_path: Path) -> None:
    names = [f"project-{n}" for n in range(60_000)]  # about 2.5 MB: several of the reader's chunks
    body = {"meta": {"api-version": "1.1"}, "projects": [{"name": n, "_last-serial": i} for i, n in enumerate(names)]}
    path = tmp_path / "root.json"
    path.write_text(json.dumps(body))
    assert list(iter_listing_entries(path, "application/json")) == [(n, i) for i, n in enumerate(names)]


def test_json_fields_are_read_as_pep_691_states_them() -> None:
    body = _json_page(
        _entry(
            "thing-1.0-py3-none-any.whl",
            yanked="broken build",
            size="1234",
            **{
                "upload-time": "2024-05-01T10:20:30.123456Z",
                "dist-info-metadata": {"sha256": SHA},
                "requires-python": " >=3.9 ",
                "provenance": "https://upstream.test/integrity/thing/1.0/x/provenance",
            },
        ),
        _entry(
            "thing-1.0.tar.gz", url="https://files.test/p/thing-1.0.tar.gz", yanked=False, **{"core-metadata": True}
        ),
        _entry("thing-0.9.tar.gz", **{"upload-time": "2024-05-01T10:20:30", "provenance": "file:///etc/passwd"}),
    )
    wheel, sdist, older = parse_project_page(body, JSON, URL, NormalizedName("thing"), "pypi").files
    assert wheel.source_url == "https://upstream.test/files/thing-1.0-py3-none-any.whl"
    assert (wheel.yanked, wheel.yanked_reason, wheel.size) == (True, "broken build", 1234)
    assert wheel.upload_time == datetime(2024, 5, 1, 10, 20, 30, 123456, tzinfo=UTC)
    assert wheel.core_metadata == {"sha256": SHA}
    assert wheel.requires_python == ">=3.9"
    assert wheel.provenance == "https://upstream.test/integrity/thing/1.0/x/provenance"
    assert (sdist.source_url, sdist.yanked, sdist.core_metadata) == (
        "https://files.test/p/thing-1.0.tar.gz",
        False,
        {},
    )
    assert older.upload_time == datetime(2024, 5, 1, 10, 20, 30, tzinfo=UTC)  # PEP 700 times are UTC
    assert older.provenance is None  # only http(s) addresses are kept


def test_a_json_page_of_a_newer_major_api_version_is_unreadable() -> None:
    with pytest.raises(UnreadablePage, match=r"unsupported API version '2\.0'"):
        _parse(json.dumps({"meta": {"api-version": "2.0"}, "name": "thing", "files": []}).encode())
    with pytest.raises(UnreadablePage, match="api-version"):
        _parse(json.dumps({"name": "thing", "files": []}).encode())


def test_a_relative_provenance_url_is_resolved_against_the_page_as_file_urls_are() -> None:
    body = _json_page(_entry("thing-1.0.tar.gz", provenance="../../integrity/thing/1.0/thing-1.0.tar.gz/provenance"))
    (file,) = parse_project_page(body, JSON, URL, NormalizedName("thing"), "pypi").files
    assert file.provenance == "https://upstream.test/integrity/thing/1.0/thing-1.0.tar.gz/provenance"
