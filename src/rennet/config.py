"""Settings: embedded defaults, then a TOML file, then RENNET_* environment variables, then command-line flags.

Each server setting is declared once, as a field of `Settings` made with `setting(...)`: its TOML key is the
field's name, its environment variable RENNET_<NAME>, its command-line flag (if any) and help text come from
the declaration, and so does the conversion that checks its value. Index settings are declared the same way on
the index classes of rennet.domain.indexes. `rennet serve` turns its flags into RENNET_* variables, so every
worker process loads the same settings.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rennet.domain.hosts import EVERY_HOST, check_host_entry
from rennet.domain.indexes import (
    GroupIndex,
    HostedIndex,
    IndexConfig,
    InvalidConfig,
    ProxyIndex,
    check_indexes,
    index_options,
)
from rennet.domain.names import InvalidName, check_project_name
from rennet.domain.policy import Denial, Exemption, parse_denial, parse_exemption

__all__ = [
    "DEFAULT_UPSTREAM_VARIABLE",
    "InvalidConfig",
    "Option",
    "Settings",
    "default_upstream",
    "holds_rennet_data",
    "load_settings",
    "needs_default_upstream",
    "parse_duration",
    "parse_size",
    "remember_served",
    "served_settings",
    "server_options",
    "with_default_upstreams",
]

DEFAULT_PORT = 4040
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")
ENV_PREFIX = "RENNET_"
CONFIG_VARIABLE = "RENNET_CONFIG"
UPSTREAM_VARIABLE = "RENNET_UPSTREAM"  # the upstream of the built-in `pypi` proxy, a shorthand for [index.pypi]


@dataclass(frozen=True, slots=True)
class Option:
    """How a server setting is given: its name (the TOML key), how a value is read, and its flag."""

    name: str
    convert: Callable[[str, Any], Any]
    help: str
    flag: str | None = None  # "--port"; a boolean's flag sets it true, or false when it starts with "--no-"
    everywhere: bool = False  # a flag of every command, not only of `rennet serve`

    @property
    def variable(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def boolean(self) -> bool:
        return self.convert is _boolean

    @property
    def path(self) -> bool:
        return self.convert is _path


def setting(default: Any, convert: Callable[[str, Any], Any], help: str, **flag: Any) -> Any:
    """A field of Settings, declared with everything that reads it."""
    return field(default=default, metadata={"option": (convert, help, flag)})


# -- conversions: (where, value) -> value, raising InvalidConfig with a sentence -------------------------------


def parse_duration(value: Any, where: str = "duration") -> float:
    """Seconds from 30, "30s", "10m", "1.5h", "2d" or "250ms"."""
    seconds = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):
            seconds = float(value)
    elif match := _DURATION.match(str(value)):
        seconds = float(match[1]) * _DURATION_UNITS[match[2]]
    # TOML has nan and inf, and a negative timeout or TTL means nothing.
    if not (math.isfinite(seconds) and seconds >= 0):
        raise InvalidConfig(f"{where}: {value!r} is not a duration (examples: 30s, 10m, 1h, 2d)")
    return seconds


def parse_size(value: Any, where: str = "size") -> int:
    """Bytes from 1024, "500M", "10GB" or "1GiB" (binary units)."""
    size = -1
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif match := _SIZE.match(str(value)):
        unit = (match[2] or "").lower()[:1]
        with contextlib.suppress(OverflowError):  # float("9" * 400) is inf
            size = int(float(match[1]) * _SIZE_UNITS[unit])
    if size < 0:
        raise InvalidConfig(f"{where}: {value!r} is not a size (examples: 500M, 10G)")
    return size


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _duration(where: str, value: Any) -> float:
    return parse_duration(value, where)


def _size(where: str, value: Any) -> int:
    return parse_size(value, where)


def _whole(where: str, value: Any) -> int:
    # int() would take true as 1 and truncate 80.5 to 80.
    if not isinstance(value, bool | float):
        with contextlib.suppress(TypeError, ValueError):
            return int(value)
    raise InvalidConfig(f"{where} must be a whole number, not {value!r}")


def _at_least(minimum: int) -> Callable[[str, Any], int]:
    def convert(where: str, value: Any) -> int:
        number = _whole(where, value)
        if number < minimum:
            raise InvalidConfig(f"{where} must be at least {minimum}, not {number}")
        return number

    return convert


def _port(where: str, value: Any) -> int:
    number = _whole(where, value)
    if not 0 < number < 65536:
        raise InvalidConfig(f"{where} must be between 1 and 65535, not {number}")
    return number


def _boolean(where: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise InvalidConfig(f"{where} must be true or false, not {value!r}")


def _text(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidConfig(f"{where} must be a string")
    return value


def _optional_text(where: str, value: Any) -> str | None:
    return _text(where, value) or None


def _blob_store(where: str, value: Any) -> str | None:
    from rennet.storage.objectstore import check_store_url

    url = _optional_text(where, value)
    if url is not None:
        try:
            check_store_url(url)
        except ValueError as error:
            raise InvalidConfig(f"{where}: {error}") from None
    return url


# S3 refuses to sign a URL for longer than a week.
MAX_STORE_REDIRECT = 7 * 86400.0


def _store_redirects(where: str, value: Any) -> float | None:
    if value in (None, "", "off", False):
        return None
    seconds = parse_duration(value, where)
    if not 1 <= seconds <= MAX_STORE_REDIRECT:
        raise InvalidConfig(f"{where}: a signed URL lives between 1 second and 7 days, not {value!r}")
    return seconds


def _accel_prefix(where: str, value: Any) -> str | None:
    prefix = _optional_text(where, value)
    if prefix is None:
        return None
    if len(prefix) < 3 or prefix[0] != "/" or prefix[-1] != "/" or any(c.isspace() or c in "?#%\\" for c in prefix):
        raise InvalidConfig(f"{where}: {prefix!r} is not a path like /_rennet_blobs/ (a slash at each end)")
    return prefix


def _path(where: str, value: Any) -> Path:
    return Path(_text(where, value)).expanduser().absolute()


def _log_level(where: str, value: Any) -> str:
    level = str(value).strip().lower()
    if level not in LOG_LEVELS:
        raise InvalidConfig(f"{where} must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return level


def _log_format(where: str, value: Any) -> str:
    chosen = str(value).strip().lower()
    if chosen not in LOG_FORMATS:
        raise InvalidConfig(f"{where} must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return chosen


def _list(where: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidConfig(f"{where} must be a list")
    return value


def _names(where: str, value: Any) -> frozenset[str]:
    return frozenset(str(item) for item in _list(where, value))


def _patterns(where: str, value: Any) -> tuple[str, ...]:
    from rennet.domain.mirror.scope import InvalidPattern, check_pattern

    try:
        return tuple(check_pattern(str(item)) for item in _list(where, value))
    except InvalidPattern as error:
        raise InvalidConfig(f"{where}: {error}") from None


def _pythons(where: str, value: Any) -> tuple[str, ...]:
    from rennet.domain.mirror.targets import InvalidTarget, check_python

    try:
        return tuple(check_python(str(item)) for item in _list(where, value))
    except InvalidTarget as error:
        raise InvalidConfig(f"{where}: {error}") from None


def _platforms(where: str, value: Any) -> tuple[str, ...]:
    from rennet.domain.mirror.targets import InvalidTarget, check_platform

    try:
        return tuple(check_platform(str(item)) for item in _list(where, value))
    except InvalidTarget as error:
        raise InvalidConfig(f"{where}: {error}") from None


def _members(where: str, value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in _list(where, value))


def _project_names(where: str, value: Any) -> frozenset[str]:
    try:
        return frozenset(check_project_name(str(name)) for name in _list(where, value))
    except InvalidName as error:
        raise InvalidConfig(f"{where}: {error}") from None


def _exemptions(where: str, value: Any) -> frozenset[Exemption]:
    try:
        return frozenset(parse_exemption(str(entry)) for entry in _list(where, value))
    except ValueError as error:
        raise InvalidConfig(f"{where}: {error}") from None


def _denials(where: str, value: Any) -> tuple[Denial, ...]:
    try:
        return tuple(parse_denial(str(entry)) for entry in _list(where, value))
    except ValueError as error:
        raise InvalidConfig(f"{where}: {error}") from None


def _hosts(where: str, value: Any) -> frozenset[str]:
    try:
        return frozenset(check_host_entry(str(entry)) for entry in _list(where, value))
    except ValueError as error:
        raise InvalidConfig(f"{where}: {error}") from None


def _proxies(where: str, value: Any) -> frozenset[str]:
    """A list, or a comma-separated string (a variable or a flag): "*" or addresses and networks."""
    entries = value.split(",") if isinstance(value, str) else _list(where, value)
    found = frozenset(str(entry).strip() for entry in entries if str(entry).strip())
    for entry in found - {"*"}:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise InvalidConfig(
                f"{where}: {entry!r} is neither an address, a network like 10.0.0.0/8, nor *"
            ) from None
    return found


def _upstream_url(where: str, value: Any) -> str:
    # The URL is left out of the message: it may carry a password.
    url = _text(where, value)
    try:
        parts = urlsplit(url)
        valid = parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise InvalidConfig(f"{where}: the upstream must be an http:// or https:// URL with a host")
    return url


# What the index classes declare (rennet.domain.indexes stays free of parsing): kind name -> conversion.
INDEX_KINDS: dict[str, Callable[[str, Any], Any]] = {
    "duration": _duration,
    "size": _size,
    "bool": _boolean,
    "text": _text,
    "url": _upstream_url,
    "names": _names,
    "members": _members,
    "patterns": _patterns,
    "pythons": _pythons,
    "platforms": _platforms,
    "count": _at_least(1),
    "projects": _project_names,
    "hosts": _hosts,
    "exemptions": _exemptions,
    "denials": _denials,
}


# -- the settings -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = setting(
        Path("rennet-data"),
        _path,
        "where rennet keeps its database and files",
        flag="--data-dir",
        everywhere=True,
    )
    host: str = setting("127.0.0.1", _text, "address to listen on", flag="--host")
    port: int = setting(DEFAULT_PORT, _port, "port to listen on", flag="--port")
    workers: int = setting(1, _at_least(1), "worker processes", flag="--workers")
    database_url: str | None = setting(
        None, _optional_text, "SQLAlchemy URL of the catalog (default: SQLite in the data directory)"
    )
    blob_store: str | None = setting(
        None,
        _blob_store,
        "s3://BUCKET/PREFIX: keep every file in this bucket, shared by servers on several hosts (endpoint and "
        "credentials from the AWS_* variables; default: only the data directory)",
    )
    blob_copies_bytes: int = setting(
        10 << 30,
        _size,
        "with blob_store: the most this host keeps of copies of the bucket's files (least recently used go first)",
    )
    store_redirects: float | None = setting(
        None,
        _store_redirects,
        "with blob_store: send clients to a URL of the bucket signed for this long (like 10m) instead of sending "
        "them the file; files of private indexes only when it is 5 minutes or less (default: off)",
    )
    offline: bool = setting(False, _boolean, "serve only what is cached; never contact upstreams", flag="--offline")
    log_level: str = setting("info", _log_level, "debug, info, warning or error", flag="--log-level")
    access_log: bool = setting(True, _boolean, "do not log a line per request", flag="--no-access-log")
    log_format: str = setting("text", _log_format, "text, or json: one JSON object per line", flag="--log-format")
    metrics: bool = setting(
        True, _boolean, "do not serve /metrics (Prometheus) nor count for it", flag="--no-metrics"
    )
    default_index: str = setting("default", _text, "the index served at /simple/")
    max_page_bytes: int = setting(64 << 20, _size, "the largest upstream project page read")
    max_listing_bytes: int = setting(1 << 30, _size, "the largest upstream project list read")
    page_memory_bytes: int = setting(256 << 20, _size, "rendered pages kept in each worker's memory")
    shutdown_timeout: float = setting(10.0, _duration, "how long open requests get on SIGTERM")
    forwarded_allow_ips: frozenset[str] = setting(
        frozenset(),
        _proxies,
        "reverse proxies whose X-Forwarded-For/-Proto/-Host are believed: addresses, networks or *",
        flag="--forwarded-allow-ips",
    )
    accel_redirect: str | None = setting(
        None,
        _accel_prefix,
        "/PREFIX/: the web server in front (nginx) sends held files: they are answered with X-Accel-Redirect: "
        "/PREFIX/<the file's path under blobs/> (see the README)",
        flag="--accel-redirect",
    )
    # argon2 for new passwords (a stored hash is checked with its own cost); tests make it cheap.
    argon2_time_cost: int = setting(3, _at_least(1), "argon2 iterations for new password hashes")
    argon2_memory_cost: int = setting(64 << 20, _size, "argon2 memory for new password hashes")
    indexes: Mapping[str, IndexConfig] = field(default_factory=dict)

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'rennet.sqlite3'}"

    @property
    def password_cost(self) -> tuple[int, int]:
        """argon2's iterations and memory in bytes, for new password hashes."""
        return self.argon2_time_cost, self.argon2_memory_cost


