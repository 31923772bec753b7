"""Index configuration checks and group flattening."""

from __future__ import annotations

import pytest

from rennet.domain.indexes import (
    RESERVED_NAMES,
    GroupIndex,
    HostedIndex,
    IndexConfig,
    InvalidConfig,
    ProxyIndex,
    check_indexes,
    leaf_members,
)


def config(*indexes: IndexConfig) -> dict[str, IndexConfig]:
    return {index.name: index for index in indexes}


def standard() -> dict[str, IndexConfig]:
    return config(
        ProxyIndex("pypi", "http://upstream.test/simple/"),
        HostedIndex("local"),
        GroupIndex("default", ("local", "pypi")),
    )


def test_standard_configuration_passes() -> None:
    check_indexes(standard(), "default")
    check_indexes(standard(), "pypi")  # any index can be the default


@pytest.mark.parametrize("name", ["a", "pypi", "team-1", "x.y_z", "0", "a" * 64])
def test_good_index_names(name: str) -> None:
    check_indexes(config(HostedIndex(name)), name)


@pytest.mark.parametrize(
    "name",
    ["", "Pypi", "-x", ".x", "_x", "a b", "a/b", "a" * 65, "pypi\n", "caf\u00e9", "\u212a", "a%2f", "a:b"],
)
def test_bad_index_names(name: str) -> None:
    with pytest.raises(InvalidConfig, match="is not allowed"):
        check_indexes(config(HostedIndex(name)), name)


@pytest.mark.parametrize("name", sorted(RESERVED_NAMES))
def test_reserved_names(name: str) -> None:
    with pytest.raises(InvalidConfig, match="not allowed"):
        check_indexes(config(HostedIndex(name)), name)


def test_reserved_names_cover_the_server_routes() -> None:
    assert {"simple", "legacy", "files", "static", "api"} <= RESERVED_NAMES


def test_key_and_name_must_agree() -> None:
    with pytest.raises(InvalidConfig, match="under another name"):
        check_indexes({"one": HostedIndex("two")}, "one")


def test_unknown_member() -> None:
    indexes = standard() | config(GroupIndex("g", ("local", "nowhere")))
    with pytest.raises(InvalidConfig, match="group 'g' lists unknown index 'nowhere'"):
        check_indexes(indexes, "default")


def test_unknown_member_of_a_nested_group_checked_later() -> None:
    # The outer group is checked first and reaches the inner group before the inner one's own check.
    indexes = config(HostedIndex("local"), GroupIndex("outer", ("inner",)), GroupIndex("inner", ("local", "ghost")))
    with pytest.raises(InvalidConfig, match="unknown index 'ghost'"):
        check_indexes(indexes, "outer")


def test_missing_default() -> None:
    with pytest.raises(InvalidConfig, match="default index 'main' is not configured"):
        check_indexes(standard(), "main")


@pytest.mark.parametrize(
    ("groups", "cycle"),
    [
        ([GroupIndex("g", ("g",))], "g -> g"),
        ([GroupIndex("a", ("b",)), GroupIndex("b", ("a",))], "a -> b -> a"),
        (
            [GroupIndex("a", ("local", "b")), GroupIndex("b", ("c",)), GroupIndex("c", ("pypi", "a"))],
            "a -> b -> c -> a",
        ),
    ],
)
def test_cycles(groups: list[GroupIndex], cycle: str) -> None:
    indexes = standard() | config(*groups)
    with pytest.raises(InvalidConfig, match=f"cycle: {cycle}"):
        check_indexes(indexes, "default")


def test_leaf_members_flatten_in_order_first_occurrence_kept() -> None:
    indexes = config(
        HostedIndex("local"),
        HostedIndex("team"),
        ProxyIndex("pypi", "http://u.test/"),
        ProxyIndex("mirror", "http://m.test/"),
        GroupIndex("inner", ("team", "pypi")),
        GroupIndex("other", ("mirror", "local")),
        GroupIndex("outer", ("local", "inner", "pypi", "other")),
    )
    check_indexes(indexes, "outer")
    assert leaf_members(indexes, "outer") == ("local", "team", "pypi", "mirror")
    assert leaf_members(indexes, "inner") == ("team", "pypi")


