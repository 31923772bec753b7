"""Change counters shared through one memory-mapped file."""

from __future__ import annotations

import os
from pathlib import Path

from rennet.storage.generations import SLOTS, HostGenerations, slot_of


def test_bump_is_seen_by_another_instance_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "generations"
    writer, reader = HostGenerations(path), HostGenerations(path)
    slot = slot_of("pypi", "foo")
    assert reader.get(slot) == 0
    assert writer.bump(slot) == 1
    assert reader.get(slot) == 1
    assert reader.bump(slot) == 2
    assert writer.get(slot) == 2
    writer.close()
    reader.close()


def test_counters_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "generations"
    first = HostGenerations(path)
    for _ in range(3):
        first.bump(7)
    first.close()
    again = HostGenerations(path)
    assert again.get(7) == 3
    assert again.get(8) == 0
    again.close()


def test_slots_are_independent(tmp_path: Path) -> None:
    generations = HostGenerations(tmp_path / "g")
    generations.bump(0)
    generations.bump(SLOTS - 1)
    generations.bump(SLOTS - 1)
    assert [generations.get(0), generations.get(1), generations.get(SLOTS - 1)] == [1, 0, 2]
    generations.close()


def test_the_file_is_sized_for_every_slot(tmp_path: Path) -> None:
    path = tmp_path / "g"
    path.write_bytes(b"\x05\x00")  # a short leftover is extended, not trusted beyond its length
    generations = HostGenerations(path)
    assert os.path.getsize(path) == SLOTS * 8
    assert generations.get(0) == 5
    assert generations.get(SLOTS - 1) == 0
    generations.close()


def test_slot_is_stable_and_in_range() -> None:
    assert slot_of("pypi", "foo") == slot_of("pypi", "foo")
    assert slot_of("pypi") == slot_of("pypi", "")
    slots = {slot_of("pypi", f"project-{i}") for i in range(2000)}
    assert all(0 <= s < SLOTS for s in slots)
    assert len(slots) > 1000  # spread, so that unrelated pages rarely share a counter
    # The separator keeps ("ab", "c") and ("a", "bc") apart.
    assert slot_of("ab", "c") != slot_of("a", "bc")
