"""How a group merges its members, and why a public name cannot stand in for a private one."""

from __future__ import annotations

from collections.abc import Sequence

from rennet.domain.files import DistFile, ProjectPage, ProjectStatus
from rennet.domain.groups import MemberPage, merge_group_page, merge_hidden, needs_proxies
from rennet.domain.indexes import IndexKind
from rennet.domain.policy import Refusal

HOSTED = IndexKind.HOSTED
PROXY = IndexKind.PROXY


def member(index: str, kind: IndexKind, *filenames: str, **fields: object) -> MemberPage:
    if fields.pop("absent", False):
        return MemberPage(index, kind, None)
    files = tuple(DistFile(f, index) for f in filenames)
    return MemberPage(index, kind, ProjectPage("foo", files, **fields))  # type: ignore[arg-type]


def listed(page: ProjectPage | None) -> list[tuple[str, str]]:
    assert page is not None
    return [(f.filename, f.index) for f in page.listed_files]


def merge(members: Sequence[MemberPage], allowed: bool = False) -> ProjectPage | None:
    return merge_group_page(members, allowed)


def test_nobody_has_it() -> None:
    members = [member("local", HOSTED, absent=True), member("pypi", PROXY, absent=True)]
    assert merge(members) is None
    assert merge(members, allowed=True) is None
    assert merge([]) is None


def test_only_upstream_has_it() -> None:
    members = [member("local", HOSTED, absent=True), member("pypi", PROXY, "foo-1.0.tar.gz")]
    assert listed(merge(members)) == [("foo-1.0.tar.gz", "pypi")]


def test_a_hosted_project_hides_every_proxy_file() -> None:
    members = [
        member("pypi", PROXY, "foo-9.9.tar.gz", "foo-1.0.tar.gz"),
        member("local", HOSTED, "foo-1.0.tar.gz"),
        member("mirror", PROXY, "foo-10.0.tar.gz"),
    ]
    merged = merge(members)
    # Even listed after the proxy, the hosted member wins the name, and its own copy of a colliding filename.
    assert listed(merged) == [("foo-1.0.tar.gz", "local")]
    assert merged is not None
    assert merged.all_versions == ("1.0",)


def test_a_hosted_project_without_files_still_hides_upstream() -> None:
    members = [member("local", HOSTED), member("pypi", PROXY, "foo-6.6.6-py3-none-any.whl")]
    assert listed(merge(members)) == []


def test_a_quarantined_hosted_project_still_hides_upstream() -> None:
    members = [
        member("local", HOSTED, "foo-1.0.tar.gz", status=ProjectStatus.QUARANTINED, status_reason="held"),
        member("pypi", PROXY, "foo-1.0.tar.gz", "foo-2.0.tar.gz"),
    ]
    merged = merge(members)
    assert merged is not None
    assert listed(merged) == []
    assert merged.status is ProjectStatus.QUARANTINED
    assert merged.status_reason == "held"


def test_several_hosted_members_merge_first_listing_wins() -> None:
    members = [
        member("team", HOSTED, "foo-1.0.tar.gz", "foo-2.0.tar.gz"),
        member("pypi", PROXY, "foo-3.0.tar.gz"),
        member("local", HOSTED, "foo-2.0.tar.gz", "foo-1.5.tar.gz"),
    ]
    assert listed(merge(members)) == [
        ("foo-1.0.tar.gz", "team"),
        ("foo-2.0.tar.gz", "team"),
        ("foo-1.5.tar.gz", "local"),
    ]


def test_allow_upstream_merges_both_sides_in_member_order() -> None:
    members = [
        member("local", HOSTED, "foo-1.0+corp-py3-none-any.whl", "foo-1.0.tar.gz"),
        member("pypi", PROXY, "foo-1.0.tar.gz", "foo-2.0.tar.gz"),
    ]
    assert listed(merge(members, allowed=True)) == [
        ("foo-1.0+corp-py3-none-any.whl", "local"),
        ("foo-1.0.tar.gz", "local"),
        ("foo-2.0.tar.gz", "pypi"),
    ]


def test_allow_upstream_with_the_proxy_first_lets_it_win_collisions() -> None:
    members = [member("pypi", PROXY, "foo-1.0.tar.gz"), member("local", HOSTED, "foo-1.0.tar.gz", "foo-0.1.tar.gz")]
    assert listed(merge(members, allowed=True)) == [("foo-1.0.tar.gz", "pypi"), ("foo-0.1.tar.gz", "local")]


