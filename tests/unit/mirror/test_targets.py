from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.markers import Environment, Marker
from packaging.tags import Tag
from packaging.version import Version

from rennet.domain.mirror.targets import (
    InvalidTarget,
    Target,
    make_targets,
    marker_environments,
    parse_target,
    requires_python_ok,
    wheel_matches,
)

LINUX_311 = parse_target("3.11", "manylinux_2_17_x86_64")
LINUX_312 = parse_target("3.12", "manylinux_2_17_x86_64")
LINUX_312_NEW = parse_target("3.12", "manylinux_2_28_x86_64")
ARM_LINUX_312 = parse_target("3.12", "manylinux_2_28_aarch64")
MUSL_312 = parse_target("3.12", "musllinux_1_2_x86_64")
MAC_ARM_311 = parse_target("3.11", "macosx_11_0_arm64")
MAC_INTEL_312 = parse_target("3.12", "macosx_14_0_x86_64")
WIN_312 = parse_target("3.12", "win_amd64")
WIN32_312 = parse_target("3.12", "win32")


def matches(filename: str, target: Target) -> bool:
    return wheel_matches(filename, [target])


class TestParseTarget:
    def test_reads_version_platform_and_implementation(self) -> None:
        target = parse_target("3.12", "manylinux_2_17_x86_64")
        assert target == Target((3, 12), "manylinux_2_17_x86_64", "cpython", 0, False)
        assert str(target) == "cp312-manylinux_2_17_x86_64"

    def test_patch_version_feeds_the_full_version(self) -> None:
        assert parse_target("3.11.4", "win_amd64").full_version == Version("3.11.4")
        assert parse_target("3.11", "win_amd64").full_version == Version("3.11.0")

    def test_free_threaded(self) -> None:
        target = parse_target("3.13t", "win_amd64")
        assert target.free_threaded
        assert str(target) == "cp313t-win_amd64"

    def test_platform_spelling_is_normalized_like_packaging_does(self) -> None:
        assert parse_target("3.12", "macosx-11.0-arm64").platform == "macosx_11_0_arm64"
        assert parse_target("3.12", " Win_AMD64 ").platform == "win_amd64"

    def test_implementation_aliases(self) -> None:
        assert parse_target("3.10", "win_amd64", "cp").implementation == "cpython"
        assert parse_target("3.10", "win_amd64", "PyPy").implementation == "pypy"
        assert str(parse_target("3.10", "win_amd64", "pp")) == "pp310-win_amd64"

    @pytest.mark.parametrize(
        ("python", "platform", "implementation", "message"),
        [
            ("3", "win_amd64", "cpython", "not a Python version"),
            ("three", "win_amd64", "cpython", "not a Python version"),
            ("3.12", "win_amd64", "jython", "unsupported implementation"),
            ("3.12t", "win_amd64", "cpython", "free-threaded"),
            ("3.13t", "win_amd64", "pypy", "free-threaded"),
            ("3.12", "any", "cpython", "unsupported platform"),
            ("3.12", "freebsd_14_x86_64", "cpython", "unsupported platform"),
            ("3.12", "win", "cpython", "unsupported platform"),
            ("3.12", "linux_", "cpython", "unsupported platform"),
            ("3.12", "manylinux_2_x86_64", "cpython", "expected manylinux_X_Y_ARCH"),
            ("3.12", "musllinux_1_x86_64", "cpython", "expected musllinux_X_Y_ARCH"),
            ("3.12", "manylinux_2_4_x86_64", "cpython", "starts at glibc 2.5"),
            ("3.12", "manylinux_2_12_aarch64", "cpython", "starts at glibc 2.17"),
            ("3.12", "manylinux1_aarch64", "cpython", "starts at glibc 2.17"),
            ("3.12", "macosx_9_0_x86_64", "cpython", "no macOS 9.0"),
            ("3.12", "macosx_10_9_arm64", "cpython", "no macOS 10.9"),
        ],
    )
    def test_refuses_what_describes_no_environment(
        self, python: str, platform: str, implementation: str, message: str
    ) -> None:
        with pytest.raises(InvalidTarget, match=message):
            parse_target(python, platform, implementation)


