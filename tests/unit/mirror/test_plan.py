from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.metadata import parse_email
from packaging.requirements import Requirement
from packaging.version import Version

from rennet.domain.files import ProjectPage
from rennet.domain.mirror.plan import Conflict, MirrorOptions, Plan, PlanResult, Selection
from rennet.domain.mirror.requirements import WantedItem, parse_requirements_text
from rennet.domain.mirror.targets import Target, make_targets, parse_target
from rennet.domain.names import canonical_name
from tests.unit.mirror.builders import dist, metadata, page, sha, want

LINUX_310 = parse_target("3.10", "manylinux_2_17_x86_64")
LINUX_312 = parse_target("3.12", "manylinux_2_17_x86_64")
WIN_312 = parse_target("3.12", "win_amd64")


@dataclass
class FakeIndex:
    """Plays the caller: answers what the plan asks for and remembers what it was asked."""

    pages: dict[str, ProjectPage]
    metadata: dict[str, bytes] = field(default_factory=dict)
    asked_pages: list[str] = field(default_factory=list)
    asked_metadata: list[str] = field(default_factory=list)

    def run(self, plan: Plan, rounds: int = 50) -> PlanResult:
        for _ in range(rounds):
            pages, files = plan.next_needed(), plan.metadata_needed()
            if not pages and not files:
                assert plan.done
                return plan.result()
            for name in pages:
                self.asked_pages.append(name)
                if name in self.pages:
                    plan.add_page(self.pages[name])
                else:
                    plan.page_missing(name, "404 Not Found")
            for file in files:
                self.asked_metadata.append(file.filename)
                if file.filename in self.metadata:
                    plan.add_metadata(file.filename, self.metadata[file.filename])
                else:
                    plan.metadata_missing(file.filename, "no metadata")
        raise AssertionError("the plan never finished")


def pure(name: str, version: str, *requires: str, index: FakeIndex) -> None:
    """Add a pure-Python release (one py3 wheel with PEP 658 metadata) to the fake index."""
    filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    existing = index.pages.get(name, page(name))
    index.pages[name] = ProjectPage(existing.name, (*existing.files, dist(filename, metadata=True)))
    index.metadata[filename] = metadata(name, version, *requires)


def roots(text: str) -> tuple[WantedItem, ...]:
    parsed = parse_requirements_text(text)
    assert not parsed.errors
    return parsed.items


def plan_for(text: str, *targets: Target, **flags: bool) -> Plan:
    parsed = parse_requirements_text(text)
    assert not parsed.errors
    return Plan(parsed.items, MirrorOptions(targets or (LINUX_312,), **flags), parsed.constraints)


def chosen(result: PlanResult) -> dict[str, list[str]]:
    return {s.project: [str(v) for v in s.versions] for s in result.selections}


def selection(result: PlanResult, project: str) -> Selection:
    (found,) = [s for s in result.selections if s.project == project]
    return found


@pytest.fixture
def index() -> FakeIndex:
    fake = FakeIndex({})
    pure(
        "requests",
        "2.32.3",
        "charset-normalizer<4,>=2",
        "idna<4,>=2.5",
        "urllib3<3,>=1.21.1",
        "certifi>=2017.4.17",
        'PySocks!=1.5.7,>=1.5.6; extra == "socks"',
        index=fake,
    )
    pure("requests", "2.31.0", "idna<4,>=2.5", index=fake)
    pure("charset-normalizer", "3.4.0", index=fake)
    pure("idna", "3.10", index=fake)
    pure("idna", "2.10", index=fake)
    pure("urllib3", "2.2.3", index=fake)
    pure("urllib3", "1.26.20", index=fake)
    pure("certifi", "2024.8.30", index=fake)
    pure("pysocks", "1.7.1", index=fake)
    return fake


