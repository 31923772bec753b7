"""Target environments for an offline mirror: which wheels install there and how its markers evaluate.

A target is one Python version on one platform, the way `pip download --python-version 3.12 --platform
manylinux_2_17_x86_64` describes a machine that is not the one running the command. Nothing here looks at the
running interpreter: every tag and marker value is derived from the target alone (packaging's defaults would
silently use the host's ABI and platform, which is wrong for a mirror built on another machine).

Platform families are expanded the way pip does for `--platform`, and further for manylinux and musllinux (pip
only expands the legacy manylinux2010/2014 names): `manylinux_2_28_x86_64` also accepts every older glibc down to
manylinux1, `musllinux_1_2_aarch64` also accepts musllinux_1_1 and 1_0, `macosx_14_0_arm64` accepts older macOS
releases and universal2 wheels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, generic_tags, mac_platforms
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

__all__ = [
    "InvalidTarget",
    "Target",
    "check_platform",
    "check_python",
    "make_targets",
    "marker_environments",
    "parse_target",
    "requires_python_ok",
    "wheel_matches",
    "wheel_tags",
]

_PYTHON = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?(?P<threaded>t?)$")
_GLIBC_LEGACY = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_GLIBC_OF_LEGACY = {name: version for version, name in _GLIBC_LEGACY.items()}
# packaging's own guess for the last minor of an older glibc major: only matters if glibc 3 ever ships.
_LAST_GLIBC_MINOR = 50
_IMPLEMENTATIONS = {"cpython": ("cp", "CPython"), "pypy": ("pp", "PyPy")}
_IMPLEMENTATION_ALIASES = {"cp": "cpython", "pp": "pypy"}
_MAC_FAT_MACHINES = {"universal2": ("arm64", "x86_64"), "intel": ("x86_64", "i386")}
_WINDOWS_MACHINES = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}
_SUPPORTED = (
    "manylinux_X_Y_ARCH (or manylinux1/2010/2014_ARCH), musllinux_X_Y_ARCH, macosx_X_Y_ARCH, "
    "win_amd64, win32, win_arm64 or linux_ARCH"
)


class InvalidTarget(ValueError):
    """A Python version, platform or implementation that does not describe an installable environment."""


@dataclass(frozen=True, slots=True)
class Target:
    """One environment the mirror must serve: a Python version on a platform.

    `patch` only feeds `python_full_version` in markers and Requires-Python checks; with "3.11" it is 0, which is
    what pip assumes for `--python-version 3.11`.
    """

    python: tuple[int, int]
    platform: str
    implementation: str = "cpython"
    patch: int = 0
    free_threaded: bool = False

    def __str__(self) -> str:
        prefix = _IMPLEMENTATIONS[self.implementation][0]
        return f"{prefix}{self.python[0]}{self.python[1]}{'t' if self.free_threaded else ''}-{self.platform}"

    @property
    def full_version(self) -> Version:
        return Version(f"{self.python[0]}.{self.python[1]}.{self.patch}")

    def tags(self) -> tuple[Tag, ...]:
        """Compatible wheel tags, most preferred first."""
        return tuple(_ranks(self))

    def rank(self, tags: Iterable[Tag]) -> int | None:
        """Preference of a wheel carrying `tags` here (lower is better), or None when it does not install."""
        ranks = _ranks(self)
        found = [ranks[tag] for tag in tags if tag in ranks]
        return min(found) if found else None


def parse_target(python: str, platform: str, implementation: str = "cpython") -> Target:
    """One target from user input such as ("3.12", "manylinux_2_17_x86_64"); raises InvalidTarget."""
    match = _PYTHON.match(python.strip())
    if not match:
        raise InvalidTarget(f"{python!r} is not a Python version: use MAJOR.MINOR, e.g. 3.12 (or 3.13t)")
    impl = _IMPLEMENTATION_ALIASES.get(implementation.lower(), implementation.lower())
    if impl not in _IMPLEMENTATIONS:
        raise InvalidTarget(f"unsupported implementation {implementation!r}: use cpython or pypy")
    threaded = bool(match["threaded"])
    version = (int(match["major"]), int(match["minor"]))
    if threaded and (impl != "cpython" or version < (3, 13)):
        raise InvalidTarget(f"{python!r}: free-threaded builds exist for CPython 3.13 and later only")
    platform = platform.strip().replace("-", "_").replace(".", "_").lower()
    target = Target(version, platform, impl, int(match["patch"] or 0), threaded)
    _expand_platform(platform)  # validates the platform
    return target


def check_python(python: str) -> str:
    """A Python version as a target takes it (3.12, 3.13t); raises InvalidTarget."""
    parse_target(python, "win_amd64")
    return python.strip()


def check_platform(platform: str) -> str:
    """A platform tag, normalized as a target takes it; raises InvalidTarget."""
    return parse_target("3.12", platform).platform


def make_targets(
    python_versions: Iterable[str], platforms: Iterable[str], implementation: str = "cpython"
) -> tuple[Target, ...]:
    """Every combination of the Python versions and platforms, in the order given, without duplicates."""
    pythons, plats = list(python_versions), list(platforms)
    if not pythons or not plats:
        raise InvalidTarget("name at least one Python version and one platform")
    targets = (parse_target(p, plat, implementation) for p, plat in product(pythons, plats))
    return tuple(dict.fromkeys(targets))


def wheel_matches(filename: str, targets: Iterable[Target]) -> bool:
    """Whether the wheel installs on at least one target; False for anything that is not a valid wheel name."""
    tags = wheel_tags(filename)
    return bool(tags) and any(target.rank(tags) is not None for target in targets)


def requires_python_ok(spec: str | SpecifierSet | None, targets: Iterable[Target]) -> bool:
    """Whether at least one target's Python satisfies a Requires-Python value.

    A missing or unparsable value allows everything: pip ignores an invalid Requires-Python too.
    """
    if spec is None:
        return True
    if isinstance(spec, str):
        try:
            spec = SpecifierSet(spec)
        except InvalidSpecifier:
            return True
    return any(spec.contains(t.full_version, prereleases=True) for t in targets)


def marker_environments(targets: Iterable[Target]) -> tuple[dict[str, str], ...]:
    """Marker environments (PEP 508) of the targets, without duplicates.

    Every key is set, so that packaging never fills one in from the running interpreter. A target whose platform
    covers several machines (macosx universal2) yields one environment per machine. The OS release and version
    are unknown and empty.
    """
    seen: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
    for target in targets:
        for environment in _environments(target):
            seen.setdefault(tuple(sorted(environment.items())), environment)
    return tuple(seen.values())


def _environments(target: Target) -> Iterator[dict[str, str]]:
    system, sys_platform, os_name, machines = _platform_facts(target.platform)
    full = str(target.full_version)
    _, pretty = _IMPLEMENTATIONS[target.implementation]
    for machine in machines:
        yield {
            "implementation_name": target.implementation,
            # PyPy reports its own version here, which a target does not know: the Python version stands in.
            "implementation_version": full,
            "os_name": os_name,
            "platform_machine": machine,
            "platform_release": "",
            "platform_system": system,
            "platform_version": "",
            "platform_python_implementation": pretty,
            "python_full_version": full,
            "python_version": f"{target.python[0]}.{target.python[1]}",
            "sys_platform": sys_platform,
        }


def _platform_facts(platform: str) -> tuple[str, str, str, tuple[str, ...]]:
    """(platform_system, sys_platform, os_name, machines) of a validated platform tag."""
    if platform in _WINDOWS_MACHINES:
        return "Windows", "win32", "nt", (_WINDOWS_MACHINES[platform],)
    arch = _arch(platform)
    if platform.startswith("macosx_"):
        return "Darwin", "darwin", "posix", _MAC_FAT_MACHINES.get(arch, (arch,))
    return "Linux", "linux", "posix", (arch,)


def _arch(platform: str) -> str:
    """The machine part of a linux or macOS platform tag."""
    if platform.startswith(("manylinux_", "musllinux_", "macosx_")):
        return platform.split("_", 3)[3]
    return platform.split("_", 1)[1]


@lru_cache(maxsize=256)
def _ranks(target: Target) -> Mapping[Tag, int]:
    """Tags in pip's order of preference for `--python-version`, `--platform` and `--implementation`."""
    platforms = _expand_platform(target.platform)
    nodot = f"{target.python[0]}{target.python[1]}"
    prefix = _IMPLEMENTATIONS[target.implementation][0]
    interpreter = f"{prefix}{nodot}"
    if target.implementation == "cpython":
        # Explicit ABIs: packaging's default reads the running interpreter's build flags.
        abi = f"cp{nodot}{'t' if target.free_threaded else ''}"
        ordered = list(cpython_tags(target.python, [abi], platforms))
    else:
        # Every PyPy 3 release since 7.3 uses the pp73 ABI.
        ordered = list(generic_tags(interpreter, [f"pypy{nodot}_pp73"], platforms))
    ordered += compatible_tags(target.python, interpreter, platforms)
    ranks: dict[Tag, int] = {}
    for tag in ordered:
        ranks.setdefault(tag, len(ranks))
    return ranks