class TestMakeTargets:
    def test_every_combination_in_order(self) -> None:
        targets = make_targets(["3.11", "3.12"], ["manylinux_2_17_x86_64", "win_amd64"])
        assert [str(t) for t in targets] == [
            "cp311-manylinux_2_17_x86_64",
            "cp311-win_amd64",
            "cp312-manylinux_2_17_x86_64",
            "cp312-win_amd64",
        ]

    def test_duplicates_collapse(self) -> None:
        assert len(make_targets(["3.12", "3.12"], ["win_amd64", "WIN_AMD64"])) == 1

    @pytest.mark.parametrize(("pythons", "platforms"), [([], ["win_amd64"]), (["3.12"], [])])
    def test_needs_a_version_and_a_platform(self, pythons: list[str], platforms: list[str]) -> None:
        with pytest.raises(InvalidTarget, match="at least one"):
            make_targets(pythons, platforms)

    def test_one_bad_value_refuses_all(self) -> None:
        with pytest.raises(InvalidTarget):
            make_targets(["3.12", "x"], ["win_amd64"])


class TestWheelMatches:
    def test_numpy_style_cpython_wheels_match_their_version_only(self) -> None:
        name = "numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
        assert matches(name, LINUX_312)
        assert not matches(name, LINUX_311)
        assert wheel_matches(name, [LINUX_311, LINUX_312])

    def test_newer_glibc_wheel_needs_a_newer_target(self) -> None:
        name = "numpy-2.1.0-cp312-cp312-manylinux_2_28_x86_64.whl"
        assert not matches(name, LINUX_312)
        assert matches(name, LINUX_312_NEW)

    @pytest.mark.parametrize(
        "platform_tag",
        [
            "manylinux_2_28_x86_64",
            "manylinux_2_17_x86_64",
            "manylinux2014_x86_64",
            "manylinux2010_x86_64",
            "manylinux_2_12_x86_64",
            "manylinux1_x86_64",
            "manylinux_2_5_x86_64",
        ],
    )
    def test_a_newer_manylinux_accepts_every_older_one_and_the_legacy_aliases(self, platform_tag: str) -> None:
        assert matches(f"pkg-1.0-cp312-cp312-{platform_tag}.whl", LINUX_312_NEW)

    def test_legacy_manylinux_target_names_expand_like_pep_600(self) -> None:
        target = parse_target("3.12", "manylinux2014_x86_64")
        assert matches("pkg-1.0-cp312-cp312-manylinux1_x86_64.whl", target)
        assert matches("pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", target)
        assert not matches("pkg-1.0-cp312-cp312-manylinux_2_18_x86_64.whl", target)
        assert matches("pkg-1.0-cp312-cp312-manylinux1_x86_64.whl", parse_target("3.12", "manylinux2010_x86_64"))
        assert matches("pkg-1.0-cp312-cp312-manylinux_2_5_x86_64.whl", parse_target("3.12", "manylinux1_x86_64"))
        assert not matches("pkg-1.0-cp312-cp312-manylinux2010_x86_64.whl", parse_target("3.12", "manylinux1_x86_64"))

    def test_aarch64_has_manylinux2014_but_no_older_alias(self) -> None:
        assert matches("pkg-1.0-cp312-cp312-manylinux2014_aarch64.whl", ARM_LINUX_312)
        assert matches("pkg-1.0-cp312-cp312-manylinux_2_17_aarch64.whl", ARM_LINUX_312)
        assert not matches("pkg-1.0-cp312-cp312-manylinux1_aarch64.whl", ARM_LINUX_312)
        assert not matches("pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", ARM_LINUX_312)

    def test_musllinux_accepts_older_musl_but_not_glibc(self) -> None:
        assert matches("pkg-1.0-cp312-cp312-musllinux_1_1_x86_64.whl", MUSL_312)
        assert matches("pkg-1.0-cp312-cp312-musllinux_1_2_x86_64.whl", MUSL_312)
        assert not matches("pkg-1.0-cp312-cp312-musllinux_1_3_x86_64.whl", MUSL_312)
        assert not matches("pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", MUSL_312)
        assert not matches("pkg-1.0-cp312-cp312-musllinux_1_1_x86_64.whl", LINUX_312)

    def test_abi3_wheels_serve_every_later_cpython(self) -> None:
        name = "cryptography-43.0.0-cp39-abi3-manylinux_2_28_x86_64.whl"
        assert matches(name, LINUX_312_NEW)
        assert matches(name, parse_target("3.9", "manylinux_2_28_x86_64"))
        assert not matches(name, parse_target("3.8", "manylinux_2_28_x86_64"))
        assert not matches("pkg-1.0-cp313-abi3-manylinux_2_28_x86_64.whl", LINUX_312_NEW)

    def test_free_threaded_builds_need_their_own_abi(self) -> None:
        target = parse_target("3.13t", "manylinux_2_17_x86_64")
        assert matches("pkg-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl", target)
        assert not matches("pkg-1.0-cp313-cp313-manylinux_2_17_x86_64.whl", target)
        assert not matches("pkg-1.0-cp39-abi3-manylinux_2_17_x86_64.whl", target)
        assert not matches(
            "pkg-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl", parse_target("3.13", "manylinux_2_17_x86_64")
        )

    def test_pure_python_wheels_match_everywhere(self) -> None:
        for target in (LINUX_311, MAC_ARM_311, WIN32_312, MUSL_312):
            assert matches("requests-2.32.3-py3-none-any.whl", target)
            assert matches("six-1.16.0-py2.py3-none-any.whl", target)
            assert not matches("futures-3.4.0-py2-none-any.whl", target)

    def test_version_specific_pure_wheels(self) -> None:
        assert matches("pkg-1.0-py311-none-any.whl", LINUX_312)  # older minor of the same major
        assert not matches("pkg-1.0-py313-none-any.whl", LINUX_312)
        assert matches("pkg-1.0-cp312-none-any.whl", LINUX_312)
        assert not matches("pkg-1.0-cp311-none-any.whl", LINUX_312)

    def test_macos_universal2_and_older_releases(self) -> None:
        universal = "numpy-2.0.0-cp311-cp311-macosx_10_9_universal2.whl"
        assert matches(universal, MAC_ARM_311)
        assert matches("numpy-2.0.0-cp311-cp311-macosx_11_0_arm64.whl", MAC_ARM_311)
        assert not matches("numpy-2.0.0-cp311-cp311-macosx_14_0_arm64.whl", MAC_ARM_311)
        assert not matches("numpy-2.0.0-cp311-cp311-macosx_10_9_x86_64.whl", MAC_ARM_311)
        assert matches("numpy-2.0.0-cp312-cp312-macosx_10_9_x86_64.whl", MAC_INTEL_312)
        assert matches("numpy-2.0.0-cp312-cp312-macosx_10_9_universal2.whl", MAC_INTEL_312)
        assert not matches("numpy-2.0.0-cp312-cp312-macosx_11_0_arm64.whl", MAC_INTEL_312)

    def test_windows_architectures_are_distinct(self) -> None:
        assert matches("numpy-2.0.0-cp312-cp312-win_amd64.whl", WIN_312)
        assert not matches("numpy-2.0.0-cp312-cp312-win_amd64.whl", WIN32_312)
        assert matches("numpy-2.0.0-cp312-cp312-win32.whl", WIN32_312)
        assert not matches("numpy-2.0.0-cp312-cp312-manylinux_2_17_x86_64.whl", WIN_312)

    def test_plain_linux_wheels_only_for_a_plain_linux_target(self) -> None:
        name = "private-1.0-cp312-cp312-linux_x86_64.whl"
        assert not matches(name, LINUX_312_NEW)
        assert matches(name, parse_target("3.12", "linux_x86_64"))
        assert not matches("pkg-1.0-cp312-cp312-manylinux1_x86_64.whl", parse_target("3.12", "linux_x86_64"))

    def test_pypy_targets(self) -> None:
        target = parse_target("3.10", "manylinux_2_17_x86_64", "pypy")
        assert matches("pkg-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", target)
        assert matches("pkg-1.0-py3-none-any.whl", target)
        assert not matches("pkg-1.0-cp310-cp310-manylinux_2_17_x86_64.whl", target)
        assert not matches("pkg-1.0-cp310-abi3-manylinux_2_17_x86_64.whl", target)

    @pytest.mark.parametrize("name", ["pkg-1.0.tar.gz", "pkg-1.0-py3-none-any.zip", "not a wheel.whl", "pkg.whl"])
    def test_anything_but_a_valid_wheel_never_matches(self, name: str) -> None:
        assert not matches(name, LINUX_312)

    def test_no_targets_no_match(self) -> None:
        assert not wheel_matches("requests-2.32.3-py3-none-any.whl", [])


