"""PyPI's JSON API documents without the files a policy hides."""

from __future__ import annotations

from rennet.domain.pypi_json import without_files


def test_hidden_files_leave_urls_and_releases_and_emptied_releases_go() -> None:
    document = {
        "info": {"version": "2.0"},
        "urls": [{"filename": "a-2.0.tar.gz"}, {"filename": "a-2.0-py3-none-any.whl"}],
        "releases": {
            "1.0": [{"filename": "a-1.0.tar.gz"}],
            "2.0": [{"filename": "a-2.0.tar.gz"}, {"filename": "a-2.0-py3-none-any.whl"}],
            "0.1": [],  # no files before either: kept as the upstream said
        },
    }
    hidden = {"a-2.0.tar.gz", "a-1.0.tar.gz"}
    assert without_files(document, hidden) == {
        "info": {"version": "2.0"},
        "urls": [{"filename": "a-2.0-py3-none-any.whl"}],
        "releases": {"2.0": [{"filename": "a-2.0-py3-none-any.whl"}], "0.1": []},
    }
    assert without_files(document, set()) is document