class TestWalk:
    def test_dependencies_are_followed(self, index: FakeIndex) -> None:
        result = index.run(plan_for("requests\n"))
        assert chosen(result) == {
            "certifi": ["2024.8.30"],
            "charset-normalizer": ["3.4.0"],
            "idna": ["3.10"],
            "requests": ["2.32.3"],
            "urllib3": ["2.2.3"],
        }
        assert result.ok
        assert [f.filename for f in result.files][:2] == [
            "certifi-2024.8.30-py3-none-any.whl",
            "charset_normalizer-3.4.0-py3-none-any.whl",
        ]

    def test_the_caller_is_asked_step_by_step_and_never_twice(self, index: FakeIndex) -> None:
        index.run(plan_for("requests\n"))
        assert index.asked_pages == ["requests", "certifi", "charset-normalizer", "idna", "urllib3"]
        assert index.asked_metadata[0] == "requests-2.32.3-py3-none-any.whl"
        assert len(index.asked_metadata) == len(set(index.asked_metadata)) == 5

    def test_the_first_question_is_the_roots(self) -> None:
        plan = plan_for("requests\nidna\n")
        assert plan.next_needed() == ("idna", "requests")
        assert plan.metadata_needed() == ()
        assert not plan.done

    def test_a_partial_result_says_what_is_missing(self) -> None:
        result = plan_for("requests\n").result()
        assert selection(result, "requests").problems == ("page of requests not fetched yet",)
        assert not result.ok

    def test_extras_of_a_root(self, index: FakeIndex) -> None:
        assert "pysocks" in chosen(index.run(plan_for("requests[socks]\n")))
        assert "pysocks" not in chosen(FakeIndex(index.pages, index.metadata).run(plan_for("requests\n")))

    def test_extras_asked_by_a_dependency(self, index: FakeIndex) -> None:
        pure("app", "1.0", "requests[socks]>=2", index=index)
        assert "pysocks" in chosen(index.run(plan_for("app\n")))

    def test_a_package_asking_for_its_own_extras(self, index: FakeIndex) -> None:
        pure("kit", "1.0", 'kit[a,b]; extra == "all"', 'idna; extra == "a"', 'certifi; extra == "b"', index=index)
        assert set(chosen(index.run(plan_for("kit[all]\n")))) == {"kit", "idna", "certifi"}

    def test_dependency_cycles_terminate(self, index: FakeIndex) -> None:
        pure("chicken", "1.0", "egg", index=index)
        pure("egg", "1.0", "chicken>=1", index=index)
        result = index.run(plan_for("chicken\n"))
        assert chosen(result) == {"chicken": ["1.0"], "egg": ["1.0"]}
        assert result.ok

    def test_resolution_off_takes_the_roots_only(self, index: FakeIndex) -> None:
        result = index.run(plan_for("requests\n", resolve=False))
        assert chosen(result) == {"requests": ["2.32.3"]}
        assert index.asked_metadata == []

    def test_hash_pins_of_roots_apply(self, index: FakeIndex) -> None:
        pinned = f"requests --hash=sha256:{sha('requests-2.31.0-py3-none-any.whl')}\n"
        result = index.run(plan_for(pinned))
        assert chosen(result)["requests"] == ["2.31.0"]
        assert chosen(result)["idna"] == ["3.10"]


class TestMarkers:
    @pytest.fixture
    def cli(self, index: FakeIndex) -> FakeIndex:
        pure("cli", "1.0", 'colorama; sys_platform == "win32"', 'tomli>=1.1; python_version < "3.11"', index=index)
        pure("colorama", "0.4.6", index=index)
        pure("tomli", "2.0.2", index=index)
        return index

    def test_evaluated_per_target(self, cli: FakeIndex) -> None:
        assert set(chosen(cli.run(plan_for("cli\n", LINUX_312)))) == {"cli"}
        assert set(chosen(FakeIndex(cli.pages, cli.metadata).run(plan_for("cli\n", LINUX_310, WIN_312)))) == {
            "cli",
            "colorama",
            "tomli",
        }

    def test_a_root_marker_that_excludes_every_target_is_reported(self, cli: FakeIndex) -> None:
        result = cli.run(plan_for('colorama; sys_platform == "win32"\ncli\n', LINUX_312))
        assert set(chosen(result)) == {"cli"}
        assert result.skipped == (
            'colorama; sys_platform == "win32" (requirements.txt:1): the marker excludes every target',
        )

    def test_a_root_marker_true_on_some_target(self, cli: FakeIndex) -> None:
        result = cli.run(plan_for('tomli; python_version < "3.11"\n', LINUX_310, LINUX_312))
        assert chosen(result) == {"tomli": ["2.0.2"]}
        assert not result.skipped

    def test_markers_on_the_os_release_count_as_true(self, index: FakeIndex) -> None:
        pure("odd", "1.0", 'idna; platform_release >= "5.0"', 'certifi; platform_version < "1"', index=index)
        assert set(chosen(index.run(plan_for("odd\n")))) == {"odd", "idna", "certifi"}

    def test_markers_packaging_cannot_compare_count_as_true(self, index: FakeIndex) -> None:
        pure("odd", "1.0", 'idna; python_version ~= "3"', 'certifi; python_version > "abc"', index=index)
        assert set(chosen(index.run(plan_for("odd\n")))) == {"odd", "idna"}


