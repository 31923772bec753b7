"""Seeding a proxy from an exported tree, in the catalog (SQLite and PostgreSQL): a seeded file is listed only
once its bytes are recorded.

(`rennet export` and `rennet import` themselves: tests/web/test_export.py, tests/e2e/test_export.py.)
"""

from __future__ import annotations

from pathlib import Path

from rennet.domain.files import DistFile, ProjectPage
from rennet.domain.names import NormalizedName
from rennet.domain.validators import UpstreamValidators
from rennet.storage.store import open_store

NONE = UpstreamValidators()


def test_a_seeded_file_is_listed_only_once_its_bytes_are_recorded(tmp_path: Path, catalog_url: str) -> None:
    """Seeding stores the page, then records each file's bytes: in between, no page may offer the file."""
    store = open_store(tmp_path, catalog_url)
    try:
        catalog = store.catalog
        upstream = DistFile("foo-1.0.tar.gz", "pypi", {"sha256": "c" * 64}, source_url="http://up.invalid/f")
        seeded = DistFile("foo-2.0.tar.gz", "pypi", {"sha256": "d" * 64})
        catalog.store_upstream_page("pypi", "foo", ProjectPage(NormalizedName("foo"), (upstream, seeded)), NONE, 0.0)
        record = catalog.project("pypi", "foo")
        assert record is not None
        assert [f.filename for f in catalog.page(record).files] == ["foo-1.0.tar.gz"]
        assert [f.filename for f in catalog.page(record, as_stated=True).files] == [
            "foo-1.0.tar.gz",
            "foo-2.0.tar.gz",
        ]
        found = catalog.file("pypi", "foo", "foo-2.0.tar.gz")
        assert found is not None
        catalog.record_blob(found, "d" * 64, 10, None)
        assert [f.filename for f in catalog.page(record).files] == ["foo-1.0.tar.gz", "foo-2.0.tar.gz"]
    finally:
        store.close()
