from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from rennet.domain.files import ProjectPage, ProjectStatus
from rennet.domain.mirror.plan import MirrorOptions, Selection, choose_files
from rennet.domain.mirror.targets import Target, make_targets, parse_target
from rennet.domain.names import canonical_name
from tests.unit.mirror.builders import dist, page, sha, want

LINUX_311 = parse_target("3.11", "manylinux_2_17_x86_64")
LINUX_312 = parse_target("3.12", "manylinux_2_17_x86_64")
LINUX_312_NEW = parse_target("3.12", "manylinux_2_28_x86_64")
WIN_312 = parse_target("3.12", "win_amd64")
MAC_312 = parse_target("3.12", "macosx_14_0_arm64")
PY39 = parse_target("3.9", "manylinux_2_17_x86_64")

NUMPY = page(
    "numpy",
    dist("numpy-1.26.4-cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", requires_python=">=3.9"),
    dist("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", requires_python=">=3.9"),
    dist("numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", requires_python=">=3.9"),
    dist("numpy-1.26.4-cp312-cp312-win_amd64.whl", requires_python=">=3.9"),
    dist("numpy-1.26.4.tar.gz", requires_python=">=3.9"),
    dist("numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", requires_python=">=3.10"),
    dist("numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", requires_python=">=3.10"),
    dist("numpy-2.1.0-cp312-cp312-manylinux_2_28_x86_64.whl", requires_python=">=3.10"),
    dist("numpy-2.1.0-cp312-cp312-win_amd64.whl", requires_python=">=3.10"),
    dist("numpy-2.1.0-cp312-cp312-macosx_14_0_arm64.whl", requires_python=">=3.10"),
    dist("numpy-2.1.0.tar.gz", requires_python=">=3.10"),
    dist("numpy-2.2.0rc1-cp312-cp312-win_amd64.whl", requires_python=">=3.10"),
)


def options(*targets: Target, **flags: bool) -> MirrorOptions:
    return MirrorOptions(tuple(targets), **flags)


def names(selection: Selection) -> list[str]:
    return [f.filename for f in selection.files]


