"""Settings: embedded defaults, then a TOML file, then RENNET_* environment variables, then command-line flags.

`rennet serve` turns its flags into RENNET_* variables, so every worker process loads the same settings.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pypi_simple import PYPI_SIMPLE_ENDPOINT

from rennet.domain.indexes import GroupIndex, HostedIndex, IndexConfig, InvalidConfig, ProxyIndex, check_indexes
from rennet.domain.names import InvalidName, check_project_name

__all__ = ["InvalidConfig", "Settings", "load_settings", "parse_duration", "parse_size"]

DEFAULT_PORT = 4040
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("rennet-data")
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    database_url: str | None = None
    offline: bool = False
    log_level: str = "info"
    access_log: bool = True
    default_index: str = "default"
    max_page_bytes: int = 64 << 20
    max_listing_bytes: int = 1 << 30
    page_memory_bytes: int = 256 << 20
    shutdown_timeout: float = 10.0  # seconds open requests get on SIGTERM before a worker is stopped hard
    indexes: Mapping[str, IndexConfig] = field(default_factory=dict)

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'rennet.sqlite3'}"


def default_indexes(upstream: str = PYPI_SIMPLE_ENDPOINT) -> dict[str, IndexConfig]:
    return {
        "pypi": ProxyIndex(name="pypi", upstream=upstream),
        "local": HostedIndex(name="local"),
        "default": GroupIndex(name="default", members=("local", "pypi")),
    }


_ENV_SCALARS = {
    "RENNET_HOST": "host",
    "RENNET_PORT": "port",
    "RENNET_DATA_DIR": "data_dir",
    "RENNET_DATABASE_URL": "database_url",
    "RENNET_WORKERS": "workers",
    "RENNET_OFFLINE": "offline",
    "RENNET_LOG_LEVEL": "log_level",
    "RENNET_ACCESS_LOG": "access_log",
    "RENNET_DEFAULT_INDEX": "default_index",
    "RENNET_SHUTDOWN_TIMEOUT": "shutdown_timeout",
}


def load_settings(env: Mapping[str, str] | None = None, config_file: Path | None = None) -> Settings:
    """Build settings from the config file (RENNET_CONFIG or config_file) and the environment."""
    env = os.environ if env is None else env
    path = config_file or (Path(env["RENNET_CONFIG"]) if env.get("RENNET_CONFIG") else None)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise InvalidConfig(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as error:
            raise InvalidConfig(f"config file {path} is not valid TOML: {error}") from None
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidConfig(f"config file {path} cannot be read: {error}") from None
    index_tables = raw.pop("index", {})
    values: dict[str, Any] = dict(raw)
    for variable, name in _ENV_SCALARS.items():
        if env.get(variable):
            values[name] = env[variable]
    settings = _scalar_settings(values)
    indexes = default_indexes(env.get("RENNET_UPSTREAM") or PYPI_SIMPLE_ENDPOINT)
    if not isinstance(index_tables, dict):
        raise InvalidConfig("[index] must be a table of index tables, like [index.pypi]")
    for name, table in index_tables.items():
        indexes[name] = _index_from_table(name, table, indexes.get(name))
    pypi = indexes.get("pypi")
    if isinstance(pypi, ProxyIndex) and env.get("RENNET_UPSTREAM"):
        indexes["pypi"] = replace(pypi, upstream=env["RENNET_UPSTREAM"])
    check_indexes(indexes, settings.default_index)
    for index in indexes.values():
        if isinstance(index, ProxyIndex):
            _check_upstream(index)
    return replace(settings, indexes=indexes)


def _check_upstream(index: ProxyIndex) -> None:
    # The URL is left out of the message: it may carry a password.
    try:
        parts = urlsplit(index.upstream)
        valid = parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise InvalidConfig(f"index {index.name!r}: the upstream must be an http:// or https:// URL with a host")


def _scalar_settings(values: dict[str, Any]) -> Settings:
    known = {f.name: f for f in fields(Settings) if f.name != "indexes"}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InvalidConfig(f"unknown setting(s): {', '.join(unknown)}")
    converted: dict[str, Any] = {}
    for name, value in values.items():
        if name == "data_dir":
            converted[name] = Path(str(value)).expanduser().absolute()
        elif name in {"port", "workers"}:
            converted[name] = _int(name, value)
        elif name in {"offline", "access_log"}:
            converted[name] = _bool(name, value)
        elif name in {"max_page_bytes", "max_listing_bytes", "page_memory_bytes"}:
            converted[name] = parse_size(value, name)
        elif name == "shutdown_timeout":
            converted[name] = parse_duration(value, name)
        elif name == "log_level":
            converted[name] = str(value).strip().lower()
            if converted[name] not in LOG_LEVELS:
                raise InvalidConfig(f"log_level must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
        else:
            converted[name] = str(value)
    settings = Settings(**converted)
    if not 0 < settings.port < 65536:
        raise InvalidConfig(f"port must be between 1 and 65535, not {settings.port}")
    if settings.workers < 1:
        raise InvalidConfig("workers must be at least 1")
    return replace(settings, data_dir=settings.data_dir.absolute())


_PROXY_KEYS = {
    "upstream": str,
    "page_ttl": "duration",
    "negative_ttl": "duration",
    "listing_ttl": "duration",
    "connect_timeout": "duration",
    "read_timeout": "duration",
    "retry_after": "duration",
    "username": str,
    "password": str,
    "max_cache_size": "size",
    "private": bool,
    "read": list,
}
_HOSTED_KEYS = {"private": bool, "max_upload_size": "size", "read": list, "upload": list}
_GROUP_KEYS = {"members": list, "allow_upstream": list, "private": bool, "read": list}
# Names in the file that differ from the attribute they set.
_RENAMED = {"read": "readers", "upload": "uploaders"}


def _index_from_table(name: str, table: Any, current: IndexConfig | None) -> IndexConfig:
    if not isinstance(table, dict):
        raise InvalidConfig(f"[index.{name}] must be a table")
    kind = table.get("type", current.kind.value if current else None)
    options = {k: v for k, v in table.items() if k != "type"}
    keys: dict[str, Any]
    cls: Any
    if kind == "proxy":
        keys, cls = _PROXY_KEYS, ProxyIndex
    elif kind == "hosted":
        keys, cls = _HOSTED_KEYS, HostedIndex
    elif kind == "group":
        keys, cls = _GROUP_KEYS, GroupIndex
    else:
        raise InvalidConfig(f'[index.{name}] needs type = "proxy", "hosted" or "group"')
    unknown = sorted(set(options) - set(keys))
    if unknown:
        raise InvalidConfig(f"[index.{name}] has unknown setting(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in options.items():
        values[key] = _convert(f"index.{name}.{key}", keys[key], value)
    for key, attribute in _RENAMED.items():
        if key in values:
            values[attribute] = frozenset(str(user) for user in values.pop(key))
    if "members" in values:
        values["members"] = tuple(str(m) for m in values["members"])
    if "allow_upstream" in values:
        try:
            values["allow_upstream"] = frozenset(check_project_name(str(n)) for n in values["allow_upstream"])
        except InvalidName as error:
            raise InvalidConfig(f"index.{name}.allow_upstream: {error}") from None
    if current is not None and current.kind.value == kind:
        return replace(current, **values)
    if kind == "proxy" and "upstream" not in values:
        raise InvalidConfig(f"[index.{name}] is a proxy and needs an upstream URL")
    if kind == "group" and "members" not in values:
        raise InvalidConfig(f"[index.{name}] is a group and needs members")
    result: IndexConfig = cls(name=name, **values)
    return result


def _convert(where: str, kind: Any, value: Any) -> Any:
    if kind == "duration":
        return parse_duration(value, where)
    if kind == "size":
        return parse_size(value, where)
    if kind is bool:
        return _bool(where, value)
    if kind is list:
        if not isinstance(value, list):
            raise InvalidConfig(f"{where} must be a list")
        return value
    if kind is str and not isinstance(value, str):
        raise InvalidConfig(f"{where} must be a string")
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


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


def _int(where: str, value: Any) -> int:
    # int() would take true as 1 and truncate 80.5 to 80.
    if not isinstance(value, bool | float):
        with contextlib.suppress(TypeError, ValueError):
            return int(value)
    raise InvalidConfig(f"{where} must be a whole number, not {value!r}")


def _bool(where: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise InvalidConfig(f"{where} must be true or false, not {value!r}")