class TestRanking:
    def test_specific_beats_generic(self) -> None:
        rank = LINUX_312_NEW.rank
        exact = rank([Tag("cp312", "cp312", "manylinux_2_28_x86_64")])
        older_glibc = rank([Tag("cp312", "cp312", "manylinux_2_17_x86_64")])
        stable_abi = rank([Tag("cp39", "abi3", "manylinux_2_28_x86_64")])
        pure = rank([Tag("py3", "none", "any")])
        assert exact is not None and older_glibc is not None and stable_abi is not None and pure is not None
        assert exact < older_glibc < stable_abi < pure

    def test_a_wheel_ranks_by_its_best_tag(self) -> None:
        tags = [Tag("cp312", "cp312", "manylinux2014_x86_64"), Tag("cp312", "cp312", "manylinux_2_17_x86_64")]
        assert LINUX_312.rank(tags) == LINUX_312.rank(tags[1:]) == 0

    def test_unknown_tags_do_not_rank(self) -> None:
        assert LINUX_312.rank([Tag("cp312", "cp312", "win_amd64")]) is None
        assert LINUX_312.rank([]) is None

    def test_tags_start_with_the_most_specific(self) -> None:
        assert LINUX_312.tags()[0] == Tag("cp312", "cp312", "manylinux_2_17_x86_64")
        assert LINUX_312.tags()[1] == Tag("cp312", "cp312", "manylinux2014_x86_64")
        assert LINUX_312.tags()[-1] == Tag("py30", "none", "any")


