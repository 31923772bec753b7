"""Project names, served filenames and what a distribution filename says about itself."""

from __future__ import annotations

import pytest
from packaging.utils import NormalizedName
from packaging.version import Version

from rennet.domain.names import (
    MAX_FILENAME_LENGTH,
    MAX_NAME_LENGTH,
    DistName,
    InvalidName,
    canonical_name,
    check_filename,
    check_project_name,
    parse_dist_filename,
)

# -- project names ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("requests", "requests"),
        ("Django", "django"),
        ("zope.interface", "zope-interface"),
        ("Foo_Bar", "foo-bar"),
        ("foo__bar", "foo-bar"),
        ("foo-_.-bar", "foo-bar"),
        ("A", "a"),
        ("9", "9"),
        ("x1.0", "x1-0"),
        ("Sphinx-RTD-Theme", "sphinx-rtd-theme"),
    ],
)
def test_valid_names_are_normalized_as_pep_503_says(name: str, normalized: str) -> None:
    assert check_project_name(name) == normalized
    assert canonical_name(name) == normalized


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-foo",
        "foo-",
        ".foo",
        "foo.",
        "_foo",
        "foo_",
        "foo bar",
        "foo/bar",
        "foo\\bar",
        "../etc",
        "foo@bar",
        "foo+bar",
        "foo%2fbar",
        "foo\n",  # `$` would accept a trailing newline
        "\nfoo",
        "foo\x00",
        "foo\t",
        " foo",
    ],
)
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName):
        check_project_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "requ\u0435sts",  # Cyrillic small ie looks like "e"
        "\u212aelvin",  # KELVIN SIGN folds to "k" under re.IGNORECASE
        "\u017fix",  # LATIN SMALL LETTER LONG S folds to "s"
        "d\u0131ango",  # dotless i folds to "I"
        "\uff44jango",  # fullwidth d
        "caf\u00e9",
        "foo\u200bbar",  # zero-width space
        "\u0661\u0662",  # Arabic-Indic digits
    ],
)
def test_non_ascii_and_confusable_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName, match="not a valid project name"):
        check_project_name(name)


def test_name_length_limit() -> None:
    assert check_project_name("a" * MAX_NAME_LENGTH) == "a" * MAX_NAME_LENGTH
    with pytest.raises(InvalidName, match="1 to 200"):
        check_project_name("a" * (MAX_NAME_LENGTH + 1))


def test_error_message_truncates_huge_names() -> None:
    with pytest.raises(InvalidName) as caught:
        check_project_name("-" + "x" * 150)
    assert len(str(caught.value)) < 250


# -- filenames ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [
        "foo-1.0.tar.gz",
        "foo-1.0+local.1-py3-none-any.whl",
        "foo-1.0-py3-none-any.whl.metadata",
        "Foo Bar-1.0.zip",  # some old uploads carry a plain space
        "foo..1.0.tar.gz",
        "a",
        "x" * MAX_FILENAME_LENGTH,
    ],
)
def test_plain_filenames_are_accepted(filename: str) -> None:
    assert check_filename(filename) == filename


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("", "1 to 255"),
        ("x" * (MAX_FILENAME_LENGTH + 1), "1 to 255"),
        ("../foo-1.0.tar.gz", "path separator"),
        ("dir/foo-1.0.tar.gz", "path separator"),
        ("dir\\foo-1.0.tar.gz", "path separator"),
        ("/etc/passwd", "path separator"),
        (".", "starts with a dot"),
        ("..", "starts with a dot"),
        (".htaccess", "starts with a dot"),
        ("foo\x00.tar.gz", "control"),
        ("foo\n.tar.gz", "control"),
        ("foo\r\nSet-Cookie: x", "control"),
        ("foo\t1.0.tar.gz", "control"),
        ("foo\x7f.tar.gz", "control"),
        ("foo\x85.tar.gz", "control"),  # NEXT LINE, a C1 control
        ("foo-1.0\u202egz.rat.whl", "control"),  # RIGHT-TO-LEFT OVERRIDE
        ("foo\u200b-1.0.tar.gz", "control"),  # ZERO WIDTH SPACE
        ("foo\ufeff-1.0.tar.gz", "control"),  # BOM
        ("foo\u2066-1.0.tar.gz", "control"),  # LEFT-TO-RIGHT ISOLATE
        ("foo\ud800.tar.gz", "control"),  # lone surrogate
        ("foo\ue000.tar.gz", "control"),  # private use
        (" foo-1.0.tar.gz", "white space"),
        ("foo-1.0.tar.gz ", "white space"),
        ("foo-1.0.tar.gz\u3000", "white space"),
        ("foo\u00a0-1.0.tar.gz", "white space"),  # NO-BREAK SPACE looks like a space
        ("foo\u2028-1.0.tar.gz", "white space"),  # LINE SEPARATOR
        ("foo\u2029-1.0.tar.gz", "white space"),  # PARAGRAPH SEPARATOR
    ],
)
def test_unsafe_filenames_are_refused(filename: str, reason: str) -> None:
    with pytest.raises(InvalidName, match=reason):
        check_filename(filename)


