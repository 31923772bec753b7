"""Long descriptions rendered as PyPI renders them (domain/readme.py): Markdown, reStructuredText (also without a
content type), plain text, each sanitized; reStructuredText that does not render is shown as plain text."""

from __future__ import annotations

import re

import pytest

from rennet.domain.readme import render_description

HOSTILE = '<script>alert(1)</script> <img src="x" onerror="alert(2)"> <a href="javascript:alert(3)">x</a>'


def test_markdown_in_github_s_flavour() -> None:
    html = render_description("# Title\n\nThe **best**.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", "text/markdown")
    assert html is not None and "<strong>best</strong>" in html and "<table>" in html


def test_restructured_text_also_without_a_content_type() -> None:
    for content_type in ("text/x-rst", None):
        html = render_description("Title\n=====\n\nSome *emphasis*.\n", content_type)
        assert html is not None and "<em>emphasis</em>" in html


def test_plain_text_is_escaped_not_interpreted() -> None:
    html = render_description("a < b and *not emphasis*", "text/plain; charset=utf-8")
    assert html is not None and "a &lt; b" in html and "<em>" not in html


def test_restructured_text_that_does_not_render_is_shown_as_plain_text() -> None:
    html = render_description("Broken\n===\n\n.. unknown-directive::\n\n`unclosed", None)
    assert html is not None and "Broken" in html


@pytest.mark.parametrize("content_type", ["text/markdown", "text/x-rst", "text/plain", None])
def test_hostile_markup_is_removed_whatever_the_kind(content_type: str | None) -> None:
    html = render_description(f"Text\n\n{HOSTILE}\n\n.. raw:: html\n\n   <script>alert(4)</script>\n", content_type)
    assert html is not None
    assert "<script" not in html  # escaped as text, or removed
    assert not re.search(r"<[^>]*\son\w+\s*=", html)  # no event handler in any tag
    assert not re.search(r"<a[^>]*href=\"javascript:", html)


def test_no_description() -> None:
    assert render_description(None, None) is None
    assert render_description("  \n", "text/markdown") is None
