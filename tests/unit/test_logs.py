"""The log's two formats, request ids on records, and which request ids are kept."""

from __future__ import annotations

import io
import json
import logging
import re
import sys

import pytest

from rennet.web.logs import JsonFormatter, RequestIdFilter, TextFormatter, json_time
from rennet.web.requestids import (
    MAX_LENGTH,
    current_request_id,
    new_request_id,
    request_id_from,
    restore,
    with_request_id,
)


def _record(message: str = "hello %s", exc_info: bool = False) -> logging.LogRecord:
    record = logging.LogRecord("rennet.proxy", logging.WARNING, __file__, 1, message, ("world",), None)
    if exc_info:
        try:
            raise ValueError("broken")
        except ValueError:
            record.exc_info = sys.exc_info()
    RequestIdFilter().filter(record)
    return record


def test_records_carry_the_id_of_the_request_being_handled() -> None:
    assert _record().request_id is None  # type: ignore[attr-defined]
    token = with_request_id("abc-1")
    try:
        assert _record().request_id == "abc-1"  # type: ignore[attr-defined]
        assert current_request_id() == "abc-1"
    finally:
        restore(token)
    assert current_request_id() is None


def test_a_text_line_ends_with_the_request_id_when_there_is_one() -> None:
    assert TextFormatter().format(_record()).endswith("WARNING rennet.proxy: hello world")
    token = with_request_id("abc-1")
    try:
        line = TextFormatter().format(_record(exc_info=True))
    finally:
        restore(token)
    first, *traceback = line.splitlines()
    assert first.endswith("WARNING rennet.proxy: hello world request=abc-1")
    assert traceback[-1] == "ValueError: broken"


def test_a_json_line_is_one_object_with_the_fields() -> None:
    token = with_request_id("abc-1")
    try:
        line = JsonFormatter().format(_record('say "%s"\n', exc_info=True))
    finally:
        restore(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry.pop("exception").endswith("ValueError: broken")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry.pop("time"))
    assert entry == {"level": "WARNING", "logger": "rennet.proxy", "message": 'say "world"\n', "request_id": "abc-1"}
    assert "request_id" not in json.loads(JsonFormatter().format(_record()))


def test_json_times_are_utc_with_milliseconds() -> None:
    assert json_time(0) == "1970-01-01T00:00:00.000Z"
    assert json_time(86400 * 365 + 1.25) == "1971-01-01T00:00:01.250Z"


def test_configure_logging_writes_the_chosen_format_with_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    from rennet.web.logs import configure_logging

    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    saved = logging.getLogger().handlers[:], logging.getLogger().level
    try:
        configure_logging("info", "json")
        token = with_request_id("abc-2")
        try:
            logging.getLogger("rennet.test").info("inside")
        finally:
            restore(token)
    finally:
        root = logging.getLogger()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert json.loads(stream.getvalue())["request_id"] == "abc-2"


@pytest.mark.parametrize(
    "given", [b"abc-123", b"3f2504e0-4f89-11d3-9a0c-0305e82c3301", b"Root=1-678/abc+def=", b"a" * MAX_LENGTH]
)
def test_a_reasonable_request_id_is_kept(given: bytes) -> None:
    assert request_id_from([(b"accept", b"*/*"), (b"x-request-id", given)]) == given.decode()


@pytest.mark.parametrize(
    "given", [b"", b"a b", b'a"b', b"a\\b", b"a,b", b"a;b", b"a\x00b", "é".encode(), b"a" * (MAX_LENGTH + 1)]
)
def test_an_unreasonable_request_id_is_replaced(given: bytes) -> None:
    replaced = request_id_from([(b"x-request-id", given)])
    assert replaced != given.decode("latin-1")
    assert re.fullmatch(r"[0-9a-f]{12}-[0-9a-f]+", replaced)


def test_new_request_ids_differ() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert len({request_id.split("-")[0] for request_id in ids}) == 1, "one prefix per process"
