"""Supply-chain policy rules: what `deny` and `min_age` hold back, the sentences they say, and the instant a
held-back file appears by itself."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from packaging.version import Version

from rennet.config import load_settings
from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.indexes import GroupIndex, HostedIndex, ProxyIndex, policy_of
from rennet.domain.names import NormalizedName
from rennet.domain.policy import (
    Deny,
    MinAge,
    Policy,
    Snapshot,
    describe_duration,
    parse_denial,
    parse_exemption,
    parse_instant,
)
from tests.support.readme import readme_block

DAY = 86400.0
UPLOADED = datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC)
NOW = UPLOADED.timestamp() + 2 * DAY  # two days after the upload


def file(filename: str, uploaded: datetime | None = UPLOADED, seen: datetime | None = None) -> DistFile:
    return DistFile(filename, "pypi", upload_time=uploaded, first_seen=seen)


def page(*files: DistFile) -> ProjectPage:
    return ProjectPage(NormalizedName("foo"), files, versions=("1.0", "2.0"))


def cooldown(days: float = 7, *exempt: str) -> Policy:
    return Policy((MinAge("pypi", days * DAY, frozenset(parse_exemption(e) for e in exempt)),))


def denying(*texts: str, index: str = "pypi") -> Policy:
    return Policy((Deny(index, tuple(parse_denial(t) for t in texts)),))


def test_no_rules_is_false_and_shows_everything() -> None:
    assert not Policy()
    screened = Policy().screen(page(file("foo-1.0.tar.gz")), NOW)
    assert [f.filename for f in screened.page.files] == ["foo-1.0.tar.gz"]
    assert screened.hidden == {}
    assert screened.changes_at == math.inf


def test_a_file_younger_than_min_age_is_held_back_until_it_crosses() -> None:
    old = file("foo-1.0.tar.gz", datetime(2026, 11, 1, tzinfo=UTC))
    new = file("foo-2.0.tar.gz")
    screened = cooldown().screen(page(old, new), NOW)
    assert [f.filename for f in screened.page.files] == ["foo-1.0.tar.gz"]
    assert screened.page.versions == ("1.0", "2.0")  # the page's own fields stay
    refusal = screened.hidden["foo-2.0.tar.gz"]
    assert (refusal.rule, refusal.index) == ("min_age", "pypi")
    assert refusal.message == (
        "foo-2.0.tar.gz is held back by index 'pypi''s min_age of 7 days: it was uploaded 2026-12-05T10:00:00Z "
        "and may be installed from 2026-12-12T10:00:00Z"
    )
    crossing = UPLOADED.timestamp() + 7 * DAY
    assert screened.changes_at == crossing
    # At the crossing instant (not a second later) the file is offered.
    assert cooldown().screen(page(old, new), crossing - 1).hidden.keys() == {"foo-2.0.tar.gz"}
    after = cooldown().screen(page(old, new), crossing)
    assert [f.filename for f in after.page.files] == ["foo-1.0.tar.gz", "foo-2.0.tar.gz"]
    assert after.changes_at == math.inf


def test_the_earliest_crossing_is_when_the_page_changes() -> None:
    later = file("foo-2.0.tar.gz", datetime(2026, 12, 6, 10, tzinfo=UTC))
    earlier = file("foo-1.0.tar.gz")
    assert cooldown().screen(page(later, earlier), NOW).changes_at == UPLOADED.timestamp() + 7 * DAY


def test_without_an_upload_time_the_first_sighting_counts() -> None:
    seen = file("foo-1.0.tar.gz", None, UPLOADED)
    refusal = cooldown().screen(page(seen), NOW).hidden["foo-1.0.tar.gz"]
    assert refusal.message == (
        "foo-1.0.tar.gz is held back by index 'pypi''s min_age of 7 days: it was first seen by rennet (its index "
        "states no upload time) 2026-12-05T10:00:00Z and may be installed from 2026-12-12T10:00:00Z"
    )


def test_an_upload_time_later_than_the_first_sighting_is_not_believed() -> None:
    """A time rennet recorded on download (or an upstream's odd claim) never hides a file offered before."""
    sighted_long_ago = file("foo-1.0.tar.gz", datetime(2026, 12, 6, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    assert cooldown().screen(page(sighted_long_ago), NOW).hidden == {}


def test_a_file_of_unknown_age_is_held_back_for_good() -> None:
    screened = cooldown().screen(page(file("foo-1.0.tar.gz", None, None)), NOW)
    assert screened.hidden["foo-1.0.tar.gz"].message.endswith("min_age of 7 days: its upload time is unknown")
    assert screened.changes_at == math.inf


def test_exemptions_name_a_project_or_one_pinned_version() -> None:
    one, two = file("foo-1.0.0-py3-none-any.whl"), file("foo-2.0.tar.gz")
    assert cooldown(7, "foo").screen(page(one, two), NOW).hidden == {}
    pinned = cooldown(7, "Foo==1.0").screen(page(one, two), NOW)  # 1.0 is 1.0.0, and names are normalized
    assert list(pinned.hidden) == ["foo-2.0.tar.gz"]
    assert cooldown(7, "bar").screen(page(one, two), NOW).hidden.keys() == {one.filename, two.filename}


@pytest.mark.parametrize(
    ("rule", "denied"),
    [
        ("foo", {"foo-1.0.tar.gz", "foo-1.2.3-py3-none-any.whl", "foo-2.0rc1.tar.gz", "foo-weird.tar.gz"}),
        ("FOO", {"foo-1.0.tar.gz", "foo-1.2.3-py3-none-any.whl", "foo-2.0rc1.tar.gz", "foo-weird.tar.gz"}),
        ("foo==1.2.*", {"foo-1.2.3-py3-none-any.whl", "foo-weird.tar.gz"}),
        ("foo>1.5", {"foo-2.0rc1.tar.gz", "foo-weird.tar.gz"}),  # a pre-release is a version like any other
        ("bar", set()),
    ],
)
def test_deny_matches_names_and_specifiers(rule: str, denied: set[str]) -> None:
    """A file whose version cannot be read might be any version: a rule on its project refuses it."""
    files = [
        file(n) for n in ("foo-1.0.tar.gz", "foo-1.2.3-py3-none-any.whl", "foo-2.0rc1.tar.gz", "foo-weird.tar.gz")
    ]
    screened = denying(rule).screen(page(*files), NOW)
    assert set(screened.hidden) == denied
    assert screened.changes_at == math.inf
    for filename in denied:
        refusal = screened.hidden[filename]
        assert refusal.rule == "deny"
        assert refusal.message == f"{filename} is denied by index 'pypi''s deny rule {rule!r}"


def test_a_group_cooldown_judges_the_files_of_its_proxies_only() -> None:
    rule = MinAge("default", 7 * DAY, upstreams=frozenset({"pypi"}))
    private = DistFile("foo-2.0.tar.gz", "local", upload_time=UPLOADED)
    assert Policy((rule,)).screen(page(file("foo-1.0.tar.gz"), private), NOW).hidden.keys() == {"foo-1.0.tar.gz"}


def test_only_projects_denied_whole_leave_the_project_list() -> None:
    assert denying("foo", "Bar_Baz", "qux<2").unlisted == {"foo", "bar-baz"}
    assert Policy((*cooldown().rules,)).unlisted == frozenset()


def test_deny_is_asked_before_the_cooldown_and_names_itself() -> None:
    rules = Policy((*denying("foo").rules, *cooldown().rules))
    assert rules.screen(page(file("foo-2.0.tar.gz")), NOW).hidden["foo-2.0.tar.gz"].rule == "deny"


def test_uploads_are_judged_by_deny_only() -> None:
    rules = Policy((*denying("foo<2", index="local").rules, *cooldown().rules))
    refusal = rules.upload_refusal(NormalizedName("foo"), Version("1.5"), "foo-1.5.tar.gz")
    assert refusal is not None
    assert refusal.message == "foo-1.5.tar.gz is denied by index 'local''s deny rule 'foo<2'"
    assert rules.upload_refusal(NormalizedName("foo"), Version("2.0"), "foo-2.0.tar.gz") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo>=1", "'foo>=1' is neither a project name nor a name==version pin"),
        ("foo==1.*", "'foo==1.*' is neither a project name nor a name==version pin"),
        ("", "'' is neither a project name nor a name==version pin"),
    ],
)
def test_bad_exemptions(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$".replace("*", r"\*")):
        parse_exemption(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo=>1", "'foo=>1' is not a project name or a requirement specifier: Expected"),
        ("foo[x]", r"'foo\[x\]': a deny rule names a project and versions only \(no extras, markers or URL\)"),
        ("foo @ https://example.test/f.whl", "a deny rule names a project and versions only"),
    ],
)
def test_bad_denials(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse_denial(text)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(7 * DAY, "7 days"), (DAY, "1 day"), (36 * 3600, "36 hours"), (90 * 60, "90 minutes"), (1.5, "1.5 seconds")],
)
def test_describe_duration(seconds: float, text: str) -> None:
    assert describe_duration(seconds) == text


