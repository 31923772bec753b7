"""storage/database.py recognizes a current database without Alembic by SCHEMA_HEAD: it must name the newest
migration, or a new migration would never be applied to a database at the one before."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

import rennet.storage.database
from rennet.storage.database import SCHEMA_HEAD
from rennet.storage.schema import metadata
from tests.support.databases import _TABLES


def test_schema_head_is_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(rennet.storage.database.__file__).parent / "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert heads == [SCHEMA_HEAD], f"the migrations' head is {heads}: set SCHEMA_HEAD in storage/database.py to it"


def test_the_test_databases_empty_every_table_of_the_catalog() -> None:
    """A PostgreSQL database is given back to the tests' pool emptied (tests/support/databases.py): a table left
    out of that list would carry one test's rows into the next."""
    emptied = {name.strip() for name in _TABLES.split(",")}
    missing = sorted(set(metadata.tables) - emptied)
    assert not missing, f"add {missing} to _TABLES in tests/support/databases.py"