def server_options() -> Iterator[Option]:
    """Every server setting, as declared on Settings."""
    for declared in fields(Settings):
        if "option" in declared.metadata:
            yield _option(declared)


def _option(declared: Field[Any]) -> Option:
    convert, help, flag = declared.metadata["option"]
    return Option(declared.name, convert, help, **flag)


# `rennet serve` reads PyPI's address once and hands it to its workers in this variable: a worker then need not
# import pypi_simple (and requests with it: 12 MiB of every worker) for one constant.
DEFAULT_UPSTREAM_VARIABLE = "_RENNET_DEFAULT_UPSTREAM"


def default_upstream() -> str:
    """PyPI's simple index. Imported here, when needed: pypi_simple brings requests with it (a sixth of a
    second at every command's start)."""
    if handed_down := os.environ.get(DEFAULT_UPSTREAM_VARIABLE):
        return handed_down
    from pypi_simple import PYPI_SIMPLE_ENDPOINT

    endpoint: str = PYPI_SIMPLE_ENDPOINT
    return endpoint


def needs_default_upstream(settings: Settings) -> bool:
    """Whether a proxy of these settings keeps the default upstream."""
    return any(isinstance(i, ProxyIndex) and not i.upstream for i in settings.indexes.values())


def default_indexes() -> dict[str, IndexConfig]:
    """The built-in indexes. The `pypi` proxy's upstream is PyPI's ("" until with_default_upstreams, so that
    commands that never fetch anything need not import pypi_simple), and PyPI's pages send files to PyPI's own
    file host, whatever its addresses look like from here (behind a company's DNS they can be private): every
    host is trusted while the upstream is the default (see load_settings for an upstream given)."""
    return {
        "pypi": ProxyIndex(name="pypi", upstream="", file_hosts=frozenset({EVERY_HOST})),
        "local": HostedIndex(name="local"),
        "default": GroupIndex(name="default", members=("local", "pypi")),
    }


