"""Single byte ranges (RFC 9110, 14), the way uv and poetry ask for the end of a wheel."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rennet.domain.ranges import ByteRange, Unsatisfiable, parse_range


def _slice(data: bytes, header: str | None) -> bytes:
    chosen = parse_range(header, len(data))
    return data if chosen is None else data[chosen.start : chosen.end + 1]


DATA = bytes(range(100))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=10-19", ByteRange(10, 19)),
        ("bytes=99-99", ByteRange(99, 99)),
        ("bytes=50-", ByteRange(50, 99)),
        ("bytes=0-", ByteRange(0, 99)),
        ("bytes=90-1000", ByteRange(90, 99)),  # the last position is clamped to the end
        ("bytes=-1", ByteRange(99, 99)),
        ("bytes=-10", ByteRange(90, 99)),
        ("bytes=-100", ByteRange(0, 99)),
        ("bytes=-5000", ByteRange(0, 99)),  # a suffix longer than the file means all of it
        ("Bytes=1-2", ByteRange(1, 2)),
        ("BYTES = 1-2", ByteRange(1, 2)),
        (" bytes= 3-4 ", ByteRange(3, 4)),
        ("bytes=007-008", ByteRange(7, 8)),
        # Positions too long for int() still mean "past the end".
        ("bytes=0-" + "9" * 5000, ByteRange(0, 99)),
        ("bytes=-" + "9" * 5000, ByteRange(0, 99)),
        ("bytes=0-" + "0" * 5000 + "5", ByteRange(0, 5)),
    ],
)
def test_satisfiable_ranges(header: str, expected: ByteRange) -> None:
    assert parse_range(header, len(DATA)) == expected


def test_content_range_and_length() -> None:
    chosen = parse_range("bytes=10-19", 100)
    assert chosen is not None
    assert chosen.length == 10
    assert chosen.content_range(100) == "bytes 10-19/100"
    suffix = parse_range("bytes=-4096", 100_000)
    assert suffix is not None
    assert suffix.content_range(100_000) == "bytes 95904-99999/100000"


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=100-", 100),
        ("bytes=100-200", 100),
        ("bytes=1000-1001", 100),
        ("bytes=-0", 100),  # an empty suffix asks for nothing
        ("bytes=0-0", 0),  # an empty file has no first byte
        ("bytes=0-", 0),
        ("bytes=-1", 0),
        ("bytes=" + "9" * 5000 + "-", 100),
        ("bytes=" + "9" * 5000 + "-" + "9" * 5001, 100),
    ],
)
def test_unsatisfiable_ranges_mean_416(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=abc",
        "bytes=1",
        "bytes=5-4",  # last before first: invalid, so ignored
        "bytes=1-2-3",
        "bytes=-1-2",
        "bytes=+1-2",
        "bytes=1--2",
        "bytes=1.5-2",
        "bytes=0x10-0x20",
        "bytes=1_0-20",
        "bytes=1 0-20",
        "items=0-10",
        "0-10",
        "bytes=0-1,5-6",  # multi-range: the whole file is a valid answer
        "bytes=0-1, 5-6",
        "bytes=-5,0-1",
        "bytes=,0-1",
        "bytes=\u00b2-",  # superscript two: str.isdigit() says yes, int() says no
        "bytes=0-\u00b3",
        "bytes=\u0661-\u0662",  # Arabic-Indic digits are not RFC 9110 DIGITs
        "bytes=\uff11-\uff12",  # fullwidth digits
        "bytes=" + "9" * 5001 + "-" + "9" * 5000,  # backwards, however long
    ],
)
def test_malformed_and_multi_ranges_are_ignored(header: str | None) -> None:
    assert parse_range(header, len(DATA)) is None


# -- properties against a reference slice -------------------------------------------------------------------------


@given(st.binary(max_size=300), st.data())
def test_first_last_matches_a_slice(data: bytes, draw: st.DataObject) -> None:
    first = draw.draw(st.integers(0, 400))
    last = draw.draw(st.integers(first, 800))
    header = f"bytes={first}-{last}"
    if first >= len(data):
        with pytest.raises(Unsatisfiable):
            parse_range(header, len(data))
        return
    chosen = parse_range(header, len(data))
    assert chosen is not None
    assert data[chosen.start : chosen.end + 1] == data[first : last + 1]
    assert chosen.length == len(data[first : last + 1])
    assert chosen.content_range(len(data)) == f"bytes {first}-{min(last, len(data) - 1)}/{len(data)}"


@given(st.binary(max_size=300), st.integers(0, 400))
def test_open_ended_matches_a_slice(data: bytes, first: int) -> None:
    if first >= len(data):
        with pytest.raises(Unsatisfiable):
            parse_range(f"bytes={first}-", len(data))
    else:
        assert _slice(data, f"bytes={first}-") == data[first:]


@given(st.binary(max_size=300), st.integers(0, 400))
def test_suffix_matches_a_slice(data: bytes, suffix: int) -> None:
    if suffix == 0 or not data:
        with pytest.raises(Unsatisfiable):
            parse_range(f"bytes=-{suffix}", len(data))
    else:
        assert _slice(data, f"bytes=-{suffix}") == data[-suffix:]


@given(st.binary(max_size=50), st.integers(0, 60), st.integers(0, 60))
def test_backwards_range_is_ignored(data: bytes, first: int, gap: int) -> None:
    last = first - gap - 1
    if last >= 0:
        assert parse_range(f"bytes={first}-{last}", len(data)) is None


@given(st.text(max_size=40), st.integers(0, 1000))
def test_any_header_gives_a_range_inside_the_file_or_none_or_416(header: str, size: int) -> None:
    try:
        chosen = parse_range(header, size)
    except Unsatisfiable:
        return
    if chosen is not None:
        assert 0 <= chosen.start <= chosen.end < size


@given(st.from_regex(r"\Abytes=[0-9]{0,4}-[0-9]{0,4}(,[0-9]{0,4}-[0-9]{0,4})?\Z"), st.integers(0, 1000))
def test_range_shaped_headers_give_a_range_inside_the_file_or_none_or_416(header: str, size: int) -> None:
    try:
        chosen = parse_range(header, size)
    except Unsatisfiable:
        assert "," not in header
        return
    if chosen is not None:
        assert "," not in header
        assert 0 <= chosen.start <= chosen.end < size