class TestVersions:
    def test_the_newest_final_release_satisfying_the_specifier(self) -> None:
        selection = choose_files(NUMPY, want("numpy"), options(LINUX_312))
        assert selection.versions == (Version("2.1.0"),)
        assert selection.ok and not selection.notes

    def test_the_specifier_limits_the_version(self) -> None:
        selection = choose_files(NUMPY, want("numpy<2"), options(LINUX_312))
        assert names(selection) == ["numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"]

    def test_each_target_gets_the_newest_release_it_can_install(self) -> None:
        selection = choose_files(NUMPY, want("numpy"), options(PY39, LINUX_312))
        assert selection.versions == (Version("1.26.4"), Version("2.1.0"))
        assert names(selection) == [
            "numpy-1.26.4-cp39-cp39-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        ]

    def test_no_version_satisfies(self) -> None:
        selection = choose_files(NUMPY, want("numpy==9.9"), options(LINUX_312, WIN_312))
        assert not selection.files and not selection.versions
        assert selection.problems == ("no version of numpy satisfies ==9.9 (newest is 2.2.0rc1)",)
        assert not selection.ok

    def test_an_empty_page(self) -> None:
        selection = choose_files(page("ghost"), want("ghost"), options(LINUX_312))
        assert selection.problems == ("ghost lists no files",)

    def test_a_quarantined_project_lists_nothing(self) -> None:
        quarantined = ProjectPage(
            canonical_name("evil"), (dist("evil-1.0-py3-none-any.whl"),), status=ProjectStatus.QUARANTINED
        )
        assert choose_files(quarantined, want("evil"), options(LINUX_312)).problems == ("evil lists no files",)

    def test_eggs_and_unparsable_names_are_ignored(self) -> None:
        old = page("old", "old-1.0-py2.7.egg", "old-1.0.exe", "old-0.9-py3-none-any.whl")
        assert names(choose_files(old, want("old"), options(LINUX_312))) == ["old-0.9-py3-none-any.whl"]

    def test_the_page_must_be_the_items_page(self) -> None:
        with pytest.raises(ValueError, match="cannot answer for"):
            choose_files(NUMPY, want("scipy"), options(LINUX_312))

    def test_options_need_a_target(self) -> None:
        with pytest.raises(ValueError, match="at least one target"):
            MirrorOptions(())


class TestPrereleases:
    def test_left_out_by_default(self) -> None:
        assert choose_files(NUMPY, want("numpy"), options(WIN_312)).versions == (Version("2.1.0"),)

    def test_when_the_specifier_asks(self) -> None:
        assert choose_files(NUMPY, want("numpy>=2.2.0rc1"), options(WIN_312)).versions == (Version("2.2.0rc1"),)

    def test_when_the_options_allow(self) -> None:
        selection = choose_files(NUMPY, want("numpy"), options(WIN_312, prereleases=True))
        assert selection.versions == (Version("2.2.0rc1"),)
        assert not selection.notes

    def test_when_nothing_else_satisfies_as_pip_does_with_a_note(self) -> None:
        selection = choose_files(NUMPY, want("numpy>2.1"), options(WIN_312))
        assert selection.versions == (Version("2.2.0rc1"),)
        assert selection.notes == ("pre-release 2.2.0rc1 used: no final release satisfies numpy>2.1",)


class TestBestFile:
    def test_the_most_specific_wheel_wins(self) -> None:
        assert names(choose_files(NUMPY, want("numpy"), options(LINUX_312_NEW))) == [
            "numpy-2.1.0-cp312-cp312-manylinux_2_28_x86_64.whl"
        ]

    def test_one_best_file_per_target(self) -> None:
        selection = choose_files(
            NUMPY,
            want("numpy"),
            options(*make_targets(["3.12"], ["manylinux_2_17_x86_64", "win_amd64", "macosx_14_0_arm64"])),
        )
        assert names(selection) == [
            "numpy-2.1.0-cp312-cp312-macosx_14_0_arm64.whl",
            "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "numpy-2.1.0-cp312-cp312-win_amd64.whl",
        ]

    def test_abi_specific_beats_abi3_beats_pure(self) -> None:
        files = ["lib-1.0-py3-none-any.whl", "lib-1.0-cp39-abi3-win_amd64.whl", "lib-1.0-cp312-cp312-win_amd64.whl"]
        assert names(choose_files(page("lib", *files), want("lib"), options(WIN_312))) == files[2:]
        assert names(choose_files(page("lib", *files[:2]), want("lib"), options(WIN_312))) == files[1:2]

    def test_a_wheel_beats_the_sdist(self) -> None:
        pure = page("six", "six-1.16.0.tar.gz", "six-1.16.0-py2.py3-none-any.whl")
        assert names(choose_files(pure, want("six"), options(LINUX_312))) == ["six-1.16.0-py2.py3-none-any.whl"]

    def test_the_sdist_where_no_wheel_installs(self) -> None:
        selection = choose_files(NUMPY, want("numpy"), options(parse_target("3.12", "musllinux_1_2_aarch64")))
        assert names(selection) == ["numpy-2.1.0.tar.gz"]

    def test_tar_gz_before_zip(self) -> None:
        both = page("old", "old-1.0.zip", "old-1.0.tar.gz")
        assert names(choose_files(both, want("old"), options(WIN_312))) == ["old-1.0.tar.gz"]

    def test_sdists_off_leaves_a_target_without_a_file(self) -> None:
        musl = parse_target("3.12", "musllinux_1_2_aarch64")
        selection = choose_files(NUMPY, want("numpy"), options(WIN_312, musl, sdists=False))
        assert names(selection) == ["numpy-2.1.0-cp312-cp312-win_amd64.whl"]
        assert selection.problems == ("no wheel of numpy 2.1.0 for cp312-musllinux_1_2_aarch64 and sdists are off",)

    def test_no_wheel_and_no_sdist(self) -> None:
        winonly = page("pywin32", "pywin32-306-cp312-cp312-win_amd64.whl")
        selection = choose_files(winonly, want("pywin32"), options(LINUX_312))
        assert selection.problems == (
            "no wheel of pywin32 306 for cp312-manylinux_2_17_x86_64 and there is no sdist",
        )

    def test_sdists_off_falls_back_to_an_older_release_with_a_wheel(self) -> None:
        lib = page("lib", "lib-2.0.tar.gz", "lib-1.0-py3-none-any.whl")
        assert names(choose_files(lib, want("lib"), options(WIN_312))) == ["lib-2.0.tar.gz"]  # pip's choice too
        assert names(choose_files(lib, want("lib"), options(WIN_312, sdists=False))) == ["lib-1.0-py3-none-any.whl"]

    def test_no_release_has_a_wheel_for_the_target(self) -> None:
        selection = choose_files(NUMPY, want("numpy"), options(parse_target("3.11", "win_amd64"), sdists=False))
        assert not selection.files
        assert selection.problems == ("no wheel of numpy 2.1.0 for cp311-win_amd64 and sdists are off",)

    def test_requires_python_rules_out_a_release(self) -> None:
        modern = page(
            "modern",
            dist("modern-2.0-py3-none-any.whl", requires_python=">=3.13"),
            dist("modern-1.0-py3-none-any.whl"),
        )
        assert choose_files(modern, want("modern"), options(LINUX_312)).versions == (Version("1.0"),)
        only_new = page("modern", dist("modern-2.0-py3-none-any.whl", requires_python=">=3.13"))
        selection = choose_files(only_new, want("modern"), options(LINUX_312))
        assert selection.problems == ("modern 2.0 requires Python >=3.13, not 3.12.0",)

    def test_an_invalid_requires_python_is_ignored_like_pip_does(self) -> None:
        odd = page("odd", dist("odd-1.0-py3-none-any.whl", requires_python=">=3.6.*"))
        assert names(choose_files(odd, want("odd"), options(LINUX_312))) == ["odd-1.0-py3-none-any.whl"]

    def test_all_files_of_the_chosen_version(self) -> None:
        selection = choose_files(NUMPY, want("numpy"), options(LINUX_312, all_files=True))
        assert names(selection) == sorted(f.filename for f in NUMPY.files if "-2.1.0" in f.filename)

    def test_all_files_without_sdists(self) -> None:
        selection = choose_files(NUMPY, want("numpy<2"), options(WIN_312, all_files=True, sdists=False))
        assert "numpy-1.26.4.tar.gz" not in names(selection)
        assert len(selection.files) == 4


class TestYanked:
    RELEASES = page(
        "attrs",
        "attrs-21.0.0-py3-none-any.whl",
        dist("attrs-21.1.0-py3-none-any.whl", yanked=True, yanked_reason="broken import"),
    )

    def test_skipped_in_favour_of_an_older_release(self) -> None:
        selection = choose_files(self.RELEASES, want("attrs"), options(LINUX_312))
        assert names(selection) == ["attrs-21.0.0-py3-none-any.whl"]

    def test_only_yanked_files_match(self) -> None:
        selection = choose_files(self.RELEASES, want("attrs>21.0"), options(LINUX_312))
        assert not selection.files
        assert selection.problems == ("only yanked files match attrs>21.0 (broken import)",)

    @pytest.mark.parametrize("pin", ["attrs==21.1.0", "attrs===21.1.0", "attrs==21.1"])
    def test_chosen_for_an_exact_pin(self, pin: str) -> None:
        selection = choose_files(self.RELEASES, want(pin), options(LINUX_312))
        assert names(selection) == ["attrs-21.1.0-py3-none-any.whl"]
        assert selection.notes == (f"{pin} is yanked; used because it is pinned exactly",)

    def test_a_wildcard_pin_is_not_exact(self) -> None:
        selection = choose_files(self.RELEASES, want("attrs==21.1.*"), options(LINUX_312))
        assert selection.problems == ("only yanked files match attrs==21.1.* (broken import)",)

    def test_a_pinned_release_prefers_its_files_that_are_not_yanked(self) -> None:
        mixed = page(
            "pkg",
            dist("pkg-1.0-cp312-cp312-win_amd64.whl", yanked=True),
            "pkg-1.0-py3-none-any.whl",
        )
        selection = choose_files(mixed, want("pkg==1.0"), options(WIN_312))
        assert names(selection) == ["pkg-1.0-py3-none-any.whl"]

    def test_a_pin_takes_a_yanked_file_where_nothing_else_fits_the_target(self) -> None:
        mixed = page(
            "pkg",
            "pkg-1.0-cp312-cp312-win_amd64.whl",
            dist("pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", yanked=True),
        )
        selection = choose_files(mixed, want("pkg==1.0"), options(WIN_312, LINUX_312))
        assert names(selection) == [
            "pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
            "pkg-1.0-cp312-cp312-win_amd64.whl",
        ]
        assert selection.notes == ("pkg==1.0 is yanked; used because it is pinned exactly",)
        only_windows = choose_files(mixed, want("pkg==1.0"), options(WIN_312))
        assert not only_windows.notes

    def test_all_files_of_a_pin_leave_yanked_files_out_unless_needed(self) -> None:
        mixed = page("pkg", "pkg-1.0-py3-none-any.whl", dist("pkg-1.0.tar.gz", yanked=True))
        assert names(choose_files(mixed, want("pkg==1.0"), options(WIN_312, all_files=True))) == [
            "pkg-1.0-py3-none-any.whl"
        ]
        yanked = page("pkg", dist("pkg-1.0-py3-none-any.whl", yanked=True), dist("pkg-1.0.tar.gz", yanked=True))
        assert len(choose_files(yanked, want("pkg==1.0"), options(WIN_312, all_files=True)).files) == 2

    def test_yanked_without_a_reason(self) -> None:
        bare = page("pkg", dist("pkg-1.0-py3-none-any.whl", yanked=True))
        assert choose_files(bare, want("pkg"), options(WIN_312)).problems == ("only yanked files match pkg",)


class TestHashes:
    SIX = page("six", "six-1.16.0.tar.gz", "six-1.16.0-py2.py3-none-any.whl", "six-1.15.0-py2.py3-none-any.whl")

    def test_only_files_with_a_pinned_digest(self) -> None:
        item = want(f"six --hash=sha256:{sha('six-1.16.0.tar.gz')}")
        assert names(choose_files(self.SIX, item, options(LINUX_312))) == ["six-1.16.0.tar.gz"]

    def test_the_pin_can_choose_an_older_release(self) -> None:
        item = want(f"six --hash=sha256:{sha('six-1.15.0-py2.py3-none-any.whl')}")
        assert choose_files(self.SIX, item, options(LINUX_312)).versions == (Version("1.15.0"),)

    def test_no_file_with_the_digest(self) -> None:
        selection = choose_files(self.SIX, want(f"six==1.16.0 --hash=sha256:{'0' * 64}"), options(LINUX_312))
        assert selection.problems == ("no file of six==1.16.0 matches the pinned hashes",)

    def test_another_algorithm_cannot_be_checked(self) -> None:
        selection = choose_files(self.SIX, want(f"six --hash=sha512:{'0' * 128}"), options(LINUX_312))
        assert not selection.files


class TestMarkers:
    def test_targets_the_marker_excludes_are_left_out(self) -> None:
        item = want('numpy; sys_platform == "win32"')
        assert names(choose_files(NUMPY, item, options(LINUX_312, WIN_312))) == [
            "numpy-2.1.0-cp312-cp312-win_amd64.whl"
        ]

    def test_a_marker_that_excludes_every_target(self) -> None:
        selection = choose_files(NUMPY, want('numpy; sys_platform == "win32"'), options(LINUX_312, MAC_312))
        assert not selection.files and selection.ok
        assert selection.notes == ('numpy; sys_platform == "win32": the marker excludes every target',)


RELEASE_VERSIONS = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 5), st.booleans()), min_size=1, max_size=8, unique_by=lambda t: t[:2]
)


@given(
    releases=RELEASE_VERSIONS,
    operator=st.sampled_from(["==", ">=", "<", "!=", "~="]),
    pin=st.tuples(st.integers(0, 5), st.integers(0, 5)),
)
def test_choices_obey_the_specifier_and_pep_592(
    releases: list[tuple[int, int, bool]], operator: str, pin: tuple[int, int]
) -> None:
    files = [dist(f"pkg-{a}.{b}-py3-none-any.whl", yanked=yanked) for a, b, yanked in releases]
    spec = f"{operator}{pin[0]}.{pin[1]}"
    selection = choose_files(page("pkg", *files), want(f"pkg{spec}"), options(LINUX_312))
    allowed = [
        Version(f"{a}.{b}") for a, b, yanked in releases if not yanked and Version(f"{a}.{b}") in SpecifierSet(spec)
    ]
    if allowed:
        assert selection.versions == (max(allowed),)
    elif selection.files:
        # only a yanked release can be left, and only for an exact pin
        assert operator == "=="
        assert all(f.yanked for f in selection.files)
    else:
        assert selection.problems
