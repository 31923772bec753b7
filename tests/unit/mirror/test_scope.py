"""The filters of a full mirror (`rennet mirror --all`): which projects and which of their files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rennet.config import load_settings
from rennet.domain.files import DistFile
from rennet.domain.indexes import ProxyIndex
from rennet.domain.mirror.scope import InvalidPattern, MirrorScope, check_pattern, scope_of
from rennet.domain.mirror.sync import SyncedState, needs_sync, scope_key
from rennet.domain.mirror.targets import make_targets
from tests.unit.mirror.builders import dist, page

LINUX_312 = make_targets(["3.12"], ["manylinux_2_28_x86_64"])


def names(files: tuple[DistFile, ...]) -> list[str]:
    return [file.filename for file in files]


NUMPYISH = page(
    "numpyish",
    "numpyish-1.0-py3-none-any.whl",
    "numpyish-1.0.tar.gz",
    "numpyish-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
    "numpyish-2.0-cp312-cp312-win_amd64.whl",
    "numpyish-2.0-cp311-cp311-manylinux_2_17_x86_64.whl",
    "numpyish-2.0.tar.gz",
    "numpyish-3.0rc1-py3-none-any.whl",
    dist("numpyish-2.1-py3-none-any.whl", requires_python=">=3.13"),
    "numpyish-0.9-py2.py3-none-any.egg",
)


def test_everything_by_default() -> None:
    assert len(MirrorScope().files(NUMPYISH)) == 8  # wheels and sdists; the egg is neither


def test_latest_releases_count_those_with_a_file_in_scope() -> None:
    scope = MirrorScope(latest=2, prereleases=False, targets=LINUX_312, sdists=False)
    # 3.0rc1 is a pre-release, 2.1 needs Python 3.13: 2.0 and 1.0 are the newest two with a file for the target.
    assert names(scope.files(NUMPYISH)) == [
        "numpyish-2.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        "numpyish-1.0-py3-none-any.whl",
    ]


def test_pre_releases_count_unless_refused() -> None:
    assert names(MirrorScope(latest=1).files(NUMPYISH)) == ["numpyish-3.0rc1-py3-none-any.whl"]


def test_sdists_follow_requires_python_of_the_targets() -> None:
    scope = MirrorScope(latest=1, targets=LINUX_312, prereleases=False)
    assert "numpyish-2.0.tar.gz" in names(scope.files(NUMPYISH))
    assert "numpyish-2.0.tar.gz" not in names(MirrorScope(sdists=False).files(NUMPYISH))


def test_the_size_limit_skips_larger_files_and_passes_files_of_unknown_size() -> None:
    small = DistFile("s-1.0-py3-none-any.whl", "up", {}, size=10)
    large = DistFile("s-2.0-py3-none-any.whl", "up", {}, size=11)
    unknown = DistFile("s-3.0-py3-none-any.whl", "up", {})
    files = MirrorScope(max_file_size=10).files(page("s", small, large, unknown))
    assert names(files) == [unknown.filename, small.filename]


def test_yanked_files_stay_in_scope() -> None:
    yanked = dist("y-1.0-py3-none-any.whl", yanked=True, yanked_reason="oops")
    assert MirrorScope().files(page("y", yanked)) == (yanked,)


@pytest.mark.parametrize(
    ("allow", "deny", "name", "wanted"),
    [
        ((), (), "anything", True),
        (("django-*",), (), "django-rest", True),
        (("django-*",), (), "flask", False),
        (("django-*",), ("django-evil*",), "django-evil-twin", False),
        ((), ("test?",), "tests", False),
        ((), ("test?",), "testing", True),
    ],
)
def test_names_are_allowed_then_denied(
    allow: tuple[str, ...], deny: tuple[str, ...], name: str, wanted: bool
) -> None:
    assert MirrorScope(allow=allow, deny=deny).wants(name) is wanted


def test_patterns_are_normalized_like_names() -> None:
    assert check_pattern("Zope.Interface*") == "zope-interface*"
    assert check_pattern("my__pkg") == "my-pkg"
    with pytest.raises(InvalidPattern, match="'a b' is not a project name pattern"):
        check_pattern("a b")


def test_settings_make_the_scope(tmp_path: Path) -> None:
    config = tmp_path / "rennet.toml"
    config.write_text(
        '[index.pypi]\nmirror_allow = ["Django*"]\nmirror_latest = 3\nmirror_prereleases = false\n'
        'mirror_python = ["3.12"]\nmirror_platforms = ["manylinux_2_28_x86_64"]\nmirror_sdists = false\n'
        'mirror_max_file_size = "100M"\n'
    )
    index = load_settings(env={}, config_file=config).indexes["pypi"]
    assert isinstance(index, ProxyIndex)
    assert scope_of(index) == MirrorScope(("django*",), (), 3, False, LINUX_312, False, 100 << 20)


def test_a_sync_fetches_what_moved_failed_is_new_or_was_synced_under_other_filters() -> None:
    key = scope_key(MirrorScope())
    assert scope_key(MirrorScope(latest=1)) != key
    assert needs_sync(5, None, key)
    assert not needs_sync(5, SyncedState(5, key, False), key)
    assert needs_sync(6, SyncedState(5, key, False), key)
    assert needs_sync(5, SyncedState(5, key, True), key)
    assert needs_sync(5, SyncedState(5, "other", False), key)
    assert needs_sync(None, SyncedState(None, key, False), key)  # no serials: a conditional request decides
