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
    """Something rennet depends on (the database) is down for now: 503, and when to try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(503, message, {"Retry-After": str(retry_after)})
