"""A throwaway PostgreSQL server for the tests and the benchmarks: Debian's binaries, a cluster in a temporary
directory, loopback only.

Started once per test session, with durability turned off (fsync, synchronous commit): nothing in it outlives
the session. Each test that wants PostgreSQL gets a database of its own. As root, the server runs as the
`postgres` user, which Debian's package creates (PostgreSQL refuses to run as root). Standard library only, so
that bench/run.py can use it too.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path

from tests.support.upstream import _free_port

__all__ = ["PostgresServer", "find_binaries"]

INSTALL_HINT = "install Debian's PostgreSQL (apt-get install postgresql), or run the tests with --postgres=off"


def find_binaries() -> Path:
    """The directory of initdb and pg_ctl: Debian keeps them in /usr/lib/postgresql/<version>/bin."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError(f"PostgreSQL's server programs (initdb, pg_ctl) are not installed: {INSTALL_HINT}")


class PostgresServer:
    """A running PostgreSQL cluster of our own, or an existing server given by URL (as a superuser that may
    create databases)."""

    def __init__(self, admin_url: str, cluster: _Cluster | None = None) -> None:
        self.admin_url = admin_url  # libpq form: postgresql://user@host:port/postgres
        self.cluster = cluster
        self._names = count(1)

    @classmethod
    def start(cls) -> PostgresServer:
        cluster = _Cluster.create()
        server = cls(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", cluster)
        server.wait_until_ready()
        return server

    def wait_until_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self._psql("SELECT 1", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL at {self.admin_url} did not answer in {timeout}s")
            time.sleep(0.1)

    def create_database(self, driver: str = "psycopg", template: str | None = None) -> str:
        """A new database, empty or a copy of `template`; its SQLAlchemy URL with the given driver (psycopg or
        psycopg2)."""
        name = f"rennet_{os.getpid()}_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name, driver)

    def execute(self, statement: str, database: str | None = None) -> None:
        """One statement, as the superuser, in `database` (the admin database by default). With psycopg at hand
        (the tests), in this process; otherwise with psql (bench/run.py runs on the standard library)."""
        url = self.admin_url if database is None else self.admin_url.rsplit("/", 1)[0] + "/" + database
        try:
            import psycopg
        except ImportError:
            self._psql(statement, url=url)
            return
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(statement.encode())

    def _psql(self, statement: str, check: bool = True, url: str | None = None) -> subprocess.CompletedProcess[str]:
        psql = self.cluster.binaries / "psql" if self.cluster is not None else shutil.which("psql") or "psql"
        target = url or self.admin_url
        command = [str(psql), "--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", target, "-c", statement]
        result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PGCONNECT_TIMEOUT": "2"})
        if check and result.returncode != 0:
            raise RuntimeError(f"psql {statement!r} failed: {result.stderr.strip()}")
        return result

    def drop_database(self, name: str) -> None:
        """Drop a database of create_database(), also while connections to it are left open."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def rename_database(self, old: str, new: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{new}"')
        self.execute(f'ALTER DATABASE "{old}" RENAME TO "{new}"')

    def url(self, database: str, driver: str = "psycopg") -> str:
        base = self.admin_url.rsplit("/", 1)[0].removeprefix("postgresql://")
        return f"postgresql+{driver}://{base}/{database}"

    def pause(self) -> None:
        """Stop the server (as an outage would), keeping its data."""
        assert self.cluster is not None, "only a cluster of the tests' own can be stopped"
        self.cluster.ctl("stop", "-m", "fast")

    def resume(self) -> None:
        assert self.cluster is not None
        self.cluster.ctl("start", "-o", self.cluster.options, "-l", str(self.cluster.root / "log"))
        self.wait_until_ready()

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.ctl("stop", "-m", "immediate", check=False)
            shutil.rmtree(self.cluster.root, ignore_errors=True)
            self.cluster = None


class _Cluster:
    def __init__(self, binaries: Path, root: Path, port: int, user: pwd.struct_passwd | None) -> None:
        self.binaries, self.root, self.port, self.user = binaries, root, port, user
        self.options = (
            f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=400 -c shared_buffers=32MB"
        )

    @classmethod
    def create(cls) -> _Cluster:
        root = Path(tempfile.mkdtemp(prefix="rennet-pg-"))
        user = _postgres_user()
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
        cluster = cls(find_binaries(), root, _free_port(), user)
        data = str(root / "data")
        cluster.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        cluster.ctl("start", "-o", cluster.options, "-l", str(root / "log"))
        return cluster

    def ctl(self, action: str, *options: str, check: bool = True) -> None:
        self.run("pg_ctl", "-D", str(self.root / "data"), "-w", "-t", "60", action, *options, check=check)

    def run(self, program: str, *args: str, check: bool = True) -> None:
        result = subprocess.run(
            [str(self.binaries / program), *args],
            capture_output=True,
            text=True,
            preexec_fn=_as_user(self.user),
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed: {result.stdout}{result.stderr}")


def _postgres_user() -> pwd.struct_passwd | None:
    """Whom the server runs as: the `postgres` user when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(f"there is no `postgres` user to run the server as: {INSTALL_HINT}") from None


def _as_user(user: pwd.struct_passwd | None) -> Callable[[], None] | None:
    if user is None:
        return None

    def switch() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
        os.chdir("/")  # our working directory may be closed to that user

    return switch