def _expand_platform(platform: str) -> list[str]:
    """Every platform tag a machine described by `platform` accepts, best first; raises InvalidTarget."""
    family, _, rest = platform.partition("_")
    if family in _GLIBC_OF_LEGACY and rest:
        major, minor = _GLIBC_OF_LEGACY[family]
        return _manylinux(major, minor, _checked_arch(rest, platform))
    if family in {"manylinux", "musllinux", "macosx"}:
        match = re.match(r"^(\d+)_(\d+)_(\w+)$", rest)
        if not match:
            raise InvalidTarget(f"{platform!r} is not a platform tag: expected {family}_X_Y_ARCH")
        major, minor, arch = int(match[1]), int(match[2]), _checked_arch(match[3], platform)
        if family == "manylinux":
            return _manylinux(major, minor, arch, platform)
        if family == "musllinux":
            return [f"musllinux_{major}_{m}_{arch}" for m in range(minor, -1, -1)]
        found = list(mac_platforms((major, minor), arch))
        if not found or (arch == "arm64" and major < 11):  # Apple silicon starts with macOS 11
            raise InvalidTarget(f"{platform!r}: no macOS {major}.{minor} for {arch}")
        return found
    if platform in _WINDOWS_MACHINES:
        return [platform]
    if family == "linux" and rest:
        # Plain linux wheels are built for one distribution; they match only when asked for by name.
        return [f"linux_{_checked_arch(rest, platform)}"]
    raise InvalidTarget(f"unsupported platform {platform!r}: use {_SUPPORTED}")


