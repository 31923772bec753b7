"""OSV records read into advisories, and which versions they name (the schema's range evaluation)."""

from __future__ import annotations

from typing import Any

import pytest
from packaging.version import Version

from rennet.domain.advisories import (
    InvalidAdvisory,
    affects,
    describe_affected,
    from_row,
    parse_osv,
    to_row,
)


def record(ident: str = "GHSA-aaaa-bbbb-cccc", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": ident,
        "modified": "2026-11-30T10:00:00Z",
        "summary": "remote code execution",
        "aliases": ["CVE-2026-0001"],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Some_Thing"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.2.3"}]}],
                "versions": ["1.0", "1.1"],
            }
        ],
    }
    return base | fields


def versions_named(events: list[dict[str, str]], *candidates: str) -> list[str]:
    (advisory,) = parse_osv(
        record(
            affected=[
                {"package": {"ecosystem": "PyPI", "name": "x"}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
            ]
        )
    )
    return [c for c in candidates if affects(advisory, Version(c))]


def test_a_record_becomes_one_advisory_per_python_project() -> None:
    data = record()
    data["affected"].append({"package": {"ecosystem": "npm", "name": "some-thing"}, "versions": ["1.0"]})
    (advisory,) = parse_osv(data)
    assert (advisory.id, advisory.project, advisory.aliases) == (
        "GHSA-aaaa-bbbb-cccc",
        "some-thing",
        ("CVE-2026-0001",),
    )
    assert advisory.fixed_in == ("1.2.3",)
    assert not advisory.malicious and advisory.withdrawn is None
    assert from_row(to_row(advisory)) == advisory
    assert parse_osv(record(affected=[{"package": {"ecosystem": "Go", "name": "x"}, "versions": ["1"]}])) == []


@pytest.mark.parametrize(
    ("events", "named"),
    [
        ([{"introduced": "0"}], ["0.1", "1.0", "1.1", "1.2.3rc1", "1.2.3", "2.0rc1", "2.0", "2.1", "9"]),
        ([{"introduced": "1.0"}, {"fixed": "1.2.3"}], ["1.0", "1.1", "1.2.3rc1"]),
        ([{"introduced": "0"}, {"last_affected": "1.1"}], ["0.1", "1.0", "1.1"]),
        ([{"introduced": "1.0"}, {"fixed": "1.1"}, {"introduced": "2.0"}, {"fixed": "2.1"}], ["1.0", "2.0"]),
        ([{"fixed": "1.1"}, {"introduced": "1.0"}], ["1.0"]),  # events in any order
        ([{"introduced": "0"}, {"limit": "2.0"}], ["0.1", "1.0", "1.1", "1.2.3rc1", "1.2.3", "2.0rc1"]),
    ],
)
def test_ranges_are_evaluated_as_the_schema_says(events: list[dict[str, str]], named: list[str]) -> None:
    assert versions_named(events, "0.1", "1.0", "1.1", "1.2.3rc1", "1.2.3", "2.0rc1", "2.0", "2.1", "9") == named


def test_listed_versions_match_by_pep_440_equality() -> None:
    (advisory,) = parse_osv(record(affected=[{"package": {"ecosystem": "PyPI", "name": "x"}, "versions": ["1.0"]}]))
    assert affects(advisory, Version("1.0.0")) and affects(advisory, Version("1.0"))
    assert not affects(advisory, Version("1.0.1"))
    assert not affects(advisory, None)


def test_a_malicious_package_report_names_even_files_whose_version_cannot_be_read() -> None:
    (advisory,) = parse_osv(record("MAL-2026-1234"))
    assert advisory.malicious
    assert affects(advisory, None)


def test_withdrawn_records_say_when() -> None:
    (advisory,) = parse_osv(record(withdrawn="2026-12-01T00:00:00+00:00"))
    assert advisory.withdrawn == 1796083200.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "an OSV record is a JSON object"),
        (record(id=5), "id must be a string"),
        (record(modified=None), "modified must be an RFC 3339 time and is required"),
        (record(modified="yesterday"), "modified 'yesterday' is not an RFC 3339 time"),
        (record(modified="2026-11-30T10:00:00"), "names no time zone"),
        (record(aliases="CVE-1"), "aliases must be a list of strings"),
        (record(affected={"package": 1}), "affected must be a list"),
        (record(affected=[{"package": {"ecosystem": "PyPI"}}]), "a PyPI package of affected has no name"),
        (record(affected=[{"package": {"ecosystem": "PyPI", "name": "x"}}]), "names no versions and no ranges"),
        (
            record(
                affected=[
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "one"}]}],
                    }
                ]
            ),
            "'one' in a range is not a PEP 440 version",
        ),
        (
            record(
                affected=[
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"broken": "1"}]}],
                    }
                ]
            ),
            "unknown range event 'broken'",
        ),
    ],
)
def test_malformed_records_are_named(data: Any, message: str) -> None:
    with pytest.raises(InvalidAdvisory, match=message):
        parse_osv(data)


def test_affected_versions_are_described_for_people() -> None:
    (advisory,) = parse_osv(record())
    assert describe_affected(advisory) == ">=1.0 <1.2.3; versions 1.0, 1.1"
    (every,) = parse_osv(
        record(
            "MAL-2026-1",
            affected=[
                {
                    "package": {"ecosystem": "PyPI", "name": "x"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                }
            ],
        )
    )
    assert describe_affected(every) == "every version"


def test_the_rule_holds_back_what_the_index_blocks_and_names_the_advisory() -> None:
    from rennet.domain.advisories import AdvisoryRule
    from rennet.domain.files import DistFile
    from rennet.domain.names import canonical_name

    (malicious,) = parse_osv(record("MAL-2026-9", summary="steals tokens"))
    (vulnerable,) = parse_osv(record("GHSA-x"))
    (withdrawn,) = parse_osv(record("MAL-2026-10", withdrawn="2026-12-02T00:00:00Z"))
    project, wheel = canonical_name("some-thing"), DistFile("some_thing-1.1-py3-none-any.whl", "pypi")
    fixed = DistFile("some_thing-1.2.3-py3-none-any.whl", "pypi")

    hold = AdvisoryRule("pypi", (withdrawn, vulnerable, malicious)).judge(project, wheel, 0.0)
    assert hold is not None and hold.refusal.rule == "advisory"
    assert hold.refusal.message == (
        "some_thing-1.1-py3-none-any.whl is blocked by index 'pypi': advisory MAL-2026-9 reports it as malicious: "
        "steals tokens"
    )
    assert AdvisoryRule("pypi", (malicious,)).judge(project, fixed, 0.0) is None
    assert AdvisoryRule("pypi", (vulnerable, withdrawn)).judge(project, wheel, 0.0) is None
    assert AdvisoryRule("pypi", (malicious,), malicious=False).judge(project, wheel, 0.0) is None
    strict = AdvisoryRule("pypi", (vulnerable,), vulnerable=True).judge(project, wheel, 0.0)
    assert strict is not None and "advisory GHSA-x reports a vulnerability in it" in strict.refusal.message
