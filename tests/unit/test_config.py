"""Settings from defaults, a TOML file and RENNET_* variables; every mistake named clearly."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from rennet.config import (
    DEFAULT_PORT,
    InvalidConfig,
    Settings,
    load_settings,
    parse_duration,
    parse_size,
    with_default_upstreams,
)
from rennet.domain.indexes import GroupIndex, HostedIndex, IndexKind, ProxyIndex

UPSTREAM = "http://upstream.test/simple/"


def load(tmp_path: Path, toml: str | None = None, **env: str) -> Settings:
    config_file = None
    if toml is not None:
        config_file = tmp_path / "rennet.toml"
        config_file.write_text(toml)
    return load_settings(env=env, config_file=config_file)


def fails(tmp_path: Path, message: str, toml: str | None = None, **env: str) -> None:
    with pytest.raises(InvalidConfig, match=message):
        load(tmp_path, toml, **env)


# -- defaults -----------------------------------------------------------------------------------------------------


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.port == DEFAULT_PORT
    assert settings.host == "127.0.0.1"
    assert settings.workers == 1
    assert settings.offline is False
    assert settings.access_log is True
    assert settings.log_level == "info"
    assert settings.log_format == "text"
    assert settings.metrics is True
    assert settings.default_index == "default"
    assert settings.data_dir == tmp_path / "rennet-data"
    assert settings.data_dir.is_absolute()
    assert settings.database == f"sqlite:///{tmp_path / 'rennet-data' / 'rennet.sqlite3'}"
    assert set(settings.indexes) == {"pypi", "local", "default"}
    pypi = settings.indexes["pypi"]
    assert isinstance(pypi, ProxyIndex)
    assert pypi.upstream == ""  # PyPI's, filled in by what talks to upstreams
    resolved = with_default_upstreams(settings).indexes["pypi"]
    assert isinstance(resolved, ProxyIndex) and resolved.upstream == PYPI_SIMPLE_ENDPOINT
    assert isinstance(settings.indexes["local"], HostedIndex)
    default = settings.indexes["default"]
    assert isinstance(default, GroupIndex)
    assert default.members == ("local", "pypi")  # hosted first: private names win


def test_no_environment_argument_reads_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RENNET_PORT", "4999")
    monkeypatch.delenv("RENNET_CONFIG", raising=False)
    assert load_settings().port == 4999


# -- environment --------------------------------------------------------------------------------------------------


def test_environment_variables(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        RENNET_HOST="0.0.0.0",
        RENNET_PORT="8080",
        RENNET_DATA_DIR=str(tmp_path / "d"),
        RENNET_DATABASE_URL="postgresql://db.test/rennet",
        RENNET_WORKERS="4",
        RENNET_OFFLINE="yes",
        RENNET_LOG_LEVEL="DEBUG",
        RENNET_ACCESS_LOG="off",
        RENNET_LOG_FORMAT="JSON",
        RENNET_METRICS="false",
        RENNET_UPSTREAM=UPSTREAM,
    )
    assert settings.host == "0.0.0.0"
    assert settings.port == 8080
    assert settings.data_dir == tmp_path / "d"
    assert settings.database == "postgresql://db.test/rennet"
    assert settings.workers == 4
    assert settings.offline is True
    assert settings.log_level == "debug"
    assert settings.access_log is False
    assert settings.log_format == "json"
    assert settings.metrics is False
    pypi = settings.indexes["pypi"]
    assert isinstance(pypi, ProxyIndex)
    assert pypi.upstream == UPSTREAM


def test_empty_variables_are_ignored(tmp_path: Path) -> None:
    assert load(tmp_path, RENNET_PORT="", RENNET_UPSTREAM="").port == DEFAULT_PORT


def test_environment_beats_the_file(tmp_path: Path) -> None:
    toml = f'port = 5000\n[index.pypi]\nupstream = "{UPSTREAM}"\n'
    settings = load(tmp_path, toml, RENNET_PORT="6000", RENNET_UPSTREAM="https://other.test/simple/")
    assert settings.port == 6000
    pypi = settings.indexes["pypi"]
    assert isinstance(pypi, ProxyIndex)
    assert pypi.upstream == "https://other.test/simple/"


def test_rennet_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("port = 5001\n")
    assert load_settings(env={"RENNET_CONFIG": str(path)}).port == 5001


def test_data_dir_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load(tmp_path, RENNET_DATA_DIR="~/data").data_dir == tmp_path / "data"


@pytest.mark.parametrize(("text", "value"), [("1", True), ("TRUE", True), ("on", True), ("0", False), ("No", False)])
def test_booleans(tmp_path: Path, text: str, value: bool) -> None:
    assert load(tmp_path, RENNET_OFFLINE=text).offline is value


# -- the file -----------------------------------------------------------------------------------------------------


def test_full_file(tmp_path: Path) -> None:
    toml = f"""
