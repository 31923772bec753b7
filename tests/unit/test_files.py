"""Distribution files, project pages, version ordering and page diffs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

from rennet.domain.changes import PageChanges, diff_files
from rennet.domain.files import DistFile, ProjectPage, ProjectStatus, best_hash, merge_versions


def test_merge_versions_sorts_by_version_not_text() -> None:
    assert merge_versions(["10.0", "9.0", "1.0"]) == ("1.0", "9.0", "10.0")


def test_merge_versions_orders_pre_post_and_dev_releases() -> None:
    assert merge_versions(["1.0", "1.0.post1", "1.0rc1", "1.0.dev0", "1.0a1", "1.0b2"]) == (
        "1.0.dev0",
        "1.0a1",
        "1.0b2",
        "1.0rc1",
        "1.0",
        "1.0.post1",
    )


def test_merge_versions_deduplicates_across_groups_keeping_the_text() -> None:
    assert merge_versions(["1.0", "2.0"], ["2.0", "3.0"], []) == ("1.0", "2.0", "3.0")


def test_merge_versions_keeps_equal_versions_spelled_differently() -> None:
    # PEP 700 lists versions as the index knows them; "1.0" and "1.0.0" are distinct strings.
    assert merge_versions(["1.0.0", "1.0"]) == ("1.0", "1.0.0")


def test_merge_versions_puts_unparsable_versions_first_in_text_order() -> None:
    assert merge_versions(["2.0", "dev", "1.0", "2004d", "beta"]) == ("2004d", "beta", "dev", "1.0", "2.0")


def test_merge_versions_accepts_iterators() -> None:
    assert merge_versions(iter(["2", "1"]), (v for v in ["3"])) == ("1", "2", "3")


@given(st.lists(st.sampled_from(["1.0", "1.0rc1", "2.0", "0.1", "10", "1!0.5", "x", "1.0+local", "1.0.post2"])))
def test_merge_versions_is_sorted_and_unique(texts: list[str]) -> None:
    merged = merge_versions(texts)
    assert set(merged) == set(texts)
    assert len(merged) == len(set(merged))
    parsed = [Version(t) for t in merged if t != "x"]
    assert parsed == sorted(parsed)
    if "x" in texts:
        assert merged[0] == "x"


def test_dist_file_version_and_sha256() -> None:
    wheel = DistFile("foo-1.0-py3-none-any.whl", "pypi", hashes={"sha256": "a" * 64})
    assert wheel.version == Version("1.0")
    assert wheel.sha256 == "a" * 64
    assert DistFile("README", "pypi").version is None
    assert DistFile("README", "pypi").sha256 is None


@pytest.mark.parametrize(
    ("hashes", "expected"),
    [
        ({}, None),
        ({"md5": "m"}, ("md5", "m")),
        ({"md5": "m", "sha256": "s"}, ("sha256", "s")),
        ({"sha1": "1", "sha512": "5"}, ("sha512", "5")),
        ({"blake2b_256": "b"}, None),  # pip cannot check it in a link fragment
        ({"sha256": "", "md5": "m"}, ("md5", "m")),
    ],
)
def test_best_hash(hashes: dict[str, str], expected: tuple[str, str] | None) -> None:
    assert best_hash(hashes) == expected


def test_page_versions_include_those_of_listed_files() -> None:
    page = ProjectPage(
        "foo",  # type: ignore[arg-type]
        (DistFile("foo-2.0.tar.gz", "pypi"), DistFile("foo-1.5-py3-none-any.whl", "pypi"), DistFile("x", "pypi")),
        versions=("3.0",),
    )
    assert page.all_versions == ("1.5", "2.0", "3.0")


def test_quarantined_page_lists_no_files_and_no_file_versions() -> None:
    files = (DistFile("foo-2.0.tar.gz", "pypi"),)
    page = ProjectPage("foo", files, status=ProjectStatus.QUARANTINED)  # type: ignore[arg-type]
    assert page.listed_files == ()
    assert page.all_versions == ()
    assert page.files == files
    for status in (None, ProjectStatus.ACTIVE, ProjectStatus.ARCHIVED, ProjectStatus.DEPRECATED):
        assert ProjectPage("foo", files, status=status).listed_files == files  # type: ignore[arg-type]


def test_with_files_keeps_everything_else() -> None:
    page = ProjectPage("foo", (), versions=("1",), status=ProjectStatus.ARCHIVED, status_reason="r")  # type: ignore[arg-type]
    replaced = page.with_files((DistFile("foo-1.tar.gz", "x"),))
    assert replaced.files[0].filename == "foo-1.tar.gz"
    assert (replaced.name, replaced.versions, replaced.status, replaced.status_reason) == (
        "foo",
        ("1",),
        page.status,
        "r",
    )


# -- diffs --------------------------------------------------------------------------------------------------------


def files(*items: DistFile) -> dict[str, DistFile]:
    return {f.filename: f for f in items}


A = DistFile("foo-1.0.tar.gz", "pypi", hashes={"sha256": "a" * 64})
B = DistFile("foo-2.0.tar.gz", "pypi", hashes={"sha256": "b" * 64})
C = DistFile("foo-3.0.tar.gz", "pypi")


def test_no_change() -> None:
    changes = diff_files(files(A, B), files(A, B))
    assert not changes
    assert changes == PageChanges()


def test_added_and_gone() -> None:
    changes = diff_files(files(A, B), files(B, C))
    assert changes.added == ["foo-3.0.tar.gz"]
    assert changes.gone == ["foo-1.0.tar.gz"]
    assert changes.yanked == changes.unyanked == changes.updated == []
    assert changes


def test_yanked_and_unyanked() -> None:
    yanked_a = DistFile(A.filename, "pypi", hashes=A.hashes, yanked=True, yanked_reason="bad")
    changes = diff_files(files(A), files(yanked_a))
    assert changes.yanked == [A.filename]
    assert changes.updated == []
    changes = diff_files(files(yanked_a), files(A))
    assert changes.unyanked == [A.filename]
    assert changes.updated == []


def test_a_new_yank_reason_is_an_update() -> None:
    before = DistFile(A.filename, "pypi", yanked=True, yanked_reason="bad")
    after = DistFile(A.filename, "pypi", yanked=True, yanked_reason="very bad")
    assert diff_files(files(before), files(after)).updated == [A.filename]


@pytest.mark.parametrize(
    "field",
    [
        {"hashes": {"sha256": "c" * 64}},
        {"requires_python": ">=3.9"},
        {"size": 10},
        {"upload_time": datetime(2020, 1, 1, tzinfo=UTC)},
        {"core_metadata": {}},
        {"provenance": "https://p.test/x"},
        {"source_url": "https://files.test/elsewhere"},
    ],
)
def test_any_other_field_is_an_update(field: dict[str, object]) -> None:
    after = DistFile(A.filename, "pypi", **{"hashes": A.hashes, **field})  # type: ignore[arg-type]
    changes = diff_files(files(A), files(after))
    assert changes.updated == [A.filename]
    assert changes.added == changes.gone == []


def test_everything_at_once_and_in_order() -> None:
    old = files(A, B, DistFile("foo-4.0.tar.gz", "pypi", yanked=True), DistFile("foo-5.0.tar.gz", "pypi"))
    new = files(
        DistFile(A.filename, "pypi", hashes=A.hashes, yanked=True),
        DistFile("foo-4.0.tar.gz", "pypi"),
        DistFile("foo-5.0.tar.gz", "pypi", size=1),
        C,
        DistFile("foo-6.0.tar.gz", "pypi"),
    )
    changes = diff_files(old, new)
    assert changes.added == ["foo-3.0.tar.gz", "foo-6.0.tar.gz"]
    assert changes.gone == ["foo-2.0.tar.gz"]
    assert changes.yanked == ["foo-1.0.tar.gz"]
    assert changes.unyanked == ["foo-4.0.tar.gz"]
    assert changes.updated == ["foo-5.0.tar.gz"]


def test_page_changes_merge_and_truth() -> None:
    total = PageChanges()
    assert not total
    total.merge(PageChanges(added=["a"]))
    total.merge(PageChanges(gone=["b"], meta_changed=True))
    total.merge(PageChanges())
    assert total.added == ["a"]
    assert total.gone == ["b"]
    assert total.meta_changed
    assert PageChanges(meta_changed=True)
    assert PageChanges(updated=["x"])
