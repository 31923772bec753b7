"""The errors a service answers with: a status and a sentence for people, never a traceback."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["NotFound", "ServiceError", "Unavailable"]


class ServiceError(Exception):
    """A request that cannot be answered with content: `status`, a sentence for people, and response headers."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers) if headers else {}


class NotFound(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class Unavailable(ServiceError):
    """Something rennet depends on cannot be used now: the database (503, and when to try again) or the disk
    (507). Pages served before stay served meanwhile."""

    def __init__(self, message: str, status: int = 503, retry_after: int | None = None) -> None:
        super().__init__(status, message, {"Retry-After": str(retry_after)} if retry_after is not None else None)