class TestAgainstPip:
    """pip's own --platform/--python-version expansion must be a subset of ours (ours also expands manylinux_X_Y)."""

    @pytest.mark.parametrize(
        ("version", "platform"),
        [
            ("312", "manylinux2014_x86_64"),
            ("311", "macosx_11_0_arm64"),
            ("312", "win_amd64"),
            ("39", "manylinux1_x86_64"),
        ],
    )
    def test_pip_tags_are_included(self, version: str, platform: str) -> None:
        compatibility = pytest.importorskip("pip._internal.utils.compatibility_tags")
        supported = compatibility.get_supported(
            version=version, platforms=[platform], impl="cp", abis=[f"cp{version}"]
        )
        pips = {str(tag) for tag in supported}  # pip vendors its own Tag class: compare as text
        ours = {str(tag) for tag in parse_target(f"{version[0]}.{version[1:]}", platform).tags()}
        assert len(pips) > 10
        assert pips <= ours


GLIBC_MINOR = st.integers(min_value=17, max_value=40)


@given(wheel_minor=GLIBC_MINOR, target_minor=GLIBC_MINOR, arch=st.sampled_from(["x86_64", "aarch64", "ppc64le"]))
def test_manylinux_matches_exactly_when_the_wheel_needs_no_newer_glibc(
    wheel_minor: int, target_minor: int, arch: str
) -> None:
    target = parse_target("3.12", f"manylinux_2_{target_minor}_{arch}")
    assert matches(f"pkg-1.0-cp312-cp312-manylinux_2_{wheel_minor}_{arch}.whl", target) == (
        wheel_minor <= target_minor
    )


