"""Change counters for servers on several hosts that share one PostgreSQL catalog.

Protocol. Each process counts, per slot, the changes it knows of, in its own memory: a page rendered at value v
is current while the slot still reads v (one memory read per request, as on one host).
- A change made here bumps the local counter at once (this worker serves the change immediately) and is
  announced to the others: a writer thread increments the slot's row in the `generations` table and sends
  `NOTIFY rennet_generations, '<slot> <row value> <origin>'` in the same transaction, so the notification goes
  out when the row is committed. A command (no writer thread) does this before it returns.
- A listener thread per serving process LISTENs on its own connection; each notification from another process
  whose row value it has not seen bumps that slot's local counter. PostgreSQL delivers it within milliseconds.
- What a listener can miss (it was not connected yet, or its connection broke) is in the table: after every
  (re)connection, and every POLL_SECONDS as a fallback, it compares the rows with the values it has seen and
  bumps every slot that moved. A change is therefore seen within milliseconds, or within POLL_SECONDS when
  notifications are lost, or as soon as the database answers again.
- Failures: the database unreachable makes the writer keep its pending slots and try again every RETRY_SECONDS,
  and the listener reconnect with the same pause; neither ever stops the worker. Bumps of one slot that wait
  together are sent as one: other processes need to know that it changed, not how often.

Spare bumps (two processes hearing of one change twice) only cause a spare re-render; a missed one would serve
an old page, which is why every path above errs towards bumping.
"""

from __future__ import annotations

import logging
import queue
import secrets
import select as selectors
import threading
import time
from array import array
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert

from rennet.storage.database import CONNECT_TIMEOUT
from rennet.storage.generations import SLOTS
from rennet.storage.schema import generations as table

__all__ = ["CHANNEL", "LISTENER", "POLL_SECONDS", "ClusterGenerations"]

log = logging.getLogger("rennet.generations")

CHANNEL = "rennet_generations"
LISTENER = "rennet generations listener"  # its application_name, as pg_stat_activity shows it
POLL_SECONDS = 5.0  # how often the table is compared, in case a notification was lost
RETRY_SECONDS = 1.0  # the pause before the writer or the listener try a database that failed again
_WAIT = 0.25  # how long the listener waits for notifications before it looks whether it should stop
_FLUSH_SECONDS = 5.0  # how long closing waits for announcements still pending
# libpq's keepalives: a listener whose database host vanished without closing the connection notices in ~11 s.
_INCREMENTED = table.c.value + 1
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