class TestVersionsPerTarget:
    def test_each_target_follows_the_dependencies_of_its_own_version(self, index: FakeIndex) -> None:
        index.pages["lib"] = page(
            "lib",
            dist("lib-2.0-py3-none-any.whl", requires_python=">=3.11", metadata=True),
            dist("lib-1.0-py3-none-any.whl", metadata=True),
        )
        index.metadata["lib-2.0-py3-none-any.whl"] = metadata("lib", "2.0", "certifi")
        index.metadata["lib-1.0-py3-none-any.whl"] = metadata("lib", "1.0", "idna")
        both = index.run(plan_for("lib\n", LINUX_310, LINUX_312))
        assert chosen(both) == {"certifi": ["2024.8.30"], "idna": ["3.10"], "lib": ["1.0", "2.0"]}
        new_only = FakeIndex(index.pages, index.metadata).run(plan_for("lib\n", LINUX_312))
        assert set(chosen(new_only)) == {"lib", "certifi"}

    def test_a_replaced_choice_leaves_no_dependencies_behind(self, index: FakeIndex) -> None:
        pure("lib", "1.0", index=index)
        pure("lib", "2.0", "certifi", index=index)
        pure("app", "1.0", "lib<2", index=index)
        result = index.run(plan_for("lib\napp\n"))
        assert chosen(result) == {"app": ["1.0"], "lib": ["1.0"]}
        assert result.ok


class TestSpecifiersAndConflicts:
    def test_specifiers_from_several_requirers_merge(self, index: FakeIndex) -> None:
        pure("app", "1.0", "urllib3<2", index=index)
        result = index.run(plan_for("urllib3>=1.26\napp\n"))
        assert chosen(result)["urllib3"] == ["1.26.20"]
        assert result.ok and not result.conflicts

    def test_a_conflict_names_both_sides_and_keeps_the_root(self, index: FakeIndex) -> None:
        pure("app", "1.0", "urllib3<2", index=index)
        result = index.run(plan_for("urllib3>=2\napp\n"))
        assert chosen(result)["urllib3"] == ["2.2.3"]
        (conflict,) = result.conflicts
        assert conflict == Conflict(
            canonical_name("urllib3"),
            LINUX_312,
            Version("2.2.3"),
            ("urllib3>=2 (from requirements.txt:1)",),
            ("urllib3<2 (from app 1.0)",),
        )
        assert str(conflict) == (
            "on cp312-manylinux_2_17_x86_64, urllib3<2 (from app 1.0) conflicts with "
            "urllib3>=2 (from requirements.txt:1): urllib3 2.2.3 chosen"
        )
        assert not result.ok

    def test_conflicts_are_per_target(self, index: FakeIndex) -> None:
        pure("app", "1.0", "urllib3<2", index=index)
        result = index.run(plan_for("urllib3>=2\napp\n", LINUX_312, WIN_312))
        assert [c.target for c in result.conflicts] == [LINUX_312, WIN_312]

    def test_the_shallower_requirer_wins(self, index: FakeIndex) -> None:
        pure("app", "1.0", "mid", index=index)
        pure("mid", "1.0", "idna<3", index=index)
        pure("other", "1.0", "idna>=3", index=index)
        result = index.run(plan_for("app\nother\n"))
        assert chosen(result)["idna"] == ["3.10"]
        (conflict,) = result.conflicts
        assert conflict.dropped == ("idna<3 (from mid 1.0)",)

    def test_a_dependency_nothing_satisfies(self, index: FakeIndex) -> None:
        pure("app", "1.0", "idna>=99", index=index)
        result = index.run(plan_for("app\n"))
        assert selection(result, "idna").problems == ("no version of idna satisfies >=99 (newest is 3.10)",)

    def test_a_dependency_nothing_satisfies_next_to_another_requirement(self, index: FakeIndex) -> None:
        pure("app", "1.0", "idna>=99", index=index)
        result = index.run(plan_for("idna\napp\n"))
        (conflict,) = result.conflicts
        assert conflict.kept == ()
        assert str(conflict) == (
            "on cp312-manylinux_2_17_x86_64, no version of idna satisfies idna>=99 (from app 1.0): idna 3.10 chosen"
        )

    def test_constraints_narrow_what_is_reached(self, index: FakeIndex) -> None:
        result = index.run(
            Plan(roots("requests\n"), MirrorOptions((LINUX_312,)), [want("idna<3"), want("pysocks<1")])
        )
        assert chosen(result)["idna"] == ["2.10"]
        assert "pysocks" not in chosen(result)
        assert "pysocks" not in index.asked_pages

    def test_a_constraint_beats_a_requirement(self, index: FakeIndex) -> None:
        result = index.run(Plan(roots("idna>=3\n"), MirrorOptions((LINUX_312,)), [want("idna<3")]))
        assert chosen(result) == {"idna": ["2.10"]}
        assert result.conflicts[0].dropped == ("idna>=3 (from requirements.txt:1)",)

    def test_choices_that_never_settle_are_an_error(self, index: FakeIndex) -> None:
        # a 2.0 needs b; b needs a<2; a 1.0 needs nothing, so b drops out and a 2.0 comes back.
        pure("a", "1.0", index=index)
        pure("a", "2.0", "b", index=index)
        pure("b", "1.0", "a<2", index=index)
        result = index.run(plan_for("a\n"))
        assert result.errors == (
            "choices on cp312-manylinux_2_17_x86_64 did not settle; they keep changing for a, b",
        )
        assert not result.ok


