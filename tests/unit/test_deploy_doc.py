"""docs/deploy.md against the README: the one-host service and nginx blocks are the README's (which
tests/e2e/test_behind_nginx.py serves), and every link into the README leads to a heading it has. The cluster's
blocks are run by tests/e2e/test_cluster_e2e.py."""

from __future__ import annotations

import re

from tests.support.readme import DEPLOY, README, doc_block, readme_block


def test_the_one_host_service_is_the_readmes() -> None:
    assert doc_block(DEPLOY, "ini", "## One host") == readme_block("ini", "As a systemd service")


def test_the_one_host_nginx_block_is_the_readmes() -> None:
    assert doc_block(DEPLOY, "nginx", "## One host") == readme_block("nginx", "### Behind nginx, with TLS")


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_into_the_readme_leads_to_one_of_its_headings() -> None:
    anchors = {_anchor(line.lstrip("#")) for line in README.read_text().splitlines() if line.startswith("#")}
    links = re.findall(r"\]\(\.\./README\.md#([^)]+)\)", DEPLOY.read_text())
    assert links
    assert set(links) <= anchors, set(links) - anchors


def test_every_link_within_the_guide_leads_to_one_of_its_headings() -> None:
    text = DEPLOY.read_text()
    anchors = {_anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert links
    assert set(links) <= anchors, set(links) - anchors