host = "::"
port = 4141
offline = true
max_page_bytes = "32M"
page_memory_bytes = 1048576
default_index = "all"

[index.pypi]
page_ttl = "15m"
connect_timeout = 5
read_timeout = "1.5s"
max_cache_size = "100GiB"

[index.corp]
type = "proxy"
upstream = "{UPSTREAM}"
username = "me"
password = "secret"
private = true
negative_ttl = "250ms"
retry_after = "1h"
listing_ttl = "2d"

[index.team]
type = "hosted"
max_upload_size = "2G"

[index.all]
type = "group"
members = ["team", "local", "corp", "pypi"]
allow_upstream = ["Some_Project", "other.one"]
private = true
"""
    settings = load(tmp_path, toml)
    assert (settings.host, settings.port, settings.offline) == ("::", 4141, True)
    assert settings.max_page_bytes == 32 << 20
    assert settings.page_memory_bytes == 1 << 20
    assert settings.default_index == "all"
    pypi = settings.indexes["pypi"]
    assert isinstance(pypi, ProxyIndex)
    assert with_default_upstreams(settings).indexes["pypi"] == replace(pypi, upstream=PYPI_SIMPLE_ENDPOINT)
    assert pypi.page_ttl == 900
    assert pypi.connect_timeout == 5
    assert pypi.read_timeout == 1.5
    assert pypi.max_cache_size == 100 << 30
    corp = settings.indexes["corp"]
    assert isinstance(corp, ProxyIndex)
    assert (corp.username, corp.password, corp.private) == ("me", "secret", True)
    assert corp.negative_ttl == 0.25
    assert corp.retry_after == 3600
    assert corp.listing_ttl == 2 * 86400
    team = settings.indexes["team"]
    assert isinstance(team, HostedIndex)
    assert team.max_upload_size == 2 << 30
    group = settings.indexes["all"]
    assert isinstance(group, GroupIndex)
    assert group.members == ("team", "local", "corp", "pypi")
    assert group.private
    assert group.allow_upstream == frozenset({"some-project", "other-one"})


def test_an_index_can_change_kind(tmp_path: Path) -> None:
    settings = load(tmp_path, '[index.pypi]\ntype = "hosted"\n')
    assert settings.indexes["pypi"].kind is IndexKind.HOSTED


def test_upstream_variable_leaves_a_hosted_pypi_alone(tmp_path: Path) -> None:
    settings = load(tmp_path, '[index.pypi]\ntype = "hosted"\n', RENNET_UPSTREAM=UPSTREAM)
    assert isinstance(settings.indexes["pypi"], HostedIndex)


def test_pypi_trusts_every_file_host_while_its_upstream_is_pypi(tmp_path: Path) -> None:
    """PyPI's pages name PyPI's file host only, and behind some DNS that host has private addresses."""

    def file_hosts(settings: Settings) -> frozenset[str]:
        pypi = settings.indexes["pypi"]
        assert isinstance(pypi, ProxyIndex)
        return pypi.file_hosts

    assert file_hosts(load(tmp_path)) == {"*"}
    assert file_hosts(load(tmp_path, '[index.pypi]\nread_timeout = "5s"\n')) == {"*"}
    assert file_hosts(load(tmp_path, RENNET_UPSTREAM=UPSTREAM)) == set()  # another upstream: named hosts only
    assert file_hosts(load(tmp_path, f'[index.pypi]\nupstream = "{UPSTREAM}"\n')) == set()
    given = f'[index.pypi]\nupstream = "{UPSTREAM}"\nfile_hosts = ["files.test", "*"]\n'
    assert file_hosts(load(tmp_path, given)) == {"files.test", "*"}
    assert file_hosts(load(tmp_path, '[index.pypi]\nfile_hosts = ["files.test"]\n')) == {"files.test"}


def test_redefining_the_default_group(tmp_path: Path) -> None:
    settings = load(tmp_path, '[index.default]\nmembers = ["pypi"]\n')
    default = settings.indexes["default"]
    assert isinstance(default, GroupIndex)
    assert default.members == ("pypi",)


# -- every error is named -----------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="does not exist"):
        load_settings(env={}, config_file=tmp_path / "nope.toml")


def test_config_file_that_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match="cannot be read"):
        load_settings(env={}, config_file=tmp_path)


def test_config_file_that_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00port = 1")
    with pytest.raises(InvalidConfig, match="cannot be read"):
        load_settings(env={}, config_file=path)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("port = ", "not valid TOML"),
        ("prot = 80", r"unknown setting\(s\): prot"),
        ("[server]\nport = 1", r"unknown setting\(s\): server"),
        ('port = "http"', "port must be a whole number"),
        ("port = true", "port must be a whole number"),
        ("port = 80.5", "port must be a whole number"),
        ("port = 0", "port must be between 1 and 65535"),
        ("port = 65536", "port must be between 1 and 65535"),
        ("workers = 0", "workers must be at least 1"),
        ('offline = "maybe"', "offline must be true or false"),
        ('log_level = "loud"', "log_level must be one of"),
        ('max_page_bytes = "lots"', "max_page_bytes: 'lots' is not a size"),
        ("page_memory_bytes = -1", "page_memory_bytes: -1 is not a size"),
        ('default_index = "main"', "default index 'main' is not configured"),
        ("index = 5", r"\[index\] must be a table"),
        ("[index]\npypi = 5", r"\[index.pypi\] must be a table"),
        ("[index.x]\nprivate = true", r'\[index.x\] needs type = "proxy", "hosted" or "group"'),
        ('[index.x]\ntype = "mirror"', r"\[index.x\] needs type"),
        ("[index.x]\ntype = 5", r"\[index.x\] needs type"),
        ('[index.x]\ntype = "proxy"', r"\[index.x\] is a proxy and needs an upstream URL"),
        ('[index.x]\ntype = "group"', r"\[index.x\] is a group and needs members"),
        (
            '[index.x]\ntype = "hosted"\nupstream = "http://u.test/"',
            r"\[index.x\] has unknown setting\(s\): upstream",
        ),
        ("[index.pypi]\nupstream = 5", "index.pypi.upstream must be a string"),
        ('[index.pypi]\nupstream = "ftp://u.test/simple/"', "index.pypi.upstream: the upstream must be an http"),
        ('[index.pypi]\nupstream = "not a url"', "index.pypi.upstream: the upstream must be an http"),
        ('[index.pypi]\nupstream = "https://"', "index.pypi.upstream: the upstream must be an http"),
        ("[index.pypi]\npassword = 5", "index.pypi.password must be a string"),
        ('[index.pypi]\npage_ttl = "soon"', "index.pypi.page_ttl: 'soon' is not a duration"),
        ("[index.pypi]\npage_ttl = -5", "index.pypi.page_ttl: -5 is not a duration"),
        ("[index.pypi]\npage_ttl = nan", "index.pypi.page_ttl: nan is not a duration"),
        ("[index.pypi]\nread_timeout = inf", "index.pypi.read_timeout: inf is not a duration"),
        ('[index.pypi]\nmax_cache_size = "-1G"', "index.pypi.max_cache_size: '-1G' is not a size"),
        ('[index.pypi]\nprivate = "sometimes"', "index.pypi.private must be true or false"),
        ('[index.local]\nmax_upload_size = "big"', "index.local.max_upload_size: 'big' is not a size"),
        ('[index.default]\nmembers = "local"', "index.default.members must be a list"),
        ('[index.default]\nmembers = ["local", "elsewhere"]', "group 'default' lists unknown index 'elsewhere'"),
        ('[index.default]\nmembers = ["default"]', "cycle: default -> default"),
        ('[index.default]\nallow_upstream = "foo"', "index.default.allow_upstream must be a list"),
        ('[index.default]\nallow_upstream = ["no way"]', "index.default.allow_upstream: 'no way' is not a valid"),
        ('[index.pypi]\nmin_age = "a week"', "index.pypi.min_age: 'a week' is not a duration"),
        ('[index.local]\nmin_age = "7d"', r"\[index.local\] has unknown setting\(s\): min_age"),
        ('[index.pypi]\nmin_age_exempt = ["foo>=1"]', "index.pypi.min_age_exempt: 'foo>=1' is neither a project"),
        ('[index.pypi]\nmin_age_exempt = ["foo==not a version"]', "index.pypi.min_age_exempt: 'foo==not a"),
        ('[index.default]\ndeny = ["foo=>1"]', "index.default.deny: 'foo=>1' is not a project name or a requirement"),
        ('[index.local]\ndeny = "foo"', "index.local.deny must be a list"),
        ('[index.local]\ndeny = ["foo[extra]"]', "index.local.deny: 'foo\\[extra\\]': a deny rule names a project"),
        ("[index.local]\ndeny = [\"foo; os_name == 'nt'\"]", r"index.local.deny: .*\(no extras, markers or URL\)"),
        ('[index.pypi]\nmirror_allow = "num*"', "index.pypi.mirror_allow must be a list"),
        ('[index.pypi]\nmirror_deny = ["no way"]', "index.pypi.mirror_deny: 'no way' is not a project name pattern"),
        ("[index.pypi]\nmirror_latest = 0", "index.pypi.mirror_latest must be at least 1, not 0"),
        ('[index.pypi]\nmirror_latest = "few"', "index.pypi.mirror_latest must be a whole number"),
        ('[index.pypi]\nmirror_python = ["three"]', "index.pypi.mirror_python: 'three' is not a Python version"),
        ('[index.pypi]\nmirror_platforms = ["amiga"]', "index.pypi.mirror_platforms: unsupported platform 'amiga'"),
        ('[index.pypi]\nmirror_python = ["3.12"]', "index.pypi: mirror_python and mirror_platforms go together"),
        ('[index.pypi]\nmirror_max_file_size = "huge"', "index.pypi.mirror_max_file_size: 'huge' is not a size"),
        ('[index.pypi]\nmirror_sdists = "rarely"', "index.pypi.mirror_sdists must be true or false"),
        ("[index.local]\nmirror_latest = 2", r"\[index.local\] has unknown setting\(s\): mirror_latest"),
        ('[index.simple]\ntype = "hosted"', "index name 'simple' is not allowed"),
        ('[index.Team]\ntype = "hosted"', "index name 'Team' is not allowed"),
    ],
)
def test_file_errors(tmp_path: Path, toml: str, message: str) -> None:
    fails(tmp_path, message, toml)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RENNET_PORT": "eighty"}, "port must be a whole number, not 'eighty'"),
        ({"RENNET_PORT": "99999"}, "port must be between 1 and 65535"),
        ({"RENNET_WORKERS": "-2"}, "workers must be at least 1"),
        ({"RENNET_OFFLINE": "perhaps"}, "offline must be true or false"),
        ({"RENNET_ACCESS_LOG": "2"}, "access_log must be true or false"),
        ({"RENNET_LOG_LEVEL": "chatty"}, "log_level must be one of"),
        ({"RENNET_LOG_FORMAT": "xml"}, "log_format must be one of text, json, not 'xml'"),
        ({"RENNET_METRICS": "maybe"}, "metrics must be true or false"),
        ({"RENNET_DEFAULT_INDEX": "nope"}, "default index 'nope' is not configured"),
        ({"RENNET_UPSTREAM": "upstream.test/simple/"}, "RENNET_UPSTREAM: the upstream must be an http"),
    ],
)
def test_environment_errors(tmp_path: Path, env: dict[str, str], message: str) -> None:
    fails(tmp_path, message, None, **env)


def test_a_bad_upstream_never_shows_its_password(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig) as caught:
        load(tmp_path, RENNET_UPSTREAM="gopher://user:hunter2@u.test/simple/")
    assert "hunter2" not in str(caught.value)


# -- durations and sizes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (0, 0.0),
        (2.5, 2.5),
        ("30", 30.0),
        ("30s", 30.0),
        ("10m", 600.0),
        ("1.5h", 5400.0),
        ("2d", 172800.0),
        ("250ms", 0.25),
        (" 5 s ", 5.0),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    ["", "s", "10 minutes", "10M", "-5s", "1h30m", "1e3", True, None, -1, -0.5, math.nan, math.inf, "9" * 400],
)
def test_bad_durations(value: object) -> None:
    with pytest.raises(InvalidConfig, match=r"where: .* is not a duration"):
        parse_duration(value, "where")


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (1024, 1024),
        (0, 0),
        ("1024", 1024),
        ("1b", 1),
        ("1k", 1024),
        ("1K", 1024),
        ("1kb", 1024),
        ("1KiB", 1024),
        ("500M", 500 << 20),
        ("10GB", 10 << 30),
        ("1GiB", 1 << 30),
        ("2t", 2 << 40),
        ("1.5k", 1536),
        (" 3 M ", 3 << 20),
    ],
)
def test_parse_size(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["", "M", "1iB", "1x", "1 mega", "-1", "1e3", True, None, -1, "9" * 400])
def test_bad_sizes(value: object) -> None:
    with pytest.raises(InvalidConfig, match=r"where: .* is not a size"):
        parse_size(value, "where")


def test_a_public_group_may_not_contain_a_private_member(tmp_path: Path) -> None:
    toml = """
