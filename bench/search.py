"""Search latency of the catalog at 100,000 projects: SQLite (FTS5) and PostgreSQL (full-text search).

    .venv/bin/python bench/search.py                          # SQLite in a temporary directory
    .venv/bin/python bench/search.py --postgres start         # also a throwaway PostgreSQL (Debian's server)
    .venv/bin/python bench/search.py --postgres URL           # also an existing PostgreSQL database (emptied!)

Projects get names of one to three words and summaries of 5 to 12 words, drawn from Zipf-like vocabularies (a few
words, such as "python" and "django", are in a large share of them, as on PyPI), and are written through
storage/search.py's index_projects, the function the catalog's writes call. Each query runs as the web UI runs it
(Catalog.search, 50 hits) 30 times after a warm-up; the median and the worst are printed in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support, for --postgres start

from sqlalchemy import Engine, insert

from rennet.domain.search import parse_query
from rennet.storage.catalog import Catalog
from rennet.storage.database import connect, migrate
from rennet.storage.schema import projects
from rennet.storage.search import index_projects

PROJECTS = 100_000
QUERIES = ["d", "py", "req", "django", "django rest", "python client", "flask-sqlalchemy", "zzzz", "lib tool"]
COMMON = ["python", "django", "flask", "client", "api", "tool", "lib", "test", "data", "async", "rest", "http"]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(size)}
    return COMMON + sorted(words)


def zipf_choice(words: list[str], rng: random.Random) -> str:
    return words[min(int(rng.paretovariate(1.1)) - 1, len(words) - 1)]


def fill(engine: Engine, count: int) -> None:
    rng = random.Random(7)
    name_words, summary_words = vocabulary(3000, rng), vocabulary(10_000, rng)
    names: set[str] = set()
    while len(names) < count:
        names.add("-".join(zipf_choice(name_words, rng) for _ in range(rng.randint(1, 3))) + f"-{len(names)}")
    rows = []
    for i, name in enumerate(sorted(names), start=1):
        summary = " ".join(zipf_choice(summary_words, rng) for _ in range(rng.randint(5, 12))).capitalize()
        rows.append(
            {
                "id": i,
                "index_name": "pypi" if i % 4 else "local",
                "name": name,
                "display_name": name,
                "missing": False,
                "serial": 0,
                "created_at": 1.0,
                "summary": summary,
            }
        )
    for start in range(0, len(rows), 5000):
        batch = rows[start : start + 5000]
        with engine.begin() as conn:
            conn.execute(insert(projects), batch)
            index_projects(conn, [(row["id"], row["name"], row["summary"]) for row in batch])
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def measure(label: str, engine: Engine) -> None:
    catalog = Catalog(engine)
    print(f"\n{label}: {PROJECTS:,} projects")
    print(f"{'query':<20} {'hits':>5} {'median ms':>10} {'worst ms':>9}")
    for text in QUERIES:
        query = parse_query(text)
        hits = catalog.search(query, ["local", "pypi"], 50)
        samples = []
        for _ in range(30):
            started = time.perf_counter()
            catalog.search(query, ["local", "pypi"], 50)
            samples.append((time.perf_counter() - started) * 1000)
        print(f"{text!r:<20} {len(hits):>5} {statistics.median(samples):>10.1f} {max(samples):>9.1f}")


def run(label: str, url: str, lock: Path) -> None:
    engine = connect(url)
    try:
        migrate(engine, lock)
        started = time.perf_counter()
        fill(engine, PROJECTS)
        print(f"{label}: filled in {time.perf_counter() - started:.1f} s")
        measure(label, engine)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", metavar="start|URL", help="also measure PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rennet-search-") as directory:
        run("SQLite", f"sqlite:///{directory}/rennet.sqlite3", Path(directory) / "migrate.lock")
        if args.postgres == "start":
            from tests.support.postgres import PostgresServer

            server = PostgresServer.start()
            try:
                run("PostgreSQL", server.create_database(), Path(directory) / "migrate.lock")
            finally:
                server.stop()
        elif args.postgres:
            run("PostgreSQL", args.postgres, Path(directory) / "migrate.lock")


if __name__ == "__main__":
    main()
