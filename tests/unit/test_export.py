"""The pages of an exported tree link files below the tree, and reading a tree takes no link out of it.

(`rennet export` and `rennet import` themselves: tests/web/test_export.py, tests/e2e/test_export.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.names import NormalizedName
from rennet.domain.simple import render_project_html, render_project_json
from rennet.service.offline.exported_tree import TreePage, read_tree


def test_static_pages_link_files_below_the_tree() -> None:
    file = DistFile("foo-1.0+x-py3-none-any.whl", "pypi", {"sha256": "a" * 64}, source_url="http://up.invalid/f")
    project = ProjectPage(NormalizedName("foo"), (file,))
    html = render_project_html(project, "../../", static=True).decode()
    assert 'href="../../files/foo/foo-1.0%2Bx-py3-none-any.whl#sha256=' + "a" * 64 + '"' in html
    assert json.loads(render_project_json(project, "../../", static=True))["files"][0]["url"] == (
        "../../files/foo/foo-1.0%2Bx-py3-none-any.whl"
    )
    assert "../../pypi/files/foo/" in render_project_html(project, "../../").decode()
    assert "up.invalid" not in html


def test_a_tree_page_names_only_files_inside_the_tree(tmp_path: Path) -> None:
    links = {
        "a-1.0.tar.gz": "../../files/a/a-1.0.tar.gz",
        "a-1.1.tar.gz": "../../../../../../files/a/a-1.1.tar.gz",  # climbs no higher than the tree's root
        "a-1.2.tar.gz": "%2e%2e/%2e%2e/%2e%2e/secret",
        "a-1.3.tar.gz": "http://elsewhere.invalid/a-1.3.tar.gz",
        "a-1.4.tar.gz": "/files/a/a-1.4.tar.gz",
    }
    (tmp_path / "simple" / "a").mkdir(parents=True)
    files = [{"filename": name, "url": url, "hashes": {"sha256": "b" * 64}} for name, url in links.items()]
    (tmp_path / "simple" / "a" / "index.json").write_text(
        json.dumps({"meta": {"api-version": "1.0"}, "name": "a", "files": files})
    )
    (found,) = read_tree(tmp_path, "pypi")
    assert isinstance(found, TreePage)
    assert dict(found.paths) == {
        "a-1.0.tar.gz": tmp_path / "files" / "a" / "a-1.0.tar.gz",
        "a-1.1.tar.gz": tmp_path / "files" / "a" / "a-1.1.tar.gz",
        "a-1.2.tar.gz": None,
        "a-1.3.tar.gz": None,
        "a-1.4.tar.gz": tmp_path / "files" / "a" / "a-1.4.tar.gz",
    }
    assert all(file.source_url is None for file in found.page.files)