[index.local]
private = true
"""
    with pytest.raises(InvalidConfig, match="group 'default' is public but its member 'local' is private"):
        load(tmp_path, toml)


def test_store_redirects(tmp_path: Path) -> None:
    store = 'blob_store = "s3://bucket/blobs"\n'
    assert load(tmp_path, store).store_redirects is None
    assert load(tmp_path, store + 'store_redirects = "10m"').store_redirects == 600.0
    assert load(tmp_path, store, RENNET_STORE_REDIRECTS="off").store_redirects is None
    fails(tmp_path, "store_redirects sends clients to the bucket: it needs blob_store", 'store_redirects = "10m"')
    for value in ('"8d"', '"0.5s"', '"soon"'):
        fails(tmp_path, "store_redirects: ", store + f"store_redirects = {value}")


def test_accel_redirect(tmp_path: Path) -> None:
    assert load(tmp_path).accel_redirect is None
    assert load(tmp_path, 'accel_redirect = "/_rennet_blobs/"').accel_redirect == "/_rennet_blobs/"
    assert load(tmp_path, RENNET_ACCEL_REDIRECT="/x/").accel_redirect == "/x/"
    for value in ("_rennet_blobs/", "/_rennet_blobs", "/", "/a b/", "/a?b/"):
        fails(tmp_path, "accel_redirect: .* is not a path like /_rennet_blobs/", f'accel_redirect = "{value}"')
