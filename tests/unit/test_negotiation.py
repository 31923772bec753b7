"""Accept negotiation for the Simple API, matched against what PyPI's own server selects."""

from __future__ import annotations

import pytest

from rennet.domain.negotiation import HTML_V1, JSON_V1, Format, negotiate, representation_for

TEXT_HTML = "text/html; charset=utf-8"
LATEST_JSON = "application/vnd.pypi.simple.latest+json"
LATEST_HTML = "application/vnd.pypi.simple.latest+html"

# The headers real installers send (see shared/protocol.md).
PIP_AND_PDM = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
UV = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
POETRY = "application/vnd.pypi.simple.v1+json, */*;q=0.1"


@pytest.mark.parametrize("accept", [PIP_AND_PDM, UV, POETRY])
def test_installers_get_json(accept: str) -> None:
    chosen = negotiate(accept)
    assert chosen.format is Format.JSON
    assert chosen.content_type == JSON_V1


@pytest.mark.parametrize("accept", [None, "", "   ", "*/*", "text/*", "text/html", "*/*;q=0.5", "text/html, */*"])
def test_browsers_and_old_clients_get_plain_html(accept: str | None) -> None:
    chosen = negotiate(accept)
    assert chosen.format is Format.HTML
    assert chosen.content_type == TEXT_HTML


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        # Offers in PyPI's order break ties: text/html, then v1+html, then v1+json.
        (f"{JSON_V1}, {HTML_V1}, text/html", TEXT_HTML),
        (f"{JSON_V1}, {HTML_V1}", HTML_V1),
        ("application/*", HTML_V1),
        (JSON_V1, JSON_V1),
        (HTML_V1, HTML_V1),
        # q-values decide before order does.
        (f"text/html;q=0.5, {JSON_V1}", JSON_V1),
        (f"text/html;q=0.5, {HTML_V1};q=0.6, {JSON_V1};q=0.4", HTML_V1),
        (f"{JSON_V1};q=0.9, */*;q=0.8", JSON_V1),
        (f"{JSON_V1};q=0.001, text/html;q=0.002", TEXT_HTML),
        # The most specific range sets an offer's q (RFC 9110, 12.5.1), whatever its position.
        (f"*/*;q=1, text/html;q=0.1, {HTML_V1};q=0.1", JSON_V1),
        (f"text/*;q=0.1, */*;q=0.5, {HTML_V1};q=0", JSON_V1),
        # q=0 means "not acceptable".
        ("text/html;q=0, */*", HTML_V1),
        (f"text/html;q=0, {HTML_V1};q=0, */*", JSON_V1),
        # Case and spacing do not matter.
        ("APPLICATION/VND.PYPI.SIMPLE.V1+JSON", JSON_V1),
        (f"  {JSON_V1}  ;  Q = 0.9  , text/html ; q=0.1", JSON_V1),
        (f"{JSON_V1};charset=utf-8;q=0.9, text/html;q=0.5", JSON_V1),
    ],
)
def test_q_values_and_ties(accept: str, content_type: str) -> None:
    assert negotiate(accept).content_type == content_type


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (LATEST_JSON, JSON_V1),
        (LATEST_HTML, HTML_V1),
        (f"{LATEST_JSON}, text/html;q=0.1", JSON_V1),
        (f"text/html;q=0.5, {LATEST_JSON};q=0.9", JSON_V1),
    ],
)
def test_latest_is_answered_with_the_concrete_v1_type(accept: str, content_type: str) -> None:
    assert negotiate(accept).content_type == content_type


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "image/png",
        "application/vnd.pypi.simple.v2+json",
        "text/plain, application/xml;q=0.9",
        f"{JSON_V1};q=0",
        "text/html;q=0, application/*;q=0",
    ],
)
def test_nothing_acceptable_falls_back_to_html_not_406(accept: str) -> None:
    chosen = negotiate(accept)
    assert chosen.format is Format.HTML
    assert chosen.content_type == TEXT_HTML


@pytest.mark.parametrize(
    "accept",
    [
        ",,,",
        ";;;",
        "/",
        "text/",
        "/html",
        "*/html",
        "text/html;q=",
        "text/html;q=abc",
        "text/html;q=nan",
        "text/html;q=-1",
        "text/html;q=inf",
        "text/html;q=1e999",
        "text/html;=;=",
        "\x00\xff\u202e",
        "é/ü;q=é",
        "a/b;" * 5000,
        ", ".join(["image/png"] * 100) + f", {JSON_V1}",
    ],
)
def test_malformed_headers_do_not_crash(accept: str) -> None:
    assert negotiate(accept).format in (Format.HTML, Format.JSON)


def test_out_of_range_q_values_are_clamped() -> None:
    assert negotiate(f"text/html;q=-1, {JSON_V1};q=0.1").content_type == JSON_V1
    assert negotiate(f"text/html;q=0.9, {JSON_V1};q=7").content_type == JSON_V1


def test_an_unparsable_q_rejects_only_that_range() -> None:
    assert negotiate(f"{JSON_V1};q=abc, text/html;q=0.1").content_type == TEXT_HTML
    assert negotiate(f"text/html;q=abc, {JSON_V1};q=0.1").content_type == JSON_V1


@pytest.mark.parametrize(
    ("media_type", "content_type"),
    [
        ("text/html", TEXT_HTML),
        (HTML_V1, HTML_V1),
        (JSON_V1, JSON_V1),
        (f"  {JSON_V1.upper()} ", JSON_V1),
        (LATEST_JSON, JSON_V1),
        (LATEST_HTML, HTML_V1),
    ],
)
def test_format_query_parameter_names_a_representation(media_type: str, content_type: str) -> None:
    chosen = representation_for(media_type)
    assert chosen is not None
    assert chosen.content_type == content_type


@pytest.mark.parametrize("media_type", ["json", "html", "*/*", "application/json", "", f"{JSON_V1};q=1"])
def test_format_query_parameter_is_exact(media_type: str) -> None:
    assert representation_for(media_type) is None
