"""Failed logins kept in the catalog: counted per client address and user name over a window, old ones deleted."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from rennet.storage.accounts import FAILURES_KEPT, Accounts, PasswordCost
from rennet.storage.database import connect, migrate


def test_failures_are_counted_per_address_and_user_and_forgotten_in_time(catalog_url: str, tmp_path: Path) -> None:
    engine = connect(catalog_url)
    migrate(engine, tmp_path / "migrate.lock")
    accounts = Accounts(engine, PasswordCost(1, 64 << 10))
    try:
        for at in (1000.0, 1010.0, 1020.0):
            accounts.note_failed_login("10.0.0.1", "alice", at)
        accounts.note_failed_login("10.0.0.1", "bob", 1020.0)
        accounts.note_failed_login("10.0.0.2", "alice", 1020.0)

        assert accounts.failed_logins("10.0.0.1", "alice", since=1000.0) == 3
        assert accounts.failed_logins("10.0.0.1", "alice", since=1005.0) == 2
        assert accounts.failed_logins("10.0.0.1", "bob", since=0.0) == 1
        assert accounts.failed_logins("10.0.0.3", "alice", since=0.0) == 0

        accounts.note_failed_login("10.0.0.9", "carol", 1020.0 + FAILURES_KEPT + 1)
        with engine.connect() as connection:
            kept = connection.execute(text("SELECT count(*) FROM login_failures")).scalar_one()
        assert kept == 1, "failures older than FAILURES_KEPT are deleted as new ones come"
    finally:
        engine.dispose()