class TestFailures:
    def test_a_missing_page(self, index: FakeIndex) -> None:
        pure("app", "1.0", "ghost", index=index)
        result = index.run(plan_for("app\n"))
        assert selection(result, "ghost").problems == ("page of ghost unavailable: 404 Not Found",)
        assert not result.ok

    def test_a_page_can_arrive_after_all(self, index: FakeIndex) -> None:
        plan = plan_for("idna\n")
        plan.page_missing("IDNA", "timeout")
        assert plan.next_needed() == ()
        plan.add_page(index.pages["idna"])
        assert plan.result().selections[0].versions == (Version("3.10"),)

    def test_missing_metadata(self, index: FakeIndex) -> None:
        del index.metadata["requests-2.32.3-py3-none-any.whl"]
        result = index.run(plan_for("requests\n"))
        assert result.errors == ("dependencies of requests 2.32.3 unknown: no metadata",)
        assert chosen(result) == {"requests": ["2.32.3"]}

    def test_dynamic_requires_dist_in_sdist_metadata(self, index: FakeIndex) -> None:
        index.pages["legacy"] = page("legacy", "legacy-1.0.tar.gz")
        index.metadata["legacy-1.0.tar.gz"] = metadata("legacy", "1.0", "idna", dynamic="Requires-Dist")
        result = index.run(plan_for("legacy\n"))
        assert index.asked_metadata == ["legacy-1.0.tar.gz"]
        assert result.errors == (
            "dependencies of legacy 1.0 unknown: Requires-Dist is dynamic (computed when the sdist is built)",
        )
        assert "idna" not in chosen(result)

    def test_sdist_metadata_before_2_2_does_not_bind_its_dependencies(self, index: FakeIndex) -> None:
        index.pages["legacy"] = page("legacy", "legacy-1.0.tar.gz")
        index.metadata["legacy-1.0.tar.gz"] = metadata("legacy", "1.0", "idna").replace(b"2.3", b"2.1", 1)
        result = index.run(plan_for("legacy\n"))
        assert result.errors == (
            "dependencies of legacy 1.0 unknown: the sdist's PKG-INFO has metadata version 2.1: before 2.2 it "
            "does not bind Requires-Dist (the sdist must be built to know its dependencies)",
        )
        assert chosen(result) == {"legacy": ["1.0"]}

    def test_sdist_metadata_from_2_2_counts(self, index: FakeIndex) -> None:
        index.pages["modern"] = page("modern", "modern-1.0.tar.gz")
        index.metadata["modern-1.0.tar.gz"] = metadata("modern", "1.0", "idna").replace(b"2.3", b"2.2", 1)
        result = index.run(plan_for("modern\n"))
        assert result.ok
        assert chosen(result) == {"idna": ["3.10"], "modern": ["1.0"]}

    def test_metadata_of_another_project(self, index: FakeIndex) -> None:
        index.metadata["idna-3.10-py3-none-any.whl"] = metadata("not-idna", "3.10")
        result = index.run(plan_for("idna\n"))
        assert result.errors == ("dependencies of idna 3.10 unknown: the metadata names project 'not-idna'",)

    def test_bad_and_direct_url_requirements_are_errors_and_the_rest_counts(self, index: FakeIndex) -> None:
        pure(
            "app", "1.0", "idna", "not valid!", "vendored @ https://example.invalid/vendored-1.0.tar.gz", index=index
        )
        result = index.run(plan_for("app\n"))
        assert set(chosen(result)) == {"app", "idna"}
        assert result.errors == (
            "app 1.0: invalid Requires-Dist 'not valid!' ignored",
            "app 1.0 depends on vendored @ https://example.invalid/vendored-1.0.tar.gz: direct URL references cannot be mirrored",
        )

    def test_errors_of_a_release_no_longer_chosen_go_away(self, index: FakeIndex) -> None:
        pure("lib", "1.0", index=index)
        pure("lib", "2.0", "broken!", index=index)
        pure("app", "1.0", "lib<2", index=index)
        plan = plan_for("lib\napp\n")
        plan.add_page(index.pages["lib"])
        plan.add_page(index.pages["app"])
        plan.add_metadata("lib-2.0-py3-none-any.whl", index.metadata["lib-2.0-py3-none-any.whl"])
        assert plan.result().errors == ("lib 2.0: invalid Requires-Dist 'broken!' ignored",)
        result = index.run(plan)
        assert chosen(result)["lib"] == ["1.0"]
        assert result.errors == ()

    def test_metadata_for_something_that_is_not_a_distribution(self) -> None:
        plan = plan_for("idna\n")
        with pytest.raises(ValueError, match="not the name of a wheel or sdist"):
            plan.add_metadata("README.md", b"")
        with pytest.raises(ValueError, match="not the name of a wheel or sdist"):
            plan.metadata_missing("idna", "x")