# Where `rennet serve` leaves the settings it was started with, for the commands run on its data directory later.
SERVED_FILE = Path("run") / "served.json"
# What only the running server needs: every other RENNET_* setting is remembered.
_NOT_REMEMBERED = frozenset(
    ENV_PREFIX + name.upper()
    for name in (
        "data_dir",
        "host",
        "port",
        "workers",
        "log_level",
        "log_format",
        "access_log",
        "metrics",
        "shutdown_timeout",
        "prepared",
    )
)


def remember_served(data_dir: Path, env: Mapping[str, str]) -> None:
    """Record the RENNET_* variables (flags included) a server starts with: the configuration file, the upstream,
    the database, and so on. Readable by the owner only, as the rest of the data directory: it may name a
    password (of the database, or of an upstream)."""
    remembered = {
        key: value for key, value in env.items() if key.startswith(ENV_PREFIX) and key not in _NOT_REMEMBERED
    }
    if CONFIG_VARIABLE in remembered:
        remembered[CONFIG_VARIABLE] = str(Path(remembered[CONFIG_VARIABLE]).absolute())
    path = data_dir / SERVED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(remembered, out, indent=2, sort_keys=True)
    partial.replace(path)


def served_settings(settings: Settings, env: Mapping[str, str]) -> Settings:
    """The settings of a command run on a data directory a server has used: what the server was started with,
    below what the command is given now (its flags and environment win, an explicit configuration file too).
    Without that record, the settings as they are."""
    try:
        remembered = json.loads((settings.data_dir / SERVED_FILE).read_text())
    except FileNotFoundError:
        return settings
    except (OSError, ValueError) as error:
        raise InvalidConfig(f"{settings.data_dir / SERVED_FILE} cannot be read: {error}") from None
    if not isinstance(remembered, dict):
        raise InvalidConfig(f"{settings.data_dir / SERVED_FILE} is not what rennet serve writes")
    given = {key: value for key, value in env.items() if key.startswith(ENV_PREFIX) and value}
    if CONFIG_VARIABLE in given:
        remembered.pop(CONFIG_VARIABLE, None)
    data_dir = {ENV_PREFIX + "DATA_DIR": str(settings.data_dir)}
    return load_settings({**{str(k): str(v) for k, v in remembered.items()}, **given, **data_dir})


