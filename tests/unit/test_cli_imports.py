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

# What only serving, fetching from upstreams, migrating or drawing progress bars needs.
SERVER_WEIGHT = ("aiohttp", "alembic", "granian", "jinja2", "pypi_simple", "rich", "starlette", "uvloop")
# What only a command that opens the data directory needs.
STORAGE_WEIGHT = ("argon2", "sqlalchemy")
# config.default_upstream takes the built-in proxy's address from pypi_simple, at a price: the commands here name
# their upstream, so that what the command modules import is seen alone.
UPSTREAM = "http://127.0.0.1:9/simple/"


def _modules_after(code: str) -> set[str]:
    """The top-level packages a fresh interpreter has loaded once `code` ran."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith("RENNET_")}
    environ["RENNET_UPSTREAM"] = UPSTREAM
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return {name.partition(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


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
    data = str(tmp_path / "data")
    # A first command creates and migrates the catalog (with Alembic); the ones after find its schema current.
    _modules_after(_run_main("user", "list", "--data-dir", data))
    for argv in (("user", "list", "--data-dir", data), ("token", "list", "--data-dir", data)):
        loaded = _modules_after("import contextlib\nwith contextlib.redirect_stdout(None):\n    " + _run_main(*argv))
        assert "sqlalchemy" in loaded  # the command did open the catalog
        assert loaded.isdisjoint(SERVER_WEIGHT), (argv, sorted(loaded & set(SERVER_WEIGHT)))


def test_stats_on_a_current_database_imports_no_index_service(tmp_path: Path) -> None:
    """`rennet stats` reads the catalog and the request counters: no index service, upstream parser or migration.
    (aiohttp still comes with service.upkeep.stats, through the worker resources it names.)"""
    data = str(tmp_path / "data")
    _modules_after(_run_main("user", "list", "--data-dir", data))
    loaded = _modules_after(
        "import contextlib\nwith contextlib.redirect_stdout(None):\n    " + _run_main("stats", "--data-dir", data)
    )
    unwanted = {"alembic", "granian", "jinja2", "pypi_simple", "rich", "starlette", "uvloop"}
    assert loaded.isdisjoint(unwanted), sorted(loaded & unwanted)


def test_the_account_commands_bump_the_slot_the_workers_watch() -> None:
    """cli/accounts.py names the slot itself rather than import service.runtime.auth (and aiohttp with it)."""
    from rennet.cli.accounts import ACCOUNTS_SLOT
    from rennet.service.runtime import auth

    assert ACCOUNTS_SLOT == auth.ACCOUNTS_SLOT


def test_stats_reads_the_counters_the_server_writes(tmp_path: Path) -> None:
    """cli/stats.py names the counters' file itself rather than import service.registry (and every index
    service with it)."""
    from rennet.cli.stats import counters_path
    from rennet.config import load_settings
    from rennet.service.registry import counters_path as servers

    settings = load_settings({"RENNET_DATA_DIR": str(tmp_path), "RENNET_UPSTREAM": UPSTREAM})
    assert counters_path(settings) == servers(settings)