def test_settings_make_each_index_its_policy(tmp_path: pytest.TempPathFactory) -> None:
    config = tmp_path / "rennet.toml"  # type: ignore[operator]
    config.write_text(
        '[index.pypi]\nmin_age = "7d"\nmin_age_exempt = ["urgent", "pinned==1.0"]\ndeny = ["evil", "bad==1.*"]\n'
        '[index.local]\ndeny = ["leaked"]\n'
        '[index.default]\nmin_age = "1h"\n'
    )
    indexes = load_settings(env={}, config_file=config).indexes
    pypi, local, group = indexes["pypi"], indexes["local"], indexes["default"]
    assert isinstance(pypi, ProxyIndex) and isinstance(local, HostedIndex) and isinstance(group, GroupIndex)
    assert pypi.min_age == 7 * DAY
    assert pypi.min_age_exempt == {parse_exemption("urgent"), parse_exemption("pinned==1.0")}
    assert [d.text for d in pypi.deny] == ["evil", "bad==1.*"]
    assert [type(rule).__name__ for rule in policy_of(pypi).rules] == ["Deny", "MinAge"]
    assert [type(rule).__name__ for rule in policy_of(local).rules] == ["Deny"]
    (group_rule,) = policy_of(group, frozenset({"pypi"})).rules
    assert isinstance(group_rule, MinAge) and group_rule.upstreams == frozenset({"pypi"})
    assert not policy_of(ProxyIndex("plain", upstream="http://u.test/simple/"))


