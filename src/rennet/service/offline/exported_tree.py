"""Reading a static tree written by `rennet export`: its PEP 691 pages and the files they link to.

`rennet import` takes such a tree back, into a hosted index or into a proxy's cache. The pages are read by the
same distrustful parser as an upstream's; their relative links are resolved against a made-up origin that is never
contacted, and only links that stay below that origin name a file of the tree.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.names import InvalidName, check_project_name
from rennet.upstream.parse import JSON_TYPE, UnreadablePage, parse_project_page

__all__ = ["TreePage", "UnreadableTreePage", "is_tree", "read_tree"]

# A reserved name (RFC 2606): it only gives relative links a base, and is never contacted.
_ORIGIN = "http://exported-tree.invalid"
MAX_PAGE_BYTES = 64 << 20


class UnreadableTreePage(ValueError):
    """A page of the tree that cannot be read: the path of the page and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TreePage:
    """One project of the tree: its page (files without a source URL) and where each file lies."""

    page_path: Path
    page: ProjectPage
    paths: Mapping[str, Path | None]  # filename -> the file in the tree; None when its link leads out of the tree

    def entries(self) -> Iterator[tuple[DistFile, Path | None]]:
        for file in self.page.files:
            yield file, self.paths.get(file.filename)


def is_tree(root: Path) -> bool:
    return root.is_dir() and next(_page_paths(root), None) is not None


def read_tree(root: Path, index: str) -> Iterator[TreePage | UnreadableTreePage]:
    """Every project page below root/simple/, in name order; an unreadable one is yielded as its error."""
    for path in _page_paths(root):
        try:
            yield _read_page(root, path, index)
        except UnreadableTreePage as error:
            yield error


def _page_paths(root: Path) -> Iterator[Path]:
    simple = root / "simple"
    if simple.is_dir():
        for folder in sorted(simple.iterdir()):
            if folder.is_dir() and not folder.name.startswith(".") and (folder / "index.json").is_file():
                yield folder / "index.json"


def _read_page(root: Path, path: Path, index: str) -> TreePage:
    try:
        name = check_project_name(path.parent.name)
        if path.stat().st_size > MAX_PAGE_BYTES:
            raise UnreadableTreePage(path, f"larger than {MAX_PAGE_BYTES} bytes")
        base = f"{_ORIGIN}/simple/{quote(path.parent.name)}/"
        page = parse_project_page(path.read_bytes(), JSON_TYPE, base, name, index)
    except (InvalidName, UnreadablePage, OSError) as error:
        raise UnreadableTreePage(path, str(error)) from None
    paths = {file.filename: _local_path(root, file.source_url) for file in page.files}
    # These files come from the tree, not from an upstream: nothing may try to fetch them from a URL.
    files = tuple(replace(file, source_url=None) for file in page.files)
    return TreePage(path, page.with_files(files), paths)


def _local_path(root: Path, url: str | None) -> Path | None:
    """The file a resolved link names inside the tree; None for a link elsewhere or one that climbs out."""
    if url is None:
        return None
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != _ORIGIN:
        return None
    relative = PurePosixPath(unquote(parts.path).lstrip("/"))
    # The URL parser removed dot segments; encoded ones ("%2e%2e") only appear now.
    if not relative.parts or any(part in ("", ".", "..") for part in relative.parts) or "\\" in str(relative):
        return None
    return root.joinpath(*relative.parts)
