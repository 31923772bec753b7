from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet

from rennet.domain.mirror.requirements import (
    LineMessage,
    Origin,
    ParsedRequirements,
    WantedItem,
    parse_requirements,
    parse_requirements_text,
)
from rennet.domain.names import canonical_name

A = "a" * 64
B = "b" * 64


def files(tree: dict[str, str]) -> Callable[[str], str]:
    """A reader over an in-memory tree, failing like the file system for anything else."""

    def read(path: str) -> str:
        if path not in tree:
            raise FileNotFoundError(2, "No such file or directory", path)
        return tree[path]

    return read


def parse(text: str, **tree: str) -> ParsedRequirements:
    return parse_requirements_text(text, "requirements.txt", files(tree))


def messages(found: tuple[LineMessage, ...]) -> list[str]:
    return [str(m) for m in found]


class TestItems:
    def test_name_specifier_extras_marker(self) -> None:
        (item,) = parse('Requests[SOCKS, Security] >= 2.31, <3 ; python_version >= "3.8"\n').items
        assert item.name == "requests"
        assert item.specifier == SpecifierSet(">=2.31,<3")
        assert item.extras == {"socks", "security"}
        assert item.marker == Marker('python_version >= "3.8"')
        assert item.hashes == frozenset()
        assert item.origin == Origin("requirements.txt", 1)
        assert str(item) == 'requests[security,socks]<3,>=2.31; python_version >= "3.8"'

    def test_names_are_normalized(self) -> None:
        names = [i.name for i in parse("Foo_Bar.baz\nzope.interface==6.0\n").items]
        assert names == ["foo-bar-baz", "zope-interface"]

    def test_a_bare_item_has_defaults(self) -> None:
        (item,) = parse("six").items
        assert item == WantedItem(canonical_name("six"), origin=Origin("requirements.txt", 1))
        assert item.specifier == SpecifierSet() and item.marker is None and not item.extras

    def test_comments_and_blank_lines(self) -> None:
        text = "# pinned for prod\n\nflask==3.0.3  # web\n   \n\t# indented comment\nclick\n"
        parsed = parse(text)
        assert [(i.name, i.origin) for i in parsed.items] == [
            ("flask", Origin("requirements.txt", 3)),
            ("click", Origin("requirements.txt", 6)),
        ]
        assert not parsed.errors and not parsed.notes

    def test_a_hash_sign_inside_a_word_is_not_a_comment(self) -> None:
        parsed = parse("flask#web\n")
        assert not parsed.items
        assert messages(parsed.errors)[0].startswith("requirements.txt:1: invalid requirement 'flask#web'")

    def test_byte_order_mark_is_dropped(self) -> None:
        assert [i.name for i in parse("\ufeffsix\n").items] == ["six"]

    def test_duplicates_are_kept_for_the_planner_to_merge(self) -> None:
        assert [str(i.specifier) for i in parse("six>=1\nsix<2\n").items] == [">=1", "<2"]


class TestHashes:
    def test_several_hashes_on_continuation_lines(self) -> None:
        text = f"certifi==2024.8.30 \\\n    --hash=sha256:{A} \\\n    --hash=sha256:{B.upper()}\nidna==3.10\n"
        parsed = parse(text)
        certifi, idna = parsed.items
        assert certifi.hashes == {("sha256", A), ("sha256", B)}
        assert certifi.origin == Origin("requirements.txt", 1)
        assert idna.origin == Origin("requirements.txt", 4)

    def test_hash_as_a_separate_word_and_stronger_algorithms(self) -> None:
        (item,) = parse(f"six --hash sha384:{'c' * 96} --hash=sha512:{'d' * 128}").items
        assert item.hashes == {("sha384", "c" * 96), ("sha512", "d" * 128)}

    def test_hash_after_a_marker(self) -> None:
        (item,) = parse(f'six ; sys_platform == "linux" --hash=sha256:{A}').items
        assert item.marker == Marker('sys_platform == "linux"')
        assert item.hashes == {("sha256", A)}

    @pytest.mark.parametrize(
        ("option", "message"),
        [
            ("--hash=md5:0123", "use sha256:<hex>"),
            (f"--hash={A}", "use sha256:<hex>"),
            ("--hash=sha256:abc", "not a sha256 hex digest"),
            (f"--hash=sha256:{'g' * 64}", "not a sha256 hex digest"),
            (f"--hash=sha384:{A}", "not a sha384 hex digest"),
            ("--hash", "--hash needs a value"),
        ],
    )
    def test_bad_hashes_make_the_line_an_error(self, option: str, message: str) -> None:
        parsed = parse(f"six==1.16.0\nidna {option}\n")
        assert [i.name for i in parsed.items] == ["six"]
        (error,) = parsed.errors
        assert error.origin == Origin("requirements.txt", 2)
        assert message in error.message

    def test_a_hash_on_its_own_line_is_an_error(self) -> None:
        parsed = parse(f"--hash=sha256:{A}\n")
        assert messages(parsed.errors) == ["requirements.txt:1: --hash must follow a requirement on the same line"]


