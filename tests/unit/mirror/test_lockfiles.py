from __future__ import annotations

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from rennet.domain.mirror.lockfiles import (
    EntryError,
    InvalidLockfile,
    LockedFile,
    LockedFiles,
    read_pylock,
    read_uv_lock,
    select_for_targets,
)
from rennet.domain.mirror.targets import make_targets, parse_target
from rennet.domain.names import canonical_name

H1, H2, H3, H4, H5 = ("1" * 64, "2" * 64, "3" * 64, "4" * 64, "5" * 64)
FILES = "http://127.0.0.1:9/files"

UV_LOCK = f"""\
version = 1
revision = 2
requires-python = ">=3.11"
resolution-markers = [
    "sys_platform == 'win32'",
    "sys_platform != 'win32'",
]

[[package]]
name = "anyio"
version = "4.6.2.post1"
source = {{ registry = "http://127.0.0.1:9/simple" }}
dependencies = [
    {{ name = "idna" }},
    {{ name = "sniffio" }},
]
sdist = {{ url = "{FILES}/9f/09/anyio-4.6.2.post1.tar.gz", hash = "sha256:{H1}", size = 173422, upload-time = "2024-10-14T14:31:44.21Z" }}
wheels = [
    {{ url = "{FILES}/e4/f5/anyio-4.6.2.post1-py3-none-any.whl", hash = "sha256:{H2}", size = 90377, upload-time = "2024-10-14T14:31:42.623Z" }},
]

[[package]]
name = "colorama"
version = "0.4.6"
source = {{ registry = "http://127.0.0.1:9/simple" }}
wheels = [
    {{ url = "{FILES}/d1/d6/colorama-0.4.6-py2.py3-none-any.whl", hash = "sha256:{H3.upper()}", size = 25335 }},
]

[[package]]
name = "torch"
version = "2.4.0+cpu"
source = {{ registry = "http://127.0.0.1:9/whl/cpu" }}
wheels = [
    {{ url = "http://127.0.0.1:9/whl/cpu/torch-2.4.0%2Bcpu-cp312-cp312-linux_x86_64.whl", hash = "sha256:{H4}" }},
    {{ url = "http://127.0.0.1:9/whl/cpu/torch-2.4.0%2Bcpu-cp312-cp312-win_amd64.whl", hash = "sha256:{H5}" }},
]

[[package]]
name = "myapp"
version = "0.1.0"
source = {{ editable = "." }}
dependencies = [
    {{ name = "anyio" }},
    {{ name = "colorama", marker = "sys_platform == 'win32'" }},
]

[package.metadata]
requires-dist = [
    {{ name = "anyio", specifier = ">=4" }},
    {{ name = "colorama", marker = "sys_platform == 'win32'" }},
]
"""

PYLOCK = f"""\
lock-version = "1.0"
environments = ["sys_platform == 'win32'", "sys_platform == 'linux'"]
requires-python = "==3.12.*"
extras = ["socks"]
dependency-groups = ["dev"]
default-groups = []
created-by = "mousebender"

[[packages]]
name = "attrs"
version = "25.1.0"
requires-python = ">=3.8"
index = "http://127.0.0.1:9/simple/"
wheels = [
  {{name = "attrs-25.1.0-py3-none-any.whl", upload-time = 2025-01-25T11:30:10.164985+00:00, url = "{FILES}/fc/30/attrs-25.1.0-py3-none-any.whl", size = 63152, hashes = {{sha256 = "{H1}"}}}},
]

[[packages]]
name = "numpy"
version = "2.2.3"
requires-python = ">=3.10"
marker = "sys_platform == 'win32' or sys_platform == 'linux'"
sdist = {{url = "{FILES}/fb/90/numpy-2.2.3.tar.gz", size = 20262700, hashes = {{sha256 = "{H2}"}}}}
wheels = [
  {{url = "{FILES}/43/ec/numpy-2.2.3-cp312-cp312-win_amd64.whl", size = 12626357, hashes = {{sha256 = "{H3}", blake2b = "00"}}}},
  {{url = "{FILES}/aa/fc/numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", size = 16116679, hashes = {{sha256 = "{H4}"}}}},
]

[[packages]]
name = "pytest"
version = "8.3.4"
marker = "'dev' in dependency_groups"
wheels = [
  {{url = "{FILES}/11/92/pytest-8.3.4-py3-none-any.whl", hashes = {{sha256 = "{H5}"}}}},
]

[[packages]]
name = "mypkg"
directory = {{path = ".", editable = true}}
"""


