"""Reading a server's /metrics: its samples by name and labels, and waiting for counts to arrive (a request is
counted after its response is sent, and another worker's counts are published within a second)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import Server
from tests.support.store import wait_until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: Server) -> Samples:
    response = server.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when the server has not counted it at all."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include these (whatever their other labels)."""
    wanted = set(labels.items())
    return sum(found for (sample, have), found in samples.items() if sample == name and wanted <= have)


def wait_for_samples(server: Server, expected: Mapping[tuple[str, frozenset[tuple[str, str]]], float]) -> Samples:
    """The scrape once every expected sample has its value."""
    latest: list[Samples] = [{}]

    def reached() -> bool:
        latest[0] = scrape(server)
        return all(latest[0].get(key) == want for key, want in expected.items())

    wait_until(reached, f"samples reach their values: {dict(expected)}", timeout=10)
    return latest[0]


def wait_for_total(server: Server, count: float, name: str, **labels: str) -> Samples:
    """The scrape once the samples of `name` with these labels add up to `count`."""
    latest: list[Samples] = [{}]

    def reached() -> bool:
        latest[0] = scrape(server)
        return total(latest[0], name, **labels) == count

    wait_until(reached, f"{name} {labels} adds up to {count}", timeout=10)
    return latest[0]


def sample(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset(labels.items()))