class TestContinuations:
    def test_a_requirement_split_over_lines(self) -> None:
        (item,) = parse("numpy\\\n>=2\\\n,<3\n").items
        assert item.specifier == SpecifierSet(">=2,<3")

    def test_a_comment_line_ends_a_continuation_like_pip(self) -> None:
        parsed = parse("six \\\n# a comment\nidna\n")
        assert [(i.name, i.origin.line) for i in parsed.items if i.origin] == [("six", 1), ("idna", 3)]

    def test_a_backslash_on_the_last_line(self) -> None:
        (item,) = parse("six==1.16.0 \\").items
        assert item.name == "six"

    def test_line_numbers_after_a_continuation_are_physical(self) -> None:
        parsed = parse("a \\\n  --hash=sha256:" + A + "\n\nnot valid!\n")
        assert parsed.errors[0].origin.line == 4


class TestIncludes:
    def test_requirement_files_nest_relative_to_the_including_file(self) -> None:
        read = files(
            {
                "ci/requirements.txt": "-r base.txt\n--requirement=dev/test.txt\nflask\n",
                "ci/base.txt": "requests\n",
                "ci/dev/test.txt": "-r ../../common.txt\npytest\n",
                "common.txt": "six\n",
            }
        )
        parsed = parse_requirements("ci/requirements.txt", read)
        assert [(i.name, str(i.origin)) for i in parsed.items] == [
            ("requests", "ci/base.txt:1"),
            ("six", "common.txt:1"),
            ("pytest", "ci/dev/test.txt:2"),
            ("flask", "ci/requirements.txt:3"),
        ]
        assert not parsed.errors

    def test_short_option_glued_to_its_value(self) -> None:
        parsed = parse("-rbase.txt\n", **{"base.txt": "six\n"})
        assert [i.name for i in parsed.items] == ["six"]

    def test_constraints_narrow_and_never_add(self) -> None:
        tree = {"constraints.txt": "urllib3<3\n-r more.txt\n", "more.txt": "idna<4\n"}
        parsed = parse("requests\n-c constraints.txt\n", **tree)
        assert [i.name for i in parsed.items] == ["requests"]
        assert [(i.name, str(i.specifier)) for i in parsed.constraints] == [("urllib3", "<3"), ("idna", "<4")]

    def test_constraints_cannot_have_extras(self) -> None:
        parsed = parse("--constraint c.txt\n", **{"c.txt": "requests[socks]<3\n"})
        assert not parsed.constraints
        assert messages(parsed.errors) == ["c.txt:1: constraints cannot have extras: requests[socks]<3"]

    def test_a_cycle_is_an_error_at_the_line_that_closes_it(self) -> None:
        tree = {"a.txt": "six\n-r b.txt\n", "b.txt": "idna\n-r a.txt\n"}
        parsed = parse_requirements("a.txt", files(tree))
        assert [i.name for i in parsed.items] == ["six", "idna"]
        assert messages(parsed.errors) == ["b.txt:2: include cycle: a.txt -> b.txt -> a.txt"]

    def test_a_file_including_itself(self) -> None:
        parsed = parse_requirements("r.txt", files({"r.txt": "-r ./r.txt\nsix\n"}))
        assert messages(parsed.errors) == ["r.txt:1: include cycle: r.txt -> r.txt"]
        assert [i.name for i in parsed.items] == ["six"]

    def test_a_diamond_is_read_once(self) -> None:
        tree = {"top.txt": "-r a.txt\n-r b.txt\n", "a.txt": "-r common.txt\n", "b.txt": "-r common.txt\n"}
        parsed = parse_requirements("top.txt", files({**tree, "common.txt": "six\n"}))
        assert [i.name for i in parsed.items] == ["six"]
        assert not parsed.errors

    def test_the_same_file_as_requirements_and_as_constraints_counts_both_ways(self) -> None:
        parsed = parse("-r pins.txt\n-c pins.txt\n", **{"pins.txt": "six==1.16.0\n"})
        assert [i.name for i in parsed.items] == ["six"]
        assert [i.name for i in parsed.constraints] == ["six"]

    def test_a_missing_include_is_an_error_of_the_including_line(self) -> None:
        parsed = parse("six\n-r missing.txt\nidna\n")
        assert [i.name for i in parsed.items] == ["six", "idna"]
        (error,) = parsed.errors
        assert error.origin == Origin("requirements.txt", 2)
        assert error.message.startswith("cannot read missing.txt:")

    def test_an_undecodable_include(self) -> None:
        def read(path: str) -> str:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")

        parsed = parse_requirements_text("-r latin1.txt\n", "r.txt", read)
        assert "cannot read latin1.txt" in parsed.errors[0].message

    def test_an_unreadable_root_is_an_error_of_line_zero(self) -> None:
        parsed = parse_requirements("nope.txt", files({}))
        assert parsed.errors[0].origin == Origin("nope.txt", 0)
        assert not parsed.items

    def test_remote_includes_are_not_fetched(self) -> None:
        parsed = parse("-r http://127.0.0.1:9/requirements.txt\n")
        assert messages(parsed.errors) == [
            "requirements.txt:1: --requirement http://127.0.0.1:9/requirements.txt: remote files are not fetched"
        ]

    def test_includes_need_a_reader(self) -> None:
        parsed = parse_requirements_text("-r base.txt\nsix\n")
        assert messages(parsed.errors) == ["requirements.txt:1: cannot include base.txt: no reader given"]
        assert [i.name for i in parsed.items] == ["six"]

    def test_reading_real_files_through_a_callback(self, tmp_path: Path) -> None:
        (tmp_path / "sub").mkdir()
        (tmp_path / "requirements.txt").write_text("-r sub/base.txt\nflask\n")
        (tmp_path / "sub" / "base.txt").write_text("requests>=2\n")
        parsed = parse_requirements(str(tmp_path / "requirements.txt"), lambda p: Path(p).read_text())
        assert [i.name for i in parsed.items] == ["requests", "flask"]
        assert parsed.items[0].origin == Origin(str(tmp_path / "sub" / "base.txt"), 1)