def test_diamonds_are_not_cycles() -> None:
    indexes = config(
        HostedIndex("local"),
        GroupIndex("left", ("local",)),
        GroupIndex("right", ("local",)),
        GroupIndex("top", ("left", "right")),
    )
    check_indexes(indexes, "top")
    assert leaf_members(indexes, "top") == ("local",)


def test_leaf_members_of_a_leaf_is_itself() -> None:
    assert leaf_members(standard(), "pypi") == ("pypi",)
    assert leaf_members(standard(), "default") == ("local", "pypi")


def test_empty_group_reaches_nothing() -> None:
    indexes = standard() | config(GroupIndex("empty", ()))
    check_indexes(indexes, "empty")
    assert leaf_members(indexes, "empty") == ()


def test_proxy_password_is_not_in_repr() -> None:
    assert "hunter2" not in repr(ProxyIndex("p", "http://u.test/", username="me", password="hunter2"))


# -- who may read a group with private members --------------------------------------------------------------------


def private_team(
    readers: frozenset[str] = frozenset(), uploaders: frozenset[str] = frozenset()
) -> dict[str, IndexConfig]:
    return standard() | config(HostedIndex("team", private=True, readers=readers, uploaders=uploaders))


@pytest.mark.parametrize(
    ("team", "group_readers"),
    [
        ({"readers": frozenset({"bob"})}, {"bob"}),
        ({"readers": frozenset({"bob"}), "uploaders": frozenset({"alice"})}, {"alice", "bob"}),  # uploaders read
        ({"readers": frozenset({"bob", "carol"})}, {"carol"}),
        ({"readers": frozenset({"*"})}, {"*"}),
        ({"readers": frozenset({"*"})}, {"anyone-at-all"}),
        ({"readers": frozenset({"bob"})}, set()),  # admins only
    ],
)
def test_a_private_group_may_be_read_by_readers_of_its_private_members(
    team: dict[str, frozenset[str]], group_readers: set[str]
) -> None:
    indexes = private_team(**team) | config(
        GroupIndex("default", ("team", "local", "pypi"), private=True, readers=frozenset(group_readers))
    )
    check_indexes(indexes, "default")


@pytest.mark.parametrize(
    ("team", "group_readers", "named"),
    [
        ({"readers": frozenset({"bob"})}, {"*"}, r'every user \(read = \["\*"\]\)'),
        ({"readers": frozenset({"bob"})}, {"alice", "bob"}, "alice"),
        ({"uploaders": frozenset({"alice"})}, {"alice", "bob", "carol"}, "bob, carol"),
        ({"readers": frozenset({"bob", "carol"})}, {"*", "bob"}, r"every user \(.*\)"),
    ],
)
def test_a_group_may_not_show_a_private_member_to_others(
    team: dict[str, frozenset[str]], group_readers: set[str], named: str
) -> None:
    indexes = private_team(**team) | config(
        GroupIndex("default", ("team", "local", "pypi"), private=True, readers=frozenset(group_readers))
    )
    with pytest.raises(InvalidConfig, match=f"group 'default' may be read by {named}, but its private member 'team'"):
        check_indexes(indexes, "default")


def test_nested_groups_are_checked_against_their_leaves() -> None:
    indexes = private_team(readers=frozenset({"bob"})) | config(
        GroupIndex("inner", ("team",), private=True, readers=frozenset({"bob"})),
        GroupIndex("default", ("inner", "pypi"), private=True, readers=frozenset({"*"})),
    )
    with pytest.raises(InvalidConfig, match=r"group 'default' may be read by every user .* member 'team'"):
        check_indexes(indexes, "default")


def test_a_private_proxy_member_counts_too() -> None:
    indexes = config(
        ProxyIndex("corp", "http://corp.test/simple/", private=True, readers=frozenset({"bob"})),
        GroupIndex("default", ("corp",), private=True, readers=frozenset({"bob", "eve"})),
    )
    with pytest.raises(InvalidConfig, match="may be read by eve, but its private member 'corp'"):
        check_indexes(indexes, "default")


def test_public_members_need_nothing_of_the_group() -> None:
    indexes = standard() | config(GroupIndex("all", ("local", "pypi"), private=True, readers=frozenset({"*"})))
    check_indexes(indexes, "all")
