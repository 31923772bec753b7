"""Leases on upstream transfers in the catalog, for servers on several hosts that share one bucket.

One host at a time holds the lease of a file (by key) while it fetches the file from the upstream; the others
wait for it to end, then copy the file from the bucket. A lease expires unless its holder renews it, so a host
that dies mid-transfer holds nobody up for longer than the lease. Blocking calls: run them in a thread.
PostgreSQL only (one host's processes coordinate through lock files, service/runtime/downloads.py).
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql.elements import Extract

from rennet.storage.schema import transfers as table

__all__ = ["TransferLeases"]


class TransferLeases:
    def __init__(self, engine: Engine, holder: str) -> None:
        self._engine = engine
        self.holder = holder

    def take(self, key: str, seconds: float) -> bool:
        """Take the lease unless another holder has it and it has not expired (one statement: atomic)."""
        now = _database_now()
        claim = insert(table).values(key=key, holder=self.holder, expires_at=now + seconds)
        claim = claim.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"holder": claim.excluded.holder, "expires_at": claim.excluded.expires_at},
            where=table.c.expires_at < now,
        )
        with self._engine.begin() as connection:
            return connection.execute(claim.returning(table.c.key)).first() is not None

    def renew(self, key: str, seconds: float) -> bool:
        """Extend a lease this holder has; False if it lost it (it expired and another took it)."""
        with self._engine.begin() as connection:
            renewed = connection.execute(
                update(table)
                .where(table.c.key == key, table.c.holder == self.holder)
                .values(expires_at=_database_now() + seconds)
                .returning(table.c.key)
            ).first()
        return renewed is not None

    def give_back(self, key: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(delete(table).where(table.c.key == key, table.c.holder == self.holder))


def _database_now() -> Extract:
    # The database's clock, one for every host: hosts' own clocks may disagree by more than a lease lasts.
    return func.extract("epoch", func.clock_timestamp())