@given(wheel=st.integers(0, 15), target=st.integers(0, 15))
def test_macos_intel_matches_exactly_when_the_wheel_needs_no_newer_macos(wheel: int, target: int) -> None:
    assert matches(
        f"pkg-1.0-cp312-cp312-macosx_{wheel + 11}_0_x86_64.whl",
        parse_target("3.12", f"macosx_{target + 11}_0_x86_64"),
    ) == (wheel <= target)


class TestMarkerEnvironments:
    def test_linux(self) -> None:
        (env,) = marker_environments([ARM_LINUX_312])
        assert env["sys_platform"] == "linux"
        assert env["platform_system"] == "Linux"
        assert env["platform_machine"] == "aarch64"
        assert env["os_name"] == "posix"
        assert env["python_version"] == "3.12"
        assert env["python_full_version"] == "3.12.0"
        assert env["implementation_name"] == "cpython"
        assert env["platform_python_implementation"] == "CPython"

    def test_windows(self) -> None:
        (amd64,) = marker_environments([WIN_312])
        (x86,) = marker_environments([WIN32_312])
        assert (amd64["sys_platform"], amd64["platform_system"], amd64["os_name"]) == ("win32", "Windows", "nt")
        assert amd64["platform_machine"] == "AMD64"
        assert x86["platform_machine"] == "x86"

    def test_macos_universal2_stands_for_both_machines(self) -> None:
        environments = marker_environments([parse_target("3.12", "macosx_11_0_universal2")])
        assert sorted(e["platform_machine"] for e in environments) == ["arm64", "x86_64"]
        assert {e["sys_platform"] for e in environments} == {"darwin"}

    def test_pypy(self) -> None:
        (env,) = marker_environments([parse_target("3.10", "win_amd64", "pypy")])
        assert (env["implementation_name"], env["platform_python_implementation"]) == ("pypy", "PyPy")

    def test_duplicates_collapse_and_order_is_kept(self) -> None:
        environments = marker_environments([LINUX_312, LINUX_312_NEW, WIN_312])
        assert [e["sys_platform"] for e in environments] == ["linux", "win32"]

    def test_every_marker_variable_is_set_so_nothing_comes_from_this_machine(self) -> None:
        (env,) = marker_environments([WIN_312])
        assert set(env) == set(Environment.__annotations__)

    def test_markers_evaluate_against_the_target_not_the_host(self) -> None:
        (env,) = marker_environments([WIN_312])
        assert Marker('sys_platform == "win32" and python_version >= "3.12"').evaluate(env)
        assert not Marker('platform_system == "Linux"').evaluate(env)


class TestRequiresPython:
    @pytest.mark.parametrize(
        ("spec", "expected"),
        [
            (None, True),
            ("", True),
            ("not a specifier", True),
            (">=3.11", True),
            (">=3.12", True),
            (">=3.13", False),
            ("<3.11", False),
            ("!=3.11.*,!=3.12.*", False),
            ("~=3.11.0", True),
        ],
    )
    def test_any_target_suffices(self, spec: str | None, expected: bool) -> None:
        assert requires_python_ok(spec, [LINUX_311, LINUX_312]) is expected

    def test_patch_level_counts(self) -> None:
        assert not requires_python_ok(">=3.11.2", [LINUX_311])
        assert requires_python_ok(">=3.11.2", [parse_target("3.11.4", "win_amd64")])

    def test_no_targets_nothing_fits(self) -> None:
        assert not requires_python_ok(">=3", [])