def errors(locked: LockedFiles) -> list[str]:
    return [str(e) for e in locked.errors]


def uv_package(body: str) -> str:
    return f'version = 1\n\n[[package]]\nname = "pkg"\nversion = "1.0"\n{body}\n'


def pylock_package(body: str, header: str = "") -> str:
    return f'lock-version = "1.0"\ncreated-by = "test"\n{header}\n[[packages]]\nname = "pkg"\n{body}\n'


REGISTRY = 'source = { registry = "http://127.0.0.1:9/simple" }'


class TestUvLock:
    def test_registry_packages_give_their_files(self) -> None:
        locked = read_uv_lock(UV_LOCK)
        anyio_sdist, anyio_wheel, colorama, torch_linux, torch_windows = locked.files
        assert anyio_sdist == LockedFile(
            canonical_name("anyio"),
            Version("4.6.2.post1"),
            "anyio-4.6.2.post1.tar.gz",
            H1,
            173422,
            "sdist",
            f"{FILES}/9f/09/anyio-4.6.2.post1.tar.gz",
            "http://127.0.0.1:9/simple",
        )
        assert (anyio_wheel.kind, anyio_wheel.filename, anyio_wheel.size) == (
            "wheel",
            "anyio-4.6.2.post1-py3-none-any.whl",
            90377,
        )
        assert colorama.sha256 == H3  # lower-cased
        assert torch_linux.filename == "torch-2.4.0+cpu-cp312-cp312-linux_x86_64.whl"  # percent-decoded
        assert torch_linux.version == Version("2.4.0+cpu")
        assert torch_linux.size is None
        assert torch_windows.index == "http://127.0.0.1:9/whl/cpu"
        assert torch_windows.marker is None and torch_windows.requires_python is None

    def test_the_project_itself_is_no_error(self) -> None:
        """Every uv project locks itself (editable, or virtual when it is not a package) and its workspace members:
        built from source, nothing to fetch, and no reason to fail."""
        assert errors(read_uv_lock(UV_LOCK)) == []
        for source in ('{ virtual = "." }', '{ editable = "packages/member" }'):
            locked = read_uv_lock(uv_package(f"source = {source}"))
            assert locked.files == () and locked.errors == ()

    @pytest.mark.parametrize(
        ("source", "described"),
        [
            ('{ git = "https://example.invalid/pkg.git?rev=v1#0123abcd" }', "a git checkout"),
            ('{ path = "wheels/pkg-1.0-py3-none-any.whl" }', "a local path"),
            ('{ directory = "../pkg" }', "a local directory"),
            ('{ url = "https://example.invalid/pkg-1.0.tar.gz" }', "a direct URL"),
            ('{ mystery = "x" }', "an unknown source"),
        ],
    )
    def test_sources_other_than_a_registry(self, source: str, described: str) -> None:
        locked = read_uv_lock(uv_package(f"source = {source}\nsdist = {{ url = '{FILES}/pkg-1.0.tar.gz' }}"))
        assert not locked.files
        (error,) = locked.errors
        assert (error.source, error.entry, error.project) == ("uv.lock", "package[0]", "pkg")
        assert described in error.message and "cannot be mirrored" in error.message

    def test_a_registry_that_is_a_directory(self) -> None:
        locked = read_uv_lock(uv_package('source = { registry = "../wheels" }\nwheels = [{ path = "x.whl" }]'))
        assert errors(locked) == [
            "uv.lock: package[0] (pkg): registry '../wheels' is a local directory, not an index"
        ]

    @pytest.mark.parametrize(
        ("wheel", "message"),
        [
            (f'{{ url = "{FILES}/pkg-1.0-py3-none-any.whl" }}', "pkg-1.0-py3-none-any.whl has no hash"),
            (
                f'{{ url = "{FILES}/pkg-1.0-py3-none-any.whl", hash = "md5:0123" }}',
                "has a md5 hash; the mirror needs sha256",
            ),
            (f'{{ url = "{FILES}/pkg-1.0-py3-none-any.whl", hash = "sha256:xyz" }}', "is not a sha256 hex digest"),
            (f'{{ path = "pkg-1.0-py3-none-any.whl", hash = "sha256:{H1}" }}', "has no url"),
            (f'{{ url = "{FILES}/other-1.0-py3-none-any.whl", hash = "sha256:{H1}" }}', "belongs to project 'other'"),
            (f'{{ url = "{FILES}/pkg-2.0-py3-none-any.whl", hash = "sha256:{H1}" }}', "is not version 1.0"),
            (f'{{ url = "{FILES}/pkg-1.0.tar.gz", hash = "sha256:{H1}" }}', "is not a wheel file name"),
            (f'{{ url = "{FILES}/evil%2F..%2Fpkg-1.0-py3-none-any.whl", hash = "sha256:{H1}" }}', "path separator"),
            (f'{{ url = "{FILES}/", hash = "sha256:{H1}" }}', "1 to 255 characters"),
            (f'{{ url = "{FILES}/pkg-1.0-py3-none-any.whl", hash = "sha256:{H1}", size = -1 }}', "invalid size -1"),
            (f'{{ url = "{FILES}/pkg-1.0-py3-none-any.whl", hash = "sha256:{H1}", size = "9" }}', "invalid size"),
            (f'{{ url = "{FILES}/pkg-1.0-py3-none-any.whl", hash = "sha256:{H1}", size = true }}', "invalid size"),
            ('"not a table"', "wheel entry is not a table"),
        ],
    )
    def test_a_broken_file_is_an_error_and_the_others_stay(self, wheel: str, message: str) -> None:
        good = f'{{ url = "{FILES}/pkg-1.0-cp312-cp312-win_amd64.whl", hash = "sha256:{H2}" }}'
        locked = read_uv_lock(uv_package(f"{REGISTRY}\nwheels = [{good}, {wheel}]"))
        assert [f.filename for f in locked.files] == ["pkg-1.0-cp312-cp312-win_amd64.whl"]
        (error,) = locked.errors
        assert (error.entry, error.project) == ("package[0].wheels[1]", "pkg")
        assert message in error.message

    def test_a_broken_sdist(self) -> None:
        locked = read_uv_lock(uv_package(f'{REGISTRY}\nsdist = {{ url = "{FILES}/pkg-1.0-py3-none-any.whl" }}'))
        assert errors(locked) == [
            "uv.lock: package[0].sdist (pkg): 'pkg-1.0-py3-none-any.whl' is not a sdist file name"
        ]

    @pytest.mark.parametrize(
        ("entry", "message"),
        [
            (f"version = 1\n[[package]]\nversion = '1.0'\n{REGISTRY}", "uv.lock: package[0]: has no name"),
            (f"version = 1\n[[package]]\nname = '-pkg'\nversion = '1.0'\n{REGISTRY}", "is not a valid project name"),
            (f"version = 1\n[[package]]\nname = 'pkg'\n{REGISTRY}", "uv.lock: package[0] (pkg): has no version"),
            (f"version = 1\n[[package]]\nname = 'pkg'\nversion = 'one'\n{REGISTRY}", "'one' is not a valid version"),
            ("version = 1\n[[package]]\nname = 'pkg'\nversion = '1.0'", "has no source table"),
            (f"version = 1\n[[package]]\nname = 'pkg'\nversion = '1.0'\n{REGISTRY}", "lists no sdist and no wheels"),
            (
                f"version = 1\n[[package]]\nname = 'pkg'\nversion = '1.0'\n{REGISTRY}\nwheels = 3",
                "wheels is not a list",
            ),
        ],
    )
    def test_broken_entries(self, entry: str, message: str) -> None:
        ok = f'[[package]]\nname = "six"\nversion = "1.16.0"\n{REGISTRY}\nwheels = [{{ url = "{FILES}/six-1.16.0-py2.py3-none-any.whl", hash = "sha256:{H1}" }}]\n'
        locked = read_uv_lock(f"{entry}\n{ok}")
        assert [f.project for f in locked.files] == ["six"]
        (error,) = locked.errors
        assert message in str(error)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("version = 2\n", "format version 2 is not supported"),
            ("[[package]]\nname = 'x'\n", "format version None is not supported"),
            ("version = 1\npackage = 'x'\n", "package must be an array of tables"),
            ("version = 1\npackage = [1, 2]\n", "package must be an array of tables"),
            ("version = = 1\n", "not valid TOML"),
        ],
    )
    def test_not_a_uv_lock(self, text: str, message: str) -> None:
        with pytest.raises(InvalidLockfile, match=message):
            read_uv_lock(text, "project/uv.lock")

    def test_an_empty_lock(self) -> None:
        assert read_uv_lock("version = 1\nrevision = 2\n") == LockedFiles((), ())