def holds_rennet_data(data_dir: Path) -> bool:
    """Whether a server has used this directory (a mistyped --data-dir must not quietly become a new one)."""
    return any((data_dir / part).exists() for part in ("rennet.sqlite3", "run", "blobs"))


def with_default_upstreams(settings: Settings) -> Settings:
    """The settings with PyPI's address where a proxy keeps the default upstream: for what talks to upstreams."""
    if not needs_default_upstream(settings):
        return settings
    endpoint = default_upstream()
    indexes = {
        name: replace(index, upstream=endpoint) if isinstance(index, ProxyIndex) and not index.upstream else index
        for name, index in settings.indexes.items()
    }
    return replace(settings, indexes=indexes)


def load_settings(env: Mapping[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Build settings from the config file (RENNET_CONFIG or config_file) and the environment."""
    env = os.environ if env is None else env
    path = config_file or (Path(env[CONFIG_VARIABLE]) if env.get(CONFIG_VARIABLE) else None)
    raw = _read_file(path) if path is not None else {}
    index_tables = raw.pop("index", {})
    options = {option.name: option for option in server_options()}
    unknown = sorted(set(raw) - set(options))
    if unknown:
        raise InvalidConfig(f"unknown setting(s): {', '.join(unknown)}")
    values = {name: options[name].convert(name, value) for name, value in raw.items()}
    for option in options.values():
        if env.get(option.variable):
            values[option.name] = option.convert(option.name, env[option.variable])
    settings = Settings(**values)
    if settings.store_redirects is not None and settings.blob_store is None:
        raise InvalidConfig("store_redirects sends clients to the bucket: it needs blob_store")
    if not isinstance(index_tables, dict):
        raise InvalidConfig("[index] must be a table of index tables, like [index.pypi]")
    upstream = env.get(UPSTREAM_VARIABLE) or None
    if upstream is not None:
        _upstream_url(UPSTREAM_VARIABLE, upstream)
    indexes = default_indexes()
    for name, table in index_tables.items():
        indexes[name] = _index_from_table(name, table, indexes.get(name))
    pypi = indexes.get("pypi")
    if isinstance(pypi, ProxyIndex) and upstream is not None:
        indexes["pypi"] = pypi = replace(pypi, upstream=upstream)
    if isinstance(pypi, ProxyIndex) and pypi.upstream and "file_hosts" not in index_tables.get("pypi", {}):
        # An upstream given (even PyPI's address spelled out: telling it apart would import pypi_simple in every
        # command) is trusted with its own host and the file_hosts it names only.
        indexes["pypi"] = replace(pypi, file_hosts=frozenset())
    check_indexes(indexes, settings.default_index)
    return replace(settings, data_dir=settings.data_dir.absolute(), indexes=indexes)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidConfig(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidConfig(f"config file {path} is not valid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidConfig(f"config file {path} cannot be read: {error}") from None


_INDEX_CLASSES: dict[str, type[ProxyIndex] | type[HostedIndex] | type[GroupIndex]] = {
    "proxy": ProxyIndex,
    "hosted": HostedIndex,
    "group": GroupIndex,
}


def _index_from_table(name: str, table: Any, current: IndexConfig | None) -> IndexConfig:
    if not isinstance(table, dict):
        raise InvalidConfig(f"[index.{name}] must be a table")
    kind = table.get("type", current.kind.value if current else None)
    cls = _INDEX_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidConfig(f'[index.{name}] needs type = "proxy", "hosted" or "group"')
    declared = {option.key: option for option in index_options(cls)}
    options = {key: value for key, value in table.items() if key != "type"}
    unknown = sorted(set(options) - set(declared))
    if unknown:
        raise InvalidConfig(f"[index.{name}] has unknown setting(s): {', '.join(unknown)}")
    values = {
        declared[key].attribute: INDEX_KINDS[declared[key].kind](f"index.{name}.{key}", value)
        for key, value in options.items()
    }
    if current is not None and current.kind.value == kind:
        return replace(current, **values)
    for option in declared.values():
        if option.needs and option.attribute not in values:
            raise InvalidConfig(f"[index.{name}] is a {kind} and needs {option.needs}")
    result: IndexConfig = cls(name=name, **values)
    return result
