"""Leases on upstream transfers (PostgreSQL): one holder at a time, renewed while held, taken over once expired,
given back by their holder only."""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

from rennet.storage.transfers import TransferLeases

KEY = "pypi/thing/thing-1.0-py3-none-any.whl"


def test_one_holder_at_a_time_until_it_gives_the_lease_back(postgres_engine: Engine) -> None:
    first, second = TransferLeases(postgres_engine, "host-a:1"), TransferLeases(postgres_engine, "host-b:1")

    assert first.take(KEY, 30) is True
    assert second.take(KEY, 30) is False
    assert second.take("pypi/other/other-1.0.tar.gz", 30) is True  # leases are per file
    second.give_back(KEY)  # not its lease: nothing happens
    assert second.take(KEY, 30) is False

    first.give_back(KEY)
    assert second.take(KEY, 30) is True


def test_an_expired_lease_is_taken_over_and_its_old_holder_cannot_renew_it(postgres_engine: Engine) -> None:
    dead, alive = TransferLeases(postgres_engine, "host-a:1"), TransferLeases(postgres_engine, "host-b:1")
    assert dead.take(KEY, 30) is True
    assert dead.renew(KEY, 30) is True
    with postgres_engine.begin() as connection:  # as if its holder had died half a minute ago
        connection.execute(text("UPDATE transfers SET expires_at = :past"), {"past": time.time() - 1})

    assert alive.take(KEY, 30) is True
    assert dead.renew(KEY, 30) is False
    assert dead.take(KEY, 30) is False
