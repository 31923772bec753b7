"""Who may read and who may upload, per index (pure rules; authentication happens at the edge).

Reads are anonymous unless an index is private. Uploads always need an identity allowed to upload there.
A token narrows its user's rights: to one index, and to reading only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rennet.domain.indexes import ANYONE, HostedIndex, IndexConfig, readers_of

__all__ = ["ANYONE", "Access", "Identity", "allowed"]


class Access(StrEnum):
    READ = "read"
    UPLOAD = "upload"


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    admin: bool = False
    token_index: str | None = None  # a token limited to one index
    token_scope: Access | None = None  # None: logged in with a password, the user's full rights


def allowed(identity: Identity | None, index: IndexConfig, access: Access) -> bool:
    if access is Access.READ and not index.private:
        return True
    if identity is None:
        return False
    if identity.token_index is not None and identity.token_index != index.name:
        return False
    if access is Access.UPLOAD and identity.token_scope is Access.READ:
        return False
    if identity.admin:
        return True
    if access is Access.UPLOAD:
        return isinstance(index, HostedIndex) and identity.user in index.uploaders
    readers = readers_of(index)
    return ANYONE in readers or identity.user in readers