class ClusterGenerations:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._values = array("Q", bytes(8 * SLOTS))
        self._seen: dict[int, int] = {}  # row values of the table this process knows of
        self._lock = threading.Lock()
        self._origin = secrets.token_hex(8)  # tells this process's notifications from the others'
        self._pending: queue.SimpleQueue[int | None] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._deaf = False  # the listener lost the database (said once in the log, and once when it is back)

    def get(self, slot: int) -> int:
        return self._values[slot]

    def bump(self, slot: int) -> int:
        with self._lock:
            self._values[slot] += 1
            value = self._values[slot]
        if self._pending is None:
            self._announce([slot])  # a command: the change is announced before it returns
        else:
            self._pending.put(slot)
        return value

    def follow(self) -> None:
        """A serving process: announce changes from a thread (never on the event loop) and listen for others'."""
        if self._threads:
            return
        self._pending = queue.SimpleQueue()
        for target, name in ((self._write_forever, "writer"), (self._listen_forever, "listener")):
            thread = threading.Thread(target=target, name=f"rennet-generations-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        if self._pending is not None:
            self._pending.put(None)  # wakes the writer, which sends what is pending first
        for thread in self._threads:
            thread.join(_FLUSH_SECONDS + _WAIT)
        self._threads.clear()

    def caught_up(self) -> bool:
        """Whether this process has heard of every change the table records (blocking: one query)."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(table.c.slot, table.c.value)).all()
        with self._lock:
            return all(self._seen.get(slot, 0) >= value for slot, value in rows)

    # -- announcing ----------------------------------------------------------------------------------------------

    def _announce(self, slots: Iterable[int]) -> None:
        # In slot order: two writers lock the rows they share in the same order, so they never deadlock.
        values: dict[int, int] = {}
        with self._engine.begin() as connection:
            for slot in sorted(set(slots)):
                upsert = insert(table).values(slot=slot, value=1)
                upsert = upsert.on_conflict_do_update(
                    index_elements=[table.c.slot], set_={"value": table.c.value + 1}
                )
                values[slot] = connection.execute(upsert.returning(table.c.value)).scalar_one()
                payload = f"{slot} {values[slot]} {self._origin}"
                connection.execute(select(func.pg_notify(CHANNEL, payload)))
        with self._lock:
            for slot, value in values.items():
                self._seen[slot] = max(self._seen.get(slot, 0), value)

    def _write_forever(self) -> None:
        pending: set[int] = set()
        failing = False
        while True:
            stopping = self._take(pending, block=not pending)
            if pending:
                try:
                    self._announce(pending)
                except Exception as error:
                    if not failing or stopping:
                        log.error("cannot announce %d changed pages to other servers yet: %s", len(pending), error)
                    failing = True
                    if stopping:
                        return
                    self._stop.wait(RETRY_SECONDS)
                    continue
                pending.clear()
                failing = False
            if stopping:
                return

    def _take(self, pending: set[int], block: bool) -> bool:
        """Move what waits into `pending`; True once closing was asked for."""
        assert self._pending is not None
        stopping = self._stop.is_set()
        try:
            item = self._pending.get(timeout=_WAIT) if block else self._pending.get_nowait()
            while True:
                if item is None:
                    stopping = True
                else:
                    pending.add(item)
                item = self._pending.get_nowait()
        except queue.Empty:
            pass
        return stopping

    # -- listening -----------------------------------------------------------------------------------------------

    def _listen_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen_once()
            except Exception as error:
                if not self._deaf:
                    log.error("not hearing of other servers' changes until the database answers: %s", error)
                self._deaf = True
                self._stop.wait(RETRY_SECONDS)

    def _listen_once(self) -> None:
        connection, wait = _listening_connection(self._engine)
        try:
            self._catch_up(_rows(connection))
            if self._deaf:
                log.info("hearing of other servers' changes again")
                self._deaf = False
            polled = time.monotonic()
            while not self._stop.is_set():
                for payload in wait(_WAIT):
                    self._heard(payload)
                if time.monotonic() - polled >= POLL_SECONDS:
                    self._catch_up(_rows(connection))
                    polled = time.monotonic()
        finally:
            connection.close()

    def _heard(self, payload: str) -> None:
        slot_text, value_text, origin = payload.split(" ", 2)
        slot, value = int(slot_text), int(value_text)
        if not 0 <= slot < SLOTS:
            return
        with self._lock:
            if value > self._seen.get(slot, 0):
                self._seen[slot] = value
                if origin != self._origin:
                    self._values[slot] += 1

    def _catch_up(self, rows: Iterable[tuple[int, int]]) -> None:
        with self._lock:
            for slot, value in rows:
                if 0 <= slot < SLOTS and value > self._seen.get(slot, 0):
                    self._seen[slot] = value
                    self._values[slot] += 1


def _listening_connection(engine: Engine) -> tuple[Any, Callable[[float], Iterable[str]]]:
    """A connection of the engine's driver (psycopg 3 or psycopg2) of its own, outside the pool (it is held for
        the process's life), listening on CHANNEL; and how to wait on it for notifications' payloads (each as soon as
    it arrives)."""
    dialect = engine.dialect
    args, options = dialect.create_connect_args(engine.url)
    options = {"connect_timeout": CONNECT_TIMEOUT, "application_name": LISTENER, **_KEEPALIVES, **options}
    connection = dialect.loaded_dbapi.connect(*args, **options)
    connection.autocommit = True
    cursor = connection.cursor()
    cursor.execute(f"LISTEN {CHANNEL}")
    cursor.close()
    if dialect.driver == "psycopg2":
        return connection, lambda timeout: _psycopg2_notifications(connection, timeout)
    return connection, lambda timeout: (note.payload for note in connection.notifies(timeout=timeout))


def _psycopg2_notifications(connection: Any, timeout: float) -> list[str]:
    readable, _, _ = selectors.select([connection], [], [], timeout)
    if readable:
        connection.poll()
    payloads = [note.payload for note in connection.notifies]
    connection.notifies.clear()
    return payloads


def _rows(connection: Any) -> list[tuple[int, int]]:
    cursor = connection.cursor()
    try:
        cursor.execute("SELECT slot, value FROM generations")
        return [(int(slot), int(value)) for slot, value in cursor.fetchall()]
    finally:
        cursor.close()
