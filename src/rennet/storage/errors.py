"""A full disk, named as such wherever storage writes: blobs, temporary files, rendered lists, the database.

Without it a full disk surfaces as whatever OSError or driver error the write met, and a client gets a 500 that
says nothing. Every writer removes what it had written before raising (no partial file stays).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["AccountError", "StorageFull", "full_disk_named"]

_FULL = (errno.ENOSPC, errno.EDQUOT)


class AccountError(ValueError):
    """The accounts refuse a change (a user that exists already, a token that does not), with the reason."""


class StorageFull(Exception):
    """The disk (or the quota) of the data directory or the database is full."""


@contextmanager
def full_disk_named(what: str) -> Iterator[None]:
    """Turn "no space left" in the block into StorageFull, naming what could not be written."""
    try:
        yield
    except OSError as error:
        if error.errno in _FULL:
            raise StorageFull(f"no space left to write {what}") from None
        raise