class TestPylock:
    def test_index_packages_give_their_files(self) -> None:
        locked = read_pylock(PYLOCK)
        assert [(f.project, f.filename, f.kind) for f in locked.files] == [
            ("attrs", "attrs-25.1.0-py3-none-any.whl", "wheel"),
            ("numpy", "numpy-2.2.3-cp312-cp312-win_amd64.whl", "wheel"),
            ("numpy", "numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", "wheel"),
            ("numpy", "numpy-2.2.3.tar.gz", "sdist"),
            ("pytest", "pytest-8.3.4-py3-none-any.whl", "wheel"),
        ]
        attrs, numpy_windows, *_ = locked.files
        assert (attrs.sha256, attrs.size, attrs.index) == (H1, 63152, "http://127.0.0.1:9/simple/")
        assert attrs.requires_python == SpecifierSet(">=3.8")
        assert attrs.url == f"{FILES}/fc/30/attrs-25.1.0-py3-none-any.whl"
        assert numpy_windows.marker == Marker("sys_platform == 'win32' or sys_platform == 'linux'")
        assert numpy_windows.sha256 == H3
        assert locked.extras == {"socks"} and locked.dependency_groups == {"dev"}

    def test_a_local_directory_package_is_an_entry_error(self) -> None:
        assert errors(read_pylock(PYLOCK, "pylock.toml")) == [
            "pylock.toml: packages[3] (mypkg): a local directory, not a file from an index: cannot be mirrored"
        ]

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                'vcs = {type = "git", url = "https://example.invalid/pkg.git", commit-id = "0123abcd"}',
                "a VCS checkout",
            ),
            (
                f'archive = {{url = "https://example.invalid/pkg-1.0.tar.gz", hashes = {{sha256 = "{H1}"}}}}',
                "a direct archive URL",
            ),
        ],
    )
    def test_direct_references_cannot_be_mirrored(self, body: str, message: str) -> None:
        (error,) = read_pylock(pylock_package(body)).errors
        assert (error.entry, error.project) == ("packages[0]", "pkg")
        assert error.message.startswith(message)

    @pytest.mark.parametrize(
        ("artifact", "message"),
        [
            (f'{{path = "dist/pkg-1.0-py3-none-any.whl", hashes = {{sha256 = "{H1}"}}}}', "is a local path"),
            (
                f'{{url = "{FILES}/pkg-1.0-py3-none-any.whl", hashes = {{sha512 = "00"}}}}',
                "has no sha256 hash (has: sha512)",
            ),
            (
                f'{{url = "{FILES}/pkg-1.0-py3-none-any.whl", hashes = {{sha256 = "beef"}}}}',
                "is not a sha256 hex digest",
            ),
        ],
    )
    def test_a_broken_wheel_is_an_error_and_the_others_stay(self, artifact: str, message: str) -> None:
        good = f'{{url = "{FILES}/pkg-1.0-cp312-cp312-win_amd64.whl", hashes = {{sha256 = "{H2}"}}}}'
        locked = read_pylock(pylock_package(f'version = "1.0"\nwheels = [{good}, {artifact}]'))
        assert [f.filename for f in locked.files] == ["pkg-1.0-cp312-cp312-win_amd64.whl"]
        (error,) = locked.errors
        assert (error.entry, error.project) == ("packages[0].wheels[1]", "pkg")
        assert message in error.message

    def test_a_broken_sdist(self) -> None:
        locked = read_pylock(
            pylock_package(f'version = "1.0"\nsdist = {{path = "pkg-1.0.tar.gz", hashes = {{sha256 = "{H1}"}}}}')
        )
        assert errors(locked) == [
            "pylock.toml: packages[0].sdist (pkg): pkg-1.0.tar.gz is a local path, not a file from an index"
        ]

    def test_the_version_may_come_from_the_file_name(self) -> None:
        wheel = f'{{url = "{FILES}/pkg-1.2-py3-none-any.whl", hashes = {{sha256 = "{H1}"}}}}'
        (file,) = read_pylock(pylock_package(f"wheels = [{wheel}]")).files
        assert file.version == Version("1.2")

    @pytest.mark.parametrize(
        ("entry", "message"),
        [
            ('name = "Not_Normal"\nversion = "1"', "Name 'Not_Normal' is not normalized in 'name'"),
            ('name = "pkg"\nversion = "1.0"', "Exactly one of vcs, directory, archive must be set"),
            (
                f'name = "pkg"\nwheels = [{{url = "{FILES}/other-1.0-py3-none-any.whl", hashes = {{sha256 = "{H1}"}}}}]',
                "is not consistent with package name 'pkg' in 'wheels[0]'",
            ),
            (
                f'name = "pkg"\nwheels = [{{url = "{FILES}/pkg-1.0-py3-none-any.whl", hashes = {{}}}}]',
                "At least one hash must be provided in 'wheels[0].hashes'",
            ),
            (
                f'name = "pkg"\nwheels = [{{url = "{FILES}/pkg-1.0-py3-none-any.whl", upload-time = "yesterday", hashes = {{sha256 = "{H1}"}}}}]',
                "expected datetime",
            ),
            ('version = "1.0"', "Missing required value in 'name'"),
        ],
    )
    def test_entries_packaging_refuses_do_not_hide_the_others(self, entry: str, message: str) -> None:
        ok = f'[[packages]]\nname = "six"\nversion = "1.16.0"\nwheels = [{{url = "{FILES}/six-1.16.0-py2.py3-none-any.whl", hashes = {{sha256 = "{H1}"}}}}]\n'
        locked = read_pylock(f'lock-version = "1.0"\ncreated-by = "test"\n[[packages]]\n{entry}\n{ok}')
        assert [f.project for f in locked.files] == ["six"]
        (error,) = locked.errors
        assert error.entry == "packages[0]"
        assert message in error.message
        assert "packages[0]" not in error.message

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ('lock-version = "2.0"\ncreated-by = "x"\npackages = []\n', "pylock version 2.0 is not supported"),
            ('lock-version = "1.0"\npackages = []\n', "Missing required value in 'created-by'"),
            ('lock-version = "1.0"\ncreated-by = "x"\n', "no packages array"),
            ('lock-version = "1.0"\ncreated-by = "x"\npackages = "none"\n', "packages must be an array of tables"),
            ('lock-version = "1.0"\ncreated-by = "x"\npackages = []\nrequires-python = "nope"\n', "requires-python"),
            ("lock-version = \n", "not valid TOML"),
        ],
    )
    def test_not_a_pylock(self, text: str, message: str) -> None:
        with pytest.raises(InvalidLockfile, match=message):
            read_pylock(text)


