"""The server's log: plain lines (the default) or one JSON object per line, with the request id when known.

Text: `2026-12-10 16:04:33,123 INFO rennet.proxy: message request=<id>`. JSON: {"time", "level", "logger",
"message", "request_id"?, "exception"?}, the time in UTC (ISO 8601, milliseconds). Access lines are written by
rennet.web.accesslog in batches, in the same two shapes (JSON ones add their fields: client, method, path,
status, bytes, ms, cache).
"""

from __future__ import annotations

import json
import logging
import time
from json.encoder import encode_basestring_ascii as json_string  # C-accelerated: access lines use it per request

from rennet.web.requestids import current_request_id

__all__ = [
    "JsonFormatter",
    "RequestIdFilter",
    "TextFormatter",
    "configure_logging",
    "json_string",
    "json_time",
    "utc_second",
]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Puts the id of the request being handled (None outside one) on each record, as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class TextFormatter(logging.Formatter):
    """The plain format, with ` request=<id>` at the end of the first line of records emitted in a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} request={request_id}" if request_id else line


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback goes into "exception")."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": json_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry)


def json_time(seconds: float) -> str:
    """UTC, ISO 8601 with milliseconds: 2026-12-10T16:04:33.123Z."""
    whole = int(seconds)
    return f"{utc_second(whole)}.{int((seconds - whole) * 1000):03d}Z"


def utc_second(seconds: int) -> str:
    """The second in UTC, ISO 8601: 2026-12-10T16:04:33 (JSON lines add milliseconds and Z)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def configure_logging(level: str, log_format: str = "text") -> None:
    """The root handler on standard error, in the chosen format, with request ids."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Alembic narrates every migration step at INFO; only its warnings matter to an operator.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
