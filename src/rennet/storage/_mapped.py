"""Files shared between processes as memory: their disk blocks taken when they are mapped, not when written."""

from __future__ import annotations

import mmap
import os


def map_allocated(fd: int, size: int) -> mmap.mmap:
    """A shared mapping of the file's first `size` bytes, each of its blocks allocated now. A sparse file's page
    is allocated by the first write to it, and on a full disk that write kills the process (SIGBUS) instead of
    failing: taking the space up front turns running out into an OSError here, once."""
    if os.fstat(fd).st_size < size:
        os.ftruncate(fd, size)
    os.posix_fallocate(fd, 0, size)
    return mmap.mmap(fd, size)