class TestRefused:
    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ("-e ./my-project", "editable requirement ./my-project cannot be mirrored"),
            ("--editable=git+https://example.invalid/p.git#egg=p", "editable requirement"),
            ("https://example.invalid/pkg-1.0.tar.gz", "is a URL"),
            ("git+https://example.invalid/p.git@v1#egg=p", "is a URL"),
            ("file:///tmp/pkg-1.0-py3-none-any.whl", "is a URL"),
            ("./vendor/pkg-1.0-py3-none-any.whl", "is a local path"),
            ("../pkg", "is a local path"),
            ("/opt/wheels/pkg-1.0-py3-none-any.whl", "is a local path"),
            ("vendor/pkg", "is a local path"),
            ("C:\\wheels\\pkg-1.0-py3-none-any.whl", "is a local path"),
            ("pkg-1.0-py3-none-any.whl", "is a local file"),
            ("pkg-1.0.tar.gz", "is a local file"),
            ("pkg @ https://example.invalid/pkg-1.0.tar.gz", "direct URL references cannot be mirrored"),
            ("pkg@https://example.invalid/pkg-1.0.tar.gz", "direct URL references cannot be mirrored"),
            ("pkg >= 1 <2", "invalid requirement"),
            ("--no-such-option", "unknown option --no-such-option"),
            ("-x", "unknown option -x"),
            ("--index-url", "--index-url needs a value"),
            ("--pre=yes", "--pre takes no value"),
            ("six --index-url http://127.0.0.1:9/simple/", "--index-url is not allowed on a requirement line"),
            ("six --pre", "--pre is not allowed on a requirement line"),
            ("six --config-settings 'unbalanced", "cannot split options"),
            ("-r", "--requirement needs a value"),
        ],
    )
    def test_an_error_of_its_line(self, line: str, message: str) -> None:
        parsed = parse(f"six\n{line}\nidna\n")
        assert [i.name for i in parsed.items] == ["six", "idna"]
        (error,) = parsed.errors
        assert error.origin == Origin("requirements.txt", 2)
        assert message in error.message
        assert "\n" not in error.message

    def test_every_bad_line_is_reported_and_the_good_ones_kept(self) -> None:
        parsed = parse("-e .\nsix\n./x\nnot valid!\nidna\n")
        assert [i.name for i in parsed.items] == ["six", "idna"]
        assert [e.origin.line for e in parsed.errors] == [1, 3, 4]