def test_the_readme_example_is_a_valid_configuration(tmp_path: pytest.TempPathFactory) -> None:
    config = tmp_path / "rennet.toml"  # type: ignore[operator]
    config.write_text(readme_block("toml", "## Supply-chain policy"))
    indexes = load_settings(env={}, config_file=config).indexes
    assert [type(rule).__name__ for rule in policy_of(indexes["pypi"]).rules] == ["Deny", "MinAge"]


def test_a_snapshot_keeps_what_was_uploaded_by_its_instant() -> None:
    instant = UPLOADED.timestamp()
    at = file("foo-1.0.tar.gz")  # uploaded at the very instant: in
    later = file("foo-2.0.tar.gz", datetime(2026, 12, 5, 10, 0, 1, tzinfo=UTC))
    seen_later = file("foo-3.0.tar.gz", None, datetime(2026, 12, 6, tzinfo=UTC))
    unknown = file("foo-4.0.tar.gz", None, None)
    screened = Policy((Snapshot("default", instant),)).screen(page(at, later, seen_later, unknown), NOW)
    assert [f.filename for f in screened.page.files] == ["foo-1.0.tar.gz"]
    assert screened.changes_at == math.inf  # a snapshot never changes by itself
    messages = {name: refusal.message for name, refusal in screened.hidden.items()}
    rule = "is not in the snapshot of index 'default' at 2026-12-05T10:00:00Z: it was"
    assert messages == {
        "foo-2.0.tar.gz": f"foo-2.0.tar.gz {rule} uploaded 2026-12-05T10:00:01Z",
        "foo-3.0.tar.gz": f"foo-3.0.tar.gz {rule} first seen by rennet (its index states no upload time) "
        "2026-12-06T00:00:00Z",
        "foo-4.0.tar.gz": f"foo-4.0.tar.gz {rule} at an unknown time",
    }


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01t10:00:00z", datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01T10:00:00+02:00", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("2026-12-01T10:00:00.25Z", datetime(2026, 12, 1, 10, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_snapshot_instants(text: str, moment: datetime) -> None:
    assert parse_instant(text) == moment.timestamp()


@pytest.mark.parametrize("text", ["2026-12-01T10:00:00", "20261201", "2026-12-01 10:00:00Z", "yesterday", ""])
def test_bad_snapshot_instants(text: str) -> None:
    with pytest.raises(ValueError, match=r"is neither an RFC 3339 time with its offset .* nor a date"):
        parse_instant(text)