def _checked_arch(arch: str, platform: str) -> str:
    if not re.match(r"^[a-z0-9_]+$", arch):
        raise InvalidTarget(f"{platform!r}: {arch!r} is not a machine architecture")
    return arch


def _manylinux(major: int, minor: int, arch: str, platform: str | None = None) -> list[str]:
    """manylinux tags from glibc major.minor down to the oldest one defined for arch (PEP 600), with the legacy
    manylinux1/2010/2014 aliases right after the glibc version each stands for."""
    floor = (2, 5) if arch in {"x86_64", "i686"} else (2, 17)
    if (major, minor) < floor:
        raise InvalidTarget(f"{platform or arch!r}: manylinux for {arch} starts at glibc {floor[0]}.{floor[1]}")
    found: list[str] = []
    for glibc_major in range(major, floor[0] - 1, -1):
        top = minor if glibc_major == major else _LAST_GLIBC_MINOR
        bottom = floor[1] if glibc_major == floor[0] else 0
        for glibc_minor in range(top, bottom - 1, -1):
            found.append(f"manylinux_{glibc_major}_{glibc_minor}_{arch}")
            if legacy := _GLIBC_LEGACY.get((glibc_major, glibc_minor)):
                found.append(f"{legacy}_{arch}")
    return found


def wheel_tags(filename: str) -> frozenset[Tag]:
    """The tags a wheel's name carries; none for anything that is not a valid wheel name."""
    try:
        return parse_wheel_filename(filename)[3]
    except (InvalidWheelFilename, InvalidVersion):
        return frozenset()
