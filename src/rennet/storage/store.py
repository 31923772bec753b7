"""Everything rennet keeps, opened together: the server and the command line tools share it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from rennet.storage.accounts import ACCOUNTS_SLOT, Accounts, PasswordCost
from rennet.storage.advisories import AdvisoryCatalog
from rennet.storage.blobs import LocalBlobStore
from rennet.storage.catalog import Catalog
from rennet.storage.database import connect, migrate
from rennet.storage.generations import Generations, HostGenerations, slot_of
from rennet.storage.objectstore import ObjectStore

__all__ = ["Store", "open_store"]


@dataclass(slots=True)
class Store:
    data_dir: Path
    engine: Engine
    catalog: Catalog
    accounts: Accounts
    advisories: AdvisoryCatalog
    blobs: LocalBlobStore
    generations: Generations

    def accounts_changed(self) -> None:
        """Every worker of a running server forgets the logins it verified (users or tokens changed)."""
        self.generations.bump(slot_of(*ACCOUNTS_SLOT))

    def close(self) -> None:
        self.engine.dispose()
        self.generations.close()
        self.blobs.close()


def open_store(
    data_dir: Path,
    database_url: str,
    migrated: bool = False,
    password_cost: PasswordCost = PasswordCost(),
    blob_store: str | None = None,
) -> Store:
    """Open the database (migrating it unless `migrated`), the data directory layout, and the object store
    (`s3://BUCKET/PREFIX`) that keeps every blob, if there is one."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = connect(database_url)
    if not migrated:
        migrate(engine, data_dir / "run" / "migrate.lock")
    return Store(
        data_dir=data_dir,
        engine=engine,
        catalog=Catalog(engine),
        accounts=Accounts(engine, password_cost),
        advisories=AdvisoryCatalog(engine),
        blobs=LocalBlobStore(data_dir / "blobs", data_dir / "tmp", ObjectStore(blob_store) if blob_store else None),
        generations=_generations(engine, data_dir),
    )


def _generations(engine: Engine, data_dir: Path) -> Generations:
    """On PostgreSQL, servers on other hosts may share the catalog: changes travel through the database."""
    if engine.dialect.name == "postgresql":
        from rennet.storage.clustergenerations import ClusterGenerations  # SQLite never needs its dialect imports

        return ClusterGenerations(engine)
    return HostGenerations(data_dir / "run" / "generations")
