"""Change counters on PostgreSQL, shared by processes on several hosts: a change anywhere is heard everywhere
(by notification, or by comparing the table when a notification was missed), and a process never mistakes
its own announcement for somebody else's change."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

import rennet.storage.clustergenerations as clustergenerations
from rennet.storage.clustergenerations import LISTENER, ClusterGenerations
from rennet.storage.database import connect
from rennet.storage.generations import HostGenerations, slot_of
from rennet.storage.store import open_store
from tests.support.store import wait_until
from tests.support.upstream import _free_port

SLOT = slot_of("local", "thing")
OTHER = slot_of("local", "other")


@pytest.fixture
def processes(postgres_engine: Engine) -> Iterator[Callable[..., ClusterGenerations]]:
    """Processes on one database, as servers on several hosts would be; `follow` makes one a server's worker."""
    made: list[ClusterGenerations] = []

    def make(follow: bool = True) -> ClusterGenerations:
        generations = ClusterGenerations(postgres_engine)
        made.append(generations)
        if follow:
            generations.follow()
        return generations

    yield make
    for generations in made:
        generations.close()


def _listening(postgres_engine: Engine) -> int:
    with postgres_engine.connect() as connection:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = :name"
        )
        return int(connection.execute(text(query), {"name": LISTENER}).scalar_one())


def test_a_change_is_heard_by_every_other_process(
    processes: Callable[..., ClusterGenerations], postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Comparing the table would also find the change: only a notification can deliver it within this test.
    monkeypatch.setattr(clustergenerations, "POLL_SECONDS", 3600.0)
    first, second, third = processes(), processes(), processes()
    wait_until(lambda: _listening(postgres_engine) == 3, "three listeners")
    before = [process.get(SLOT) for process in (first, second, third)]

    assert first.bump(SLOT) == before[0] + 1

    wait_until(lambda: second.get(SLOT) > before[1] and third.get(SLOT) > before[2], "the others hear of it")
    assert second.get(OTHER) == third.get(OTHER) == 0
    with postgres_engine.connect() as connection:
        assert connection.execute(text(f"SELECT value FROM generations WHERE slot = {SLOT}")).scalar_one() == 1
    # Its own notification comes back to the first process too, before a later one (PostgreSQL delivers them
    # in commit order), and must not count as a change it did not know of.
    third.bump(OTHER)
    wait_until(lambda: first.get(OTHER) > 0, "the first process hears the later change")
    assert first.get(SLOT) == before[0] + 1


def test_a_command_announces_its_change_before_it_returns(
    processes: Callable[..., ClusterGenerations], postgres_engine: Engine
) -> None:
    server = processes()
    wait_until(lambda: _listening(postgres_engine) == 1, "the server listens")
    seen = server.get(SLOT)

    command = processes(follow=False)
    command.bump(SLOT)

    with postgres_engine.connect() as connection:
        assert connection.execute(text(f"SELECT value FROM generations WHERE slot = {SLOT}")).scalar_one() == 1
    assert not server.caught_up() or server.get(SLOT) > seen  # heard already, or not yet
    wait_until(server.caught_up, "the server hears of every change the table records")
    assert server.get(SLOT) > seen


def test_changes_made_while_a_process_was_not_listening_are_found_in_the_table(
    processes: Callable[..., ClusterGenerations], postgres_engine: Engine
) -> None:
    command = processes(follow=False)
    command.bump(SLOT)
    late = processes(follow=False)
    seen = late.get(SLOT)

    late.follow()

    wait_until(lambda: late.get(SLOT) > seen, "the change made before it listened")
    assert late.get(OTHER) == 0


def test_a_lost_notification_is_made_up_for_by_comparing_the_table(
    processes: Callable[..., ClusterGenerations], postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clustergenerations, "POLL_SECONDS", 0.2)
    server = processes()
    wait_until(lambda: _listening(postgres_engine) == 1, "the server listens")
    seen = server.get(SLOT)

    with postgres_engine.begin() as connection:  # a change whose notification never came
        connection.execute(text(f"INSERT INTO generations (slot, value) VALUES ({SLOT}, 7)"))

    wait_until(lambda: server.get(SLOT) > seen, "the server compares the table")


def test_a_listener_whose_connection_broke_reconnects_and_catches_up(
    processes: Callable[..., ClusterGenerations], postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clustergenerations, "RETRY_SECONDS", 0.1)
    monkeypatch.setattr(clustergenerations, "POLL_SECONDS", 3600.0)
    server, other = processes(), processes(follow=False)
    wait_until(lambda: _listening(postgres_engine) == 1, "the server listens")
    seen = server.get(SLOT)

    with postgres_engine.begin() as connection:
        query = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"
        connection.execute(text(query + " AND datname = current_database()"), {"name": LISTENER})
    other.bump(SLOT)  # announced while the listener may be away

    wait_until(lambda: server.get(SLOT) > seen, "the change is heard after the listener reconnected")
    wait_until(lambda: _listening(postgres_engine) == 1, "the server listens again")
    other.bump(OTHER)
    wait_until(lambda: server.get(OTHER) > 0, "later changes are heard again")


def test_bumps_never_wait_for_an_unreachable_database(tmp_path: Path) -> None:
    engine = connect(f"postgresql+psycopg://rennet@127.0.0.1:{_free_port()}/rennet")
    worker = ClusterGenerations(engine)
    worker.follow()
    try:
        assert worker.bump(SLOT) == 1  # served at once by this worker; announced once the database answers
        assert worker.bump(SLOT) == 2
    finally:
        worker.close()
        engine.dispose()


def test_stores_pick_the_counters_their_catalog_can_share(tmp_path: Path, postgres_engine: Engine) -> None:
    on_sqlite = open_store(tmp_path / "one-host", f"sqlite:///{tmp_path / 'one-host.sqlite3'}")
    on_postgres = open_store(
        tmp_path / "cluster", postgres_engine.url.render_as_string(hide_password=False), migrated=True
    )
    try:
        assert isinstance(on_sqlite.generations, HostGenerations)
        assert isinstance(on_postgres.generations, ClusterGenerations)
    finally:
        on_sqlite.close()
        on_postgres.close()