class TestSelectForTargets:
    def test_uv_wheels_for_the_targets_and_sdists(self) -> None:
        locked = read_uv_lock(UV_LOCK)
        chosen = select_for_targets(locked, [parse_target("3.12", "win_amd64")])
        assert [f.filename for f in chosen] == [
            "anyio-4.6.2.post1.tar.gz",
            "anyio-4.6.2.post1-py3-none-any.whl",
            "colorama-0.4.6-py2.py3-none-any.whl",
            "torch-2.4.0+cpu-cp312-cp312-win_amd64.whl",
        ]

    def test_sdists_can_be_left_out(self) -> None:
        chosen = select_for_targets(read_uv_lock(UV_LOCK), [parse_target("3.12", "linux_x86_64")], sdists=False)
        assert [f.filename for f in chosen] == [
            "anyio-4.6.2.post1-py3-none-any.whl",
            "colorama-0.4.6-py2.py3-none-any.whl",
            "torch-2.4.0+cpu-cp312-cp312-linux_x86_64.whl",
        ]

    def test_pylock_markers_and_requires_python_count(self) -> None:
        locked = read_pylock(PYLOCK)
        mac = select_for_targets(locked, [parse_target("3.12", "macosx_14_0_arm64")])
        assert [f.project for f in mac] == ["attrs", "pytest"]  # numpy's marker excludes macOS
        linux = select_for_targets(locked, make_targets(["3.12"], ["manylinux_2_28_x86_64"]), sdists=False)
        assert [f.filename for f in linux] == [
            "attrs-25.1.0-py3-none-any.whl",
            "numpy-2.2.3-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "pytest-8.3.4-py3-none-any.whl",
        ]
        old_python = select_for_targets(locked, [parse_target("3.9", "win_amd64")])
        assert [f.project for f in old_python] == ["attrs", "pytest"]  # numpy requires >=3.10

    def test_markers_on_the_os_release_keep_the_package(self) -> None:
        wheel = f'{{url = "{FILES}/pkg-1.0-py3-none-any.whl", hashes = {{sha256 = "{H1}"}}}}'
        released = read_pylock(
            pylock_package(f'version = "1.0"\nmarker = "platform_release >= \'6\'"\nwheels = [{wheel}]')
        )
        windows_only = read_pylock(
            pylock_package(f'version = "1.0"\nmarker = "os_name == \'nt\'"\nwheels = [{wheel}]')
        )
        linux = [parse_target("3.12", "manylinux_2_17_x86_64")]
        assert len(select_for_targets(released, linux)) == 1
        assert select_for_targets(windows_only, linux) == []

    def test_group_markers_count_every_group_of_the_lock(self) -> None:
        locked = read_pylock(PYLOCK)
        without_groups = LockedFiles(locked.files, locked.errors, locked.extras, frozenset())
        target = [parse_target("3.12", "win_amd64")]
        assert "pytest" in {f.project for f in select_for_targets(locked, target)}
        assert "pytest" not in {f.project for f in select_for_targets(without_groups, target)}


def test_entry_error_text() -> None:
    assert str(EntryError("uv.lock", "package[2]", None, "has no name")) == "uv.lock: package[2]: has no name"
    assert str(EntryError("a.toml", "packages[0].sdist", "x", "m")) == "a.toml: packages[0].sdist (x): m"