def test_filename_error_message_is_bounded_and_printable() -> None:
    with pytest.raises(InvalidName) as caught:
        check_filename("a/" + "b" * 250 + "\x00")
    message = str(caught.value)
    assert len(message) < 200
    assert "\x00" not in message


# -- distribution filenames ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("foo-1.0-py3-none-any.whl", DistName(NormalizedName("foo"), Version("1.0"), "wheel")),
        ("Foo_Bar-2.0.1-py2.py3-none-any.whl", DistName(NormalizedName("foo-bar"), Version("2.0.1"), "wheel")),
        (
            "foo-1.0-1build-cp311-cp311-manylinux_2_17_x86_64.whl",
            DistName(NormalizedName("foo"), Version("1.0"), "wheel"),
        ),
        ("foo-1.0+local.7-py3-none-any.whl", DistName(NormalizedName("foo"), Version("1.0+local.7"), "wheel")),
        ("foo-1.0rc1-py3-none-any.whl", DistName(NormalizedName("foo"), Version("1.0rc1"), "wheel")),
        ("foo-1.0.tar.gz", DistName(NormalizedName("foo"), Version("1.0"), "sdist")),
        ("foo_bar-1.0.post1.tar.gz", DistName(NormalizedName("foo-bar"), Version("1.0.post1"), "sdist")),
        ("foo-1.0.zip", DistName(NormalizedName("foo"), Version("1.0"), "sdist")),
        ("foo-bar-1.0.tar.gz", DistName(NormalizedName("foo-bar"), Version("1.0"), "sdist")),
        ("foo-bar-baz-2.3.4.zip", DistName(NormalizedName("foo-bar-baz"), Version("2.3.4"), "sdist")),
        ("Foo-1.0.TAR.GZ", DistName(NormalizedName("foo"), Version("1.0"), "sdist")),
        ("foo-1.0.tar.bz2", DistName(NormalizedName("foo"), Version("1.0"), "sdist")),
        ("foo-bar-1.0.tgz", DistName(NormalizedName("foo-bar"), Version("1.0"), "sdist")),
        ("foo-1.0.tar.xz", DistName(NormalizedName("foo"), Version("1.0"), "sdist")),
        ("foo-1.0.tar", DistName(NormalizedName("foo"), Version("1.0"), "sdist")),
        ("foo-1.0-py2.7.egg", DistName(NormalizedName("foo"), Version("1.0"), "legacy")),
        ("foo_bar-1.0-py2.7-linux-x86_64.egg", DistName(NormalizedName("foo-bar"), Version("1.0"), "legacy")),
        ("foo-1.0.egg", DistName(NormalizedName("foo"), Version("1.0"), "legacy")),
        ("foo-1.0.win32.exe", DistName(NormalizedName("foo"), Version("1.0"), "legacy")),
        ("foo-1.0.win-amd64-py2.7.exe", DistName(NormalizedName("foo"), Version("1.0"), "legacy")),
        ("foo-1.0.win32-py2.7.msi", DistName(NormalizedName("foo"), Version("1.0"), "legacy")),
        ("foo-1.0-1.noarch.rpm", DistName(NormalizedName("foo"), Version("1.0"), "legacy")),
        ("foo-1.0-macosx10.5.dmg", DistName(NormalizedName("foo"), Version("1.0"), "legacy")),
        # A legacy version that PEP 440 cannot read keeps the project and loses the version.
        ("foo-2004d.tar.gz", DistName(NormalizedName("foo"), None, "sdist")),
        ("python-dateutil-1.5.win32.exe", DistName(NormalizedName("python-dateutil"), Version("1.5"), "legacy")),
    ],
)
def test_distribution_filenames(filename: str, expected: DistName) -> None:
    assert parse_dist_filename(filename) == expected


@pytest.mark.parametrize(
    "filename",
    [
        "",
        "garbage",
        "README.txt",
        "foo.whl",
        "foo-1.0.whl",
        "foo-1.0-py3-none.whl",
        "foo-notaversion-py3-none-any.whl",
        "foo__bar-1.0-py3-none-any.whl",
        "foo-1.0-py3-none-any.WHL",
        "-1.0.tar.gz",
        "foo.tar.gz",
        "foo-.tar.gz",
        ".tar.gz",
        "foo bar-1.0.tar.gz",
        "../../etc-1.0.tar.gz",
        "foo@bar-1.0.zip",
        "foo.egg",
        "-1.0-py2.7.egg",
        "foo-1.0.tar.gz.asc",
        "foo-dev-py2.7.egg",  # no version to tell where the name ends
    ],
)
def test_garbage_is_not_a_distribution(filename: str) -> None:
    assert parse_dist_filename(filename) is None
