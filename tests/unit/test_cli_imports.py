"""`rennet --help` and the account commands start without the server's weight: the command modules import storage,
the services and rich only in the functions that run a command (cli/_command.py), and a database whose schema is
current is opened without Alembic (storage/database.py). Timings are never asserted; what a fresh interpreter
has loaded is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.upstream import NOWHERE

# What only serving, fetching from upstreams, migrating or drawing progress bars needs.
SERVER_WEIGHT = ("aiohttp", "alembic", "granian", "jinja2", "pypi_simple", "rich", "starlette", "uvloop")
# What only a command that opens the data directory needs.
STORAGE_WEIGHT = ("argon2", "sqlalchemy")
# config.default_upstream takes the built-in proxy's address from pypi_simple, at a price: the commands here name
# their upstream (NOWHERE), so that what the command modules import is seen alone.


def _modules_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded once `code` ran."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("RENNET_")}
    environ["RENNET_UPSTREAM"] = NOWHERE
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return {name.partition(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def _data_directory(tmp_path: Path) -> str:
    """A data directory as a server leaves it: its catalog made and migrated (with Alembic), which the commands
    then find current."""
    from rennet.storage.store import open_store

    data = tmp_path / "data"
    open_store(data, f"sqlite:///{data / 'rennet.sqlite3'}").close()
    return str(data)


def _run_main(*argv: str) -> str:
    return f"from rennet.cli.main import main\nassert main({list(argv)!r}) == 0"


def test_help_imports_neither_storage_nor_the_server() -> None:
    code = "import contextlib\nfrom rennet.cli.main import main\nwith contextlib.redirect_stdout(None):\n"
    code += "    try:\n        main(['--help'])\n    except SystemExit:\n        pass"
    loaded = _modules_after(code)
    assert "rennet" in loaded
    assert loaded.isdisjoint(SERVER_WEIGHT + STORAGE_WEIGHT), sorted(loaded & {*SERVER_WEIGHT, *STORAGE_WEIGHT})


def test_building_every_command_parser_imports_neither_storage_nor_the_server() -> None:
    loaded = _modules_after("from rennet.cli.main import build_parser\nbuild_parser()")
    assert loaded.isdisjoint(SERVER_WEIGHT + STORAGE_WEIGHT), sorted(loaded & {*SERVER_WEIGHT, *STORAGE_WEIGHT})


def test_account_commands_on_a_current_database_import_no_server(tmp_path: Path) -> None:
    data = _data_directory(tmp_path)
    for argv in (("user", "list", "--data-dir", data), ("token", "list", "--data-dir", data)):
        loaded = _modules_after("import contextlib\nwith contextlib.redirect_stdout(None):\n    " + _run_main(*argv))
        assert "sqlalchemy" in loaded  # the command did open the catalog
        assert loaded.isdisjoint(SERVER_WEIGHT), (argv, sorted(loaded & set(SERVER_WEIGHT)))


def test_stats_on_a_current_database_imports_no_index_service(tmp_path: Path) -> None:
    """`rennet stats` reads the catalog and the request counters: no index service, upstream parser or migration.
    (aiohttp still comes with service.upkeep.stats, through the worker resources it names.)"""
    data = _data_directory(tmp_path)
    loaded = _modules_after(
        "import contextlib\nwith contextlib.redirect_stdout(None):\n    " + _run_main("stats", "--data-dir", data)
    )
    unwanted = {"alembic", "granian", "jinja2", "pypi_simple", "rich", "starlette", "uvloop"}
    assert loaded.isdisjoint(unwanted), sorted(loaded & unwanted)


def test_a_worker_that_reads_json_pages_loads_no_html_parser() -> None:
    """pypi-simple (with pydantic, bs4 and requests: 15 MiB) is read only for HTML pages: a worker gets PyPI's
    address from `rennet serve` and reads PEP 691 JSON itself."""
    code = f"""
import os
from rennet.config import DEFAULT_UPSTREAM_VARIABLE, load_settings, with_default_upstreams
del os.environ["RENNET_UPSTREAM"]
os.environ[DEFAULT_UPSTREAM_VARIABLE] = {NOWHERE!r}
assert with_default_upstreams(load_settings()).indexes["pypi"].upstream == {NOWHERE!r}
import rennet.web.app
from rennet.upstream.parse import JSON_TYPE, parse_project_page
body = b'{{"meta": {{"api-version": "1.1"}}, "name": "a", "files": [{{"filename": "a-1.0.tar.gz", "url": "a-1.0.tar.gz", "hashes": {{}}}}]}}'
assert parse_project_page(body, JSON_TYPE, {NOWHERE!r} + "a/", "a", "pypi").files
"""
    loaded = _modules_after(code)
    assert "starlette" in loaded  # the application was loaded
    assert loaded.isdisjoint({"pypi_simple", "pydantic", "bs4", "requests"}), sorted(loaded)
