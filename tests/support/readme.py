"""Blocks of README.md, so that tests run what it shows exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(language: str, after: str) -> str:
    """The first ```language block of README.md after the heading or sentence `after`."""
    text = README.read_text()
    start = text.index(after)
    found = re.search(rf"```{language}\n(.*?)```", text[start:], re.DOTALL)
    assert found, f"README.md shows a {language} block after {after!r}"
    return found.group(1)