def test_first_proxy_that_has_the_project_wins() -> None:
    members = [
        member("local", HOSTED, absent=True),
        member("internal-mirror", PROXY, absent=True),
        member("pypi", PROXY, "foo-1.0.tar.gz"),
        member("other", PROXY, "foo-2.0.tar.gz", "foo-1.0.tar.gz"),
    ]
    assert listed(merge(members)) == [("foo-1.0.tar.gz", "pypi")]
    assert listed(merge(members, allowed=True)) == [("foo-1.0.tar.gz", "pypi")]


def test_allow_upstream_takes_only_the_first_proxy() -> None:
    members = [
        member("local", HOSTED, "foo-1.0.tar.gz"),
        member("a", PROXY, "foo-2.0.tar.gz"),
        member("b", PROXY, "foo-3.0.tar.gz"),
    ]
    assert listed(merge(members, allowed=True)) == [("foo-1.0.tar.gz", "local"), ("foo-2.0.tar.gz", "a")]


def test_lead_page_gives_name_and_status_and_versions_merge() -> None:
    members = [
        member("local", HOSTED, "foo-1.0.tar.gz", versions=("1.0", "0.5"), status=ProjectStatus.ARCHIVED),
        member("pypi", PROXY, "foo-2.0.tar.gz", versions=("2.0", "1.0"), status=ProjectStatus.DEPRECATED),
    ]
    merged = merge(members, allowed=True)
    assert merged is not None
    assert merged.status is ProjectStatus.ARCHIVED
    assert merged.versions == ("0.5", "1.0", "2.0")
    hidden = merge(members)
    assert hidden is not None
    assert hidden.versions == ("0.5", "1.0")


def test_upstream_versions_stay_hidden_with_the_files() -> None:
    members = [member("local", HOSTED, "foo-1.0.tar.gz"), member("pypi", PROXY, "foo-2.0.tar.gz", versions=("2.0",))]
    merged = merge(members)
    assert merged is not None
    assert "2.0" not in merged.all_versions


def test_a_quarantined_proxy_page_lists_nothing_from_it() -> None:
    members = [member("pypi", PROXY, "foo-1.0.tar.gz", status=ProjectStatus.QUARANTINED)]
    merged = merge(members)
    assert merged is not None
    assert listed(merged) == []


def test_needs_proxies() -> None:
    absent = member("local", HOSTED, absent=True)
    present = member("local", HOSTED)
    assert needs_proxies([], allowed_upstream=False)
    assert needs_proxies([absent], allowed_upstream=False)
    assert not needs_proxies([absent, present], allowed_upstream=False)
    assert needs_proxies([present], allowed_upstream=True)


def test_a_member_policy_hides_files_in_the_group_for_the_member_reason() -> None:
    held = Refusal("min_age", "pypi", "foo-2.0.tar.gz is held back")
    denied = Refusal("deny", "local", "foo-1.0.tar.gz is denied")
    proxy = MemberPage(
        "pypi",
        PROXY,
        ProjectPage("foo", (DistFile("foo-1.0.tar.gz", "pypi"),)),  # type: ignore[arg-type]
        {"foo-2.0.tar.gz": held},
    )
    hosted_absent = member("local", HOSTED, absent=True)
    merged = merge([hosted_absent, proxy])
    assert merge_hidden([hosted_absent, proxy], False, merged) == {"foo-2.0.tar.gz": held}

    # A hosted member hides the proxied project entirely: the proxy's held files are absent, not held back.
    hosted = MemberPage("local", HOSTED, ProjectPage("foo", ()), {"foo-1.0.tar.gz": denied})  # type: ignore[arg-type]
    merged = merge([hosted, proxy])
    assert merge_hidden([hosted, proxy], False, merged) == {"foo-1.0.tar.gz": denied}
    # Merged on purpose: a file another member lists is offered from it, not held back.
    merged = merge([hosted, proxy], allowed=True)
    assert listed(merged) == [("foo-1.0.tar.gz", "pypi")]
    assert merge_hidden([hosted, proxy], True, merged) == {"foo-2.0.tar.gz": held}