class TestMetadataChoice:
    def test_a_wheel_with_pep_658_metadata_first(self) -> None:
        lib = page(
            "lib",
            "lib-1.0.tar.gz",
            "lib-1.0-cp312-cp312-win_amd64.whl",
            dist("lib-1.0-py3-none-any.whl", metadata=True),
        )
        plan = Plan(roots("lib\n"), MirrorOptions(make_targets(["3.12"], ["win_amd64", "manylinux_2_17_x86_64"])))
        plan.add_page(lib)
        assert [f.filename for f in plan.metadata_needed()] == ["lib-1.0-py3-none-any.whl"]

    def test_any_chosen_wheel_then(self) -> None:
        lib = page("lib", "lib-1.0.tar.gz", "lib-1.0-cp312-cp312-win_amd64.whl")
        plan = Plan(roots("lib\n"), MirrorOptions((WIN_312, LINUX_312)))
        plan.add_page(lib)
        assert [f.filename for f in plan.metadata_needed()] == ["lib-1.0-cp312-cp312-win_amd64.whl"]

    def test_metadata_is_asked_once_per_version(self) -> None:
        lib = page("lib", "lib-1.0-cp312-cp312-win_amd64.whl", "lib-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")
        plan = Plan(roots("lib\n"), MirrorOptions((WIN_312, LINUX_312)))
        plan.add_page(lib)
        (needed,) = plan.metadata_needed()
        plan.add_metadata(needed.filename, metadata("lib", "1.0"))
        assert plan.done


NAMES = ["a", "b", "c", "d", "e"]


@st.composite
def dependency_graphs(draw: st.DrawFn) -> FakeIndex:
    fake = FakeIndex({})
    for name in NAMES:
        for version in draw(st.lists(st.sampled_from(["1.0", "2.0", "3.0"]), min_size=1, max_size=3, unique=True)):
            deps = draw(
                st.lists(
                    st.tuples(st.sampled_from(NAMES), st.sampled_from(["", ">=2", "<3", "==1.0"])),
                    max_size=3,
                    unique_by=lambda d: d[0],
                )
            )
            pure(name, version, *(f"{dep}{spec}" for dep, spec in deps), index=fake)
    return fake


@settings(max_examples=60, deadline=None)
@given(graph=dependency_graphs(), root=st.sampled_from(NAMES))
def test_any_graph_ends_with_an_answer_or_an_error(graph: FakeIndex, root: str) -> None:
    result = graph.run(plan_for(f"{root}\n"))
    assert root in chosen(result)
    for chosen_selection in result.selections:
        assert len(chosen_selection.versions) <= 1  # one target, one version
        for file in chosen_selection.files:
            assert file.filename.startswith(f"{chosen_selection.project}-")
    if result.ok:
        # every requirement of every chosen version is met by the chosen versions
        picked: dict[str, Version] = {s.project: s.versions[0] for s in result.selections}
        for project, version in picked.items():
            raw, _ = parse_email(graph.metadata[f"{project}-{version}-py3-none-any.whl"])
            for text in raw.get("requires_dist", []):
                requirement = Requirement(text)
                assert requirement.specifier.contains(picked[requirement.name])