class TestIgnoredOptions:
    @pytest.mark.parametrize(
        "line",
        [
            "--index-url http://127.0.0.1:9/simple/",
            "-i http://127.0.0.1:9/simple/",
            "--extra-index-url=http://127.0.0.1:9/other/",
            "--no-index",
            "-f ./wheels",
            "--find-links=./wheels",
            "--trusted-host 127.0.0.1",
            "--prefer-binary",
            "--only-binary :all:",
            "--no-binary=:none:",
            "--require-hashes",
            "--use-feature truststore",
        ],
    )
    def test_noted_not_failed(self, line: str) -> None:
        parsed = parse(f"{line}\nsix\n")
        assert not parsed.errors
        (note,) = parsed.notes
        assert note.origin == Origin("requirements.txt", 1)
        assert "ignored" in note.message
        assert [i.name for i in parsed.items] == ["six"]

    def test_several_options_on_one_line(self) -> None:
        parsed = parse("--no-index --find-links ./wheels\n")
        assert [n.message.split()[0] for n in parsed.notes] == ["--no-index", "--find-links"]

    def test_per_requirement_build_options_are_noted(self) -> None:
        parsed = parse('pkg --config-settings="--build-option=--x" --global-option=--y\n')
        assert [i.name for i in parsed.items] == ["pkg"]
        assert [n.message.split()[0] for n in parsed.notes] == ["--config-settings", "--global-option"]

    def test_pre_allows_prereleases(self) -> None:
        assert parse("--pre\nsix\n").allow_prereleases
        assert not parse("six\n").allow_prereleases
        assert parse("-r more.txt\n", **{"more.txt": "--pre\n"}).allow_prereleases


class TestVariables:
    def test_known_variables_are_expanded(self) -> None:
        parsed = parse_requirements_text("${PKG}==${VERSION}\n", environ={"PKG": "six", "VERSION": "1.16.0"})
        assert str(parsed.items[0]) == "six==1.16.0"

    def test_unknown_or_lower_case_names_stay_as_written(self) -> None:
        parsed = parse_requirements_text("${MISSING}\n${pkg}\n", environ={"pkg": "six"})
        assert len(parsed.errors) == 2
        assert "${MISSING}" in parsed.errors[0].message
        assert "${pkg}" in parsed.errors[1].message

    def test_no_environment_no_expansion(self) -> None:
        assert parse_requirements_text("${PKG}\n").errors


NAMES = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,20}[A-Za-z0-9])?", fullmatch=True)
VERSIONS = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}", fullmatch=True)


@given(name=NAMES, operator=st.sampled_from(["==", ">=", "<", "~=", "!="]), version=VERSIONS)
def test_any_valid_requirement_round_trips(name: str, operator: str, version: str) -> None:
    if operator == "~=" and "." not in version:
        version += ".0"
    if name.lower().endswith((".whl", ".zip", ".tar", ".tgz", ".tbz", ".txz")):
        return  # a file name, refused on purpose (tested above)
    parsed = parse_requirements_text(f"{name} {operator} {version}\n")
    assert not parsed.errors
    (item,) = parsed.items
    assert item.specifier == SpecifierSet(f"{operator}{version}")
    assert item.name == item.name.lower() and "_" not in item.name and "." not in item.name


@given(st.text(max_size=300))
def test_no_text_makes_the_parser_raise(text: str) -> None:
    parsed = parse_requirements_text(text, "fuzz.txt", files({}))
    for message in (*parsed.errors, *parsed.notes):
        assert message.origin.file == "fuzz.txt"
        assert message.origin.line >= 1
