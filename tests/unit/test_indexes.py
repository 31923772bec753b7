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
