"""Blocks of README.md and of the guides in docs/, so that tests run what they show exactly as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DEPLOY = ROOT / "docs" / "deploy.md"


def readme_block(language: str, after: str) -> str:
    """The first ```language block of README.md after the heading or sentence `after`."""
    return doc_block(README, language, after)


def doc_block(document: Path, language: str, after: str) -> str:
    """The first ```language block of `document` after the heading or sentence `after`."""
    text = document.read_text()
    start = text.index(after)
    found = re.search(rf"```{language}\n(.*?)```", text[start:], re.DOTALL)
    assert found, f"{document.name} shows a {language} block after {after!r}"
    return found.group(1)
