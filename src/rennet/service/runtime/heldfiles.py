"""Where held files are, remembered per worker so that a download of a cached file needs no database query.

An entry is trusted while the generation of its project is unchanged: anything that could change which bytes a
file name stands for (a refresh that changes a hash, eviction, deletion, verification) bumps it.
"""

from __future__ import annotations

from collections import OrderedDict

from rennet.storage.generations import Generation

__all__ = ["HeldFiles"]

Key = tuple[str, str, str]  # index, project, filename (".metadata" suffix for metadata files)


class HeldFiles:
    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[Key, tuple[str, Generation]] = OrderedDict()

    def get(self, key: Key, dependency: Generation) -> str | None:
        """The sha256 of the held file, if it was recorded under the same generation."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] != dependency:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: Key, sha256: str, dependency: Generation) -> None:
        self._entries[key] = (sha256, dependency)
        self._entries.move_to_end(key)
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def forget(self, key: Key) -> None:
        self._entries.pop(key, None)
