"""The web UI over HTTP (no browser; tests/e2e/test_ui_browser.py drives Chromium): search, project pages,
recent uploads, the read rules of private indexes, hostile metadata, login, tokens and passwords."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from rennet.service import projectview
from rennet.web.ui import browse
from tests.support.accounts import add_user, elsewhere
from tests.support.dists import Dist, make_wheel, metadata_text, wheel_file
from tests.support.hosting import ALICE, hosted_server, upload
from tests.support.server import LocalServer
from tests.support.store import wait_until

BOB = ("bob", "bob-password")
DAVE = ("dave", "dave-password")  # may read nothing private
CONFIG = """
[index.local]
upload = ["alice"]

[index.secret]
type = "hosted"
private = true
read = ["bob"]
upload = ["alice"]

[index.open]
type = "group"
members = ["local", "pypi"]
"""
README = "# Widgets\n\nThe **best** widgets.\n\n```python\nimport widgets\n```\n"
HOSTILE = (
    "<script>alert('readme')</script>\n\n[click](javascript:alert(1))\n\n"
    '<img src="x" onerror="alert(1)">\n\n<iframe src="https://evil.test/"></iframe>\n'
)
widgets = make_wheel(
    "acme-widgets",
    "1.2.0",
    requires_python=">=3.9",
    extra_metadata=(
        "Description-Content-Type: text/markdown",
        "Project-URL: Source, https://git.example.test/acme/widgets",
        "Project-URL: Evil, javascript:alert(1)",
    ),
    description=README,
)
old_widgets = make_wheel("acme-widgets", "1.0.0")
hostile = make_wheel(
    "hostile",
    "1.0",
    extra_metadata=(
        "Description-Content-Type: text/markdown",
        "Project-URL: Home, javascript:alert(document.domain)",
    ),
    description=HOSTILE,
)
upstream_dist = make_wheel("cached-thing", "2.0", description="A thing from upstream.")
# Proxy projects that nobody looks at in the UI: search learns their summaries from the metadata clients fetch.
fetched_wheel = make_wheel("quiet-lib", "2.0", summary="Frobnicates quaternions")
fetched_metadata = make_wheel("shy-lib", "1.0", summary="Untangles hypergraphs")
# An upstream's metadata is anybody's: its name and summary too.
EVIL = '<img src=x onerror="alert(1)">'
evil_metadata = metadata_text(EVIL, "1.0", summary=f"{EVIL} evil summary").encode()
evil_upstream = Dist(*wheel_file("evil-name", "1.0", evil_metadata), evil_metadata)
server = hosted_server(
    CONFIG,
    (ALICE, BOB, DAVE, ("root", "root-password")),
    admins=("root",),
    upstream=(upstream_dist, fetched_wheel, fetched_metadata, evil_upstream),
    uploads=(old_widgets, widgets, hostile),
)


@pytest.fixture(scope="module", autouse=True)
def secret_upload(server: LocalServer) -> None:
    upload(server, make_wheel("acme-secret", "9.0"), index="secret")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_landing_page_lists_the_indexes_a_viewer_may_read(server: LocalServer) -> None:
    page = server.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'name="q"' in page.text
    assert "/local/simple/" in page.text and "secret" not in page.text
    row = re.search(
        r'href="/-/index/local/">local</a>.*?</td>\s*<td>hosted</td>\s*<td>(\d+)</td>\s*<td>(\d+)</td>',
        page.text,
        re.S,
    )
    assert row is not None and int(row.group(1)) >= 2 and int(row.group(2)) >= 3  # projects and files
    assert widgets.filename in page.text  # recent uploads
    assert "secret" in server.get("/", auth=BOB).text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_search_finds_hosted_and_cached_projects_and_says_where(server: LocalServer) -> None:
    assert server.get("/simple/cached-thing/").status_code == 200  # the proxy caches it
    found = server.get("/search", params={"q": "acme"})
    assert found.status_code == 200
    assert "/-/project/local/acme-widgets/" in found.text
    assert "acme-secret" not in found.text  # private, and the viewer may not read it
    assert "acme-secret" in server.get("/search", params={"q": "acme"}, auth=BOB).text
    assert "acme-secret" not in server.get("/search", params={"q": "acme"}, auth=DAVE).text
    cached = server.get("/search", params={"q": "cached"})
    assert "/-/project/pypi/cached-thing/" in cached.text
    assert "for tests" in server.get("/search", params={"q": "acme wid"}).text  # the summary


def test_the_project_page_shows_the_readme_versions_files_uploader_and_commands(server: LocalServer) -> None:
    page = server.get("/-/project/local/acme-widgets/")
    assert page.status_code == 200, page.text
    html = page.text
    assert "<strong>best</strong>" in html  # Markdown rendered
    assert "1.2.0" in html and "1.0.0" in html
    assert widgets.sha256 in html and widgets.filename in html
    assert 'class="uploader">alice<' in html
    assert "&gt;=3.9" in html
    assert f"pip install --index-url {server.url}/local/simple/ acme-widgets" in html
    assert f"uv pip install --index-url {server.url}/local/simple/ acme-widgets" in html
    assert "poetry source add" in html
    assert 'href="https://git.example.test/acme/widgets"' in html
    assert "javascript:" not in html


def test_search_learns_a_proxy_project_s_summary_from_what_clients_fetch(server: LocalServer) -> None:
    def hits(query: str) -> str:
        return server.get("/search", params={"q": query}).text

    page = server.get("/pypi/simple/quiet-lib/")
    assert page.status_code == 200
    assert "/-/project/pypi/quiet-lib/" in hits("quiet")  # its name, as soon as the page is cached
    assert "/-/project/pypi/quiet-lib/" not in hits("quaternions")
    href = re.search(r'href="([^"#]+)#sha256=[0-9a-f]+"', page.text)
    assert href is not None, page.text
    assert server.get(urljoin("/pypi/simple/quiet-lib/", href.group(1))).content == fetched_wheel.data
    wait_until(lambda: "/-/project/pypi/quiet-lib/" in hits("quaternions"), "the summary of the wheel is searchable")
    shy = server.get("/pypi/simple/shy-lib/")
    metadata = re.search(r'href="([^"#]+)#sha256=[0-9a-f]+"', shy.text)
    assert metadata is not None and "data-dist-info-metadata" in shy.text
    answer = server.get(urljoin("/pypi/simple/shy-lib/", metadata.group(1) + ".metadata"))
    assert answer.content == fetched_metadata.metadata  # what uv and pip read before choosing a wheel
    wait_until(lambda: "/-/project/pypi/shy-lib/" in hits("hypergraph"), "the summary of the .metadata is searchable")
    assert server.get("/-/project/pypi/quiet-lib/").status_code == 200  # viewed now: the same summary stays


def test_a_cached_project_is_described_by_its_upstream(server: LocalServer) -> None:
    page = server.get("/-/project/pypi/cached-thing/")
    assert page.status_code == 200, page.text
    assert "A thing from upstream." in page.text
    assert "cached-thing for tests" in server.get("/search", params={"q": "thing"}).text  # its summary, now known


def test_a_group_names_the_member_that_serves_a_project(server: LocalServer) -> None:
    page = server.get("/-/project/open/acme-widgets/")
    assert page.status_code == 200
    assert "Served by:" in text_of(page.text) and "not used" in page.text  # pypi is shadowed for this name
    assert "pip install --index-url " + server.url + "/open/simple/" in page.text


def test_private_projects_are_refused_as_the_api_refuses_them(server: LocalServer) -> None:
    assert server.get("/-/project/secret/acme-secret/").status_code == 401
    assert server.get("/-/project/secret/acme-secret/", auth=DAVE).status_code == 403
    assert server.get("/-/project/secret/acme-secret/", auth=BOB).status_code == 200
    assert server.get("/-/index/secret/").status_code == 401
    assert server.get("/-/index/secret/", auth=DAVE).status_code == 403
    assert server.get("/-/project/nowhere/x/").status_code == 404
    assert server.get("/-/project/local/-not-valid-/").status_code == 400
    assert server.get("/-/project/local/no-such-project/").status_code == 404


def test_an_index_page_lists_its_projects_a_page_at_a_time(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(server, make_wheel("paged-one", "1.0"), make_wheel("paged-two", "1.0"))
    monkeypatch.setattr(browse, "PROJECTS_PER_PAGE", 2)
    first = server.get("/-/index/local/")
    assert first.status_code == 200 and widgets.filename in first.text  # its uploads
    listed: list[str] = []
    after = ""
    for _ in range(20):
        html = server.get("/-/index/local/", params={"after": after}).text.split("<h2>Projects")[1]
        names = re.findall(r'href="/-/project/local/([^/]+)/">', html)
        assert 1 <= len(names) <= 2
        listed += names
        following = re.search(r'href="\?after=([^"]+)" rel="next"', html)
        if following is None:
            break
        after = following.group(1)
    assert listed == sorted(set(listed)) and {"acme-widgets", "hostile", "paged-one", "paged-two"} <= set(listed)
    assert "acme-secret" not in listed
    assert "acme-secret" in server.get("/-/index/secret/", auth=BOB).text
    group = server.get("/-/index/open/")
    assert group.status_code == 200 and 'href="/-/index/pypi/"' in group.text and "acme-secret" not in group.text


def test_a_project_page_shows_its_releases_a_page_at_a_time(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(server, *(make_wheel("many-releases", f"{n}.0") for n in range(1, 6)))
    monkeypatch.setattr(projectview, "RELEASES_PER_PAGE", 2)

    def versions(html: str) -> list[str]:
        return re.findall(r"<summary><strong>([^<]+)</strong>", html)

    first = server.get("/-/project/local/many-releases/")
    assert first.status_code == 200 and versions(first.text) == ["5.0", "4.0"]
    assert 'href="?page=2#releases" rel="next"' in first.text and 'rel="prev"' not in first.text
    assert "Releases 5, page 1 of 3" in text_of(first.text)
    last = server.get("/-/project/local/many-releases/", params={"page": "3"})
    assert last.status_code == 200 and versions(last.text) == ["1.0"]
    assert 'href="?page=2#releases" rel="prev"' in last.text and 'rel="next"' not in last.text
    assert "many-releases 5.0" in text_of(last.text)  # the latest release heads every page
    beyond = server.get("/-/project/local/many-releases/", params={"page": "4"})
    assert beyond.status_code == 404 and "there is no page 4" in beyond.text
    for bad in ("0", "-1", "two", "1.5", "", "9" * 20, "\u0663"):  # "\u0663": an Arabic-Indic three
        refused = server.get("/-/project/local/many-releases/", params={"page": bad})
        assert refused.status_code == 400 and "whole number, 1 or more" in refused.text, bad
    client = login(server, ROOT)
    second = client.get("/-/project/local/many-releases/", params={"page": "2"})
    yanked = client.post(
        "/-/manage/local/many-releases/release",
        data={"csrf": csrf_of(second.text), "version": "3.0", "action": "yank", "page": "2"},
    )
    assert yanked.status_code == 303 and yanked.headers["location"].startswith(
        "/-/project/local/many-releases/?page=2&done="
    )


def test_hostile_metadata_cannot_inject_markup(server: LocalServer) -> None:
    html = server.get("/-/project/local/hostile/").text
    assert "<script>alert" not in html and "onerror" not in html and "<iframe" not in html
    assert "javascript:" not in html
    assert "&lt;script&gt;" in html or "alert('readme')" not in html
    found = server.get("/search", params={"q": "<script>alert(1)</script>"})
    assert found.status_code == 200 and "<script>alert(1)" not in found.text


def test_a_hostile_name_and_summary_from_an_upstream_cannot_inject_markup(server: LocalServer) -> None:
    page = server.get("/pypi/simple/evil-name/")
    href = re.search(r'href="([^"#]+)#sha256=[0-9a-f]+"', page.text)
    assert href is not None
    assert server.get(urljoin("/pypi/simple/evil-name/", href.group(1) + ".metadata")).status_code == 200
    wait_until(lambda: "evil summary" in server.get("/search", params={"q": "evil"}).text, "the summary is learned")
    for html in (server.get("/search", params={"q": "evil"}).text, server.get("/-/project/pypi/evil-name/").text):
        assert "<img src=x" not in html and "&lt;img src=x onerror=" in html


def login(server: LocalServer, user: tuple[str, str]) -> httpx.Client:
    client = httpx.Client(base_url=server.url)
    response = post_login(client, server, {"username": user[0], "password": user[1], "next": "/-/account"})
    assert response.status_code == 303 and response.headers["location"] == "/-/account"
    cookie = response.headers.get_list("set-cookie")[0]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain http here
    return client


def post_login(
    client: httpx.Client, server: LocalServer, form: dict[str, str], headers: dict[str, str] | None = None
) -> httpx.Response:
    """What a browser does: open the login form (its token and cookie), then send it."""
    shown = client.get(f"{server.url}/-/login", headers=headers)
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    return client.post(f"{server.url}/-/login", data=form | {"csrf": csrf_of(shown.text)}, headers=headers)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no form token in the page"
    return found.group(1)


def test_logging_in_creating_and_revoking_a_token(server: LocalServer) -> None:
    client = login(server, ALICE)
    page = client.get("/-/account")
    assert page.status_code == 200 and "browser session" in page.text
    form = {
        "csrf": csrf_of(page.text),
        "description": "ci <b>job</b>",
        "index": "local",
        "scope": "upload",
        "expires": "30",
    }
    created = client.post("/-/account/tokens", data=form)
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    token = re.search(r'value="(rnt_[^"]+)"', created.text)
    assert token, created.text
    assert "ci &lt;b&gt;job&lt;/b&gt;" in created.text
    assert "rnt_" not in client.get("/-/account").text  # shown once
    wheel = make_wheel("token-made", "1.0")
    upload(server, wheel, auth=("__token__", token.group(1)))
    key = token.group(1).split("_")[1]
    revoked = client.post("/-/account/tokens/revoke", data={"csrf": csrf_of(page.text), "key": key})
    assert revoked.status_code == 200 and f"Token {key} is revoked" in revoked.text
    refused = httpx.get(f"{server.url}/secret/simple/", auth=("__token__", token.group(1)))
    assert refused.status_code == 401


def test_forms_without_the_token_or_from_elsewhere_are_refused(server: LocalServer) -> None:
    client = login(server, ALICE)
    form: dict[str, Any] = {"description": "x", "index": "", "scope": "read", "expires": "30"}
    assert client.post("/-/account/tokens", data=form | {"csrf": "0" * 32}).status_code == 403
    page = client.get("/-/account")
    elsewhere = client.post(
        "/-/account/tokens", data=form | {"csrf": csrf_of(page.text)}, headers={"Origin": "https://evil.test"}
    )
    assert elsewhere.status_code == 403
    anonymous = httpx.post(f"{server.url}/-/account/tokens", data=form)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/-/login"


def test_a_read_only_token_cannot_mint_an_upload_token(server: LocalServer) -> None:
    client = login(server, ALICE)
    page = client.get("/-/account")
    form = {"csrf": csrf_of(page.text), "description": "", "index": "local", "scope": "read", "expires": "30"}
    read_token = re.search(r'value="(rnt_[^"]+)"', client.post("/-/account/tokens", data=form).text)
    assert read_token
    basic = httpx.Client(base_url=server.url, auth=("__token__", read_token.group(1)))
    page = basic.get("/-/account")
    assert page.status_code == 200
    wider = basic.post("/-/account/tokens", data=form | {"csrf": csrf_of(page.text), "scope": "upload"})
    assert wider.status_code == 400 and "read-only" in wider.text


def test_wrong_passwords_and_logging_out(server: LocalServer) -> None:
    wrong = post_login(httpx.Client(), server, {"username": "alice", "password": "nope"})
    assert wrong.status_code == 401 and "invalid credentials" in wrong.text
    client = login(server, BOB)
    page = client.get("/-/account")
    out = client.post("/-/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    assert client.get("/-/account").status_code == 303  # to the login page: the session is revoked


def test_changing_the_password(server: LocalServer) -> None:
    server.cli("user", "add", "carol", "--password-stdin", stdin="carol-password\n")
    client = login(server, ("carol", "carol-password"))
    csrf = csrf_of(client.get("/-/account").text)
    mismatch = client.post(
        "/-/account/password", data={"csrf": csrf, "current": "carol-password", "new": "a" * 9, "repeat": "b" * 9}
    )
    assert mismatch.status_code == 400
    wrong = client.post(
        "/-/account/password", data={"csrf": csrf, "current": "nope", "new": "a" * 9, "repeat": "a" * 9}
    )
    assert wrong.status_code == 403
    done = client.post(
        "/-/account/password",
        data={"csrf": csrf, "current": "carol-password", "new": "new-password", "repeat": "new-password"},
    )
    assert done.status_code == 200 and "password is changed" in done.text
    login(server, ("carol", "new-password"))


def test_login_sends_people_to_this_server_only(server: LocalServer) -> None:
    response = post_login(httpx.Client(), server, {"username": "alice", "password": ALICE[1], "next": "//evil.test/"})
    assert response.headers["location"] == "/"


def test_the_login_form_has_a_token_of_its_own(server: LocalServer) -> None:
    """Login CSRF: a page of another site must not log a browser into an account of its choosing."""
    form = {"username": "alice", "password": ALICE[1]}
    browser = httpx.Client(base_url=server.url)
    shown = browser.get("/-/login")
    cookie = shown.headers["set-cookie"]
    assert "rennet_login=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/-/login" in cookie
    token = csrf_of(shown.text)
    for sent in ({}, {"csrf": ""}, {"csrf": "0" * 32}):
        refused = browser.post("/-/login", data=form | sent)
        assert refused.status_code == 403 and "login form has expired" in refused.text
        assert "rennet_session" not in refused.headers.get("set-cookie", "")
        assert csrf_of(refused.text) == token  # a form to try again with
    elsewhere_token = csrf_of(httpx.get(f"{server.url}/-/login").text)  # another browser's token
    assert browser.post("/-/login", data=form | {"csrf": elsewhere_token}).status_code == 403
    without_cookie = httpx.post(f"{server.url}/-/login", data=form | {"csrf": token})
    assert without_cookie.status_code == 403
    done = browser.post("/-/login", data=form | {"csrf": token})
    assert done.status_code == 303 and "rennet_session=" in done.headers["set-cookie"]
    assert "rennet_login" not in browser.cookies  # used up
    assert server.get("/-/account", auth=ALICE).status_code == 200  # HTTP Basic needs no form


def test_the_stylesheet_and_script_are_served_by_rennet(server: LocalServer) -> None:
    css = server.get("/-/static/rennet.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert server.get("/-/static/rennet.js").status_code == 200
    assert server.get("/-/static/../app.py").status_code == 404


ROOT = ("root", "root-password")


def test_admins_yank_unyank_and_delete_releases(server: LocalServer) -> None:
    upload(server, make_wheel("managed", "1.0"), make_wheel("managed", "2.0"))
    client = login(server, ROOT)
    page = client.get("/-/project/local/managed/")
    assert 'value="yank"' in page.text
    csrf = csrf_of(page.text)
    action = "/-/manage/local/managed/release"
    yanked = client.post(action, data={"csrf": csrf, "version": "2.0", "action": "yank", "reason": "broken <b>"})
    assert yanked.status_code == 303
    shown = client.get(yanked.headers["location"])
    assert "Yank: 1 file(s) of 2.0" in shown.text and "yanked: broken &lt;b&gt;" in shown.text
    assert 'data-yanked="broken &lt;b&gt;"' in server.get("/local/simple/managed/").text
    client.post(action, data={"csrf": csrf, "version": "2.0", "action": "unyank"})
    assert "data-yanked" not in server.get("/local/simple/managed/").text
    asked = client.post(action, data={"csrf": csrf, "version": "1.0", "action": "delete"})
    assert asked.status_code == 200 and "Delete managed 1.0?" in asked.text  # nothing deleted yet
    assert "managed-1.0-py3-none-any.whl" in server.get("/local/simple/managed/").text
    confirmed = client.post(
        action, data={"csrf": csrf_of(asked.text), "version": "1.0", "action": "delete", "confirmed": "yes"}
    )
    assert confirmed.status_code == 303
    assert "managed-1.0-py3-none-any.whl" not in server.get("/local/simple/managed/").text


def test_admins_set_a_project_s_status(server: LocalServer) -> None:
    upload(server, make_wheel("statused", "1.0"))
    client = login(server, ROOT)
    csrf = csrf_of(client.get("/-/project/local/statused/").text)
    action = "/-/manage/local/statused/status"
    done = client.post(action, data={"csrf": csrf, "status": "deprecated", "reason": "use other"})
    assert done.status_code == 303
    assert 'content="deprecated"' in server.get("/local/simple/statused/").text
    asked = client.post(action, data={"csrf": csrf, "status": "quarantined"})
    assert "Quarantine statused?" in asked.text
    assert client.post(action, data={"csrf": csrf, "status": "bogus"}).status_code == 400


def test_only_admins_manage(server: LocalServer) -> None:
    upload(server, make_wheel("guarded", "1.0"))
    client = login(server, ALICE)  # uploads to local, but is no admin
    page = client.get("/-/project/local/guarded/")
    assert 'value="yank"' not in page.text
    refused = client.post(
        "/-/manage/local/guarded/release", data={"csrf": csrf_of(page.text), "version": "1.0", "action": "yank"}
    )
    assert refused.status_code == 403
    assert client.get("/-/admin/users").status_code == 403
    assert "data-yanked" not in server.get("/local/simple/guarded/").text


def test_admins_add_promote_and_remove_users(server: LocalServer) -> None:
    client = login(server, ROOT)
    page = client.get("/-/admin/users")
    assert page.status_code == 200 and "alice" in page.text
    csrf = csrf_of(page.text)
    added = client.post("/-/admin/users", data={"csrf": csrf, "name": "erin", "password": "erin-password"})
    assert added.status_code == 200 and "User erin is added" in added.text
    assert (
        client.post("/-/admin/users", data={"csrf": csrf, "name": "erin", "password": "erin-password"}).status_code
        == 400
    )
    login(server, ("erin", "erin-password"))
    client.post("/-/admin/users/change", data={"csrf": csrf, "name": "erin", "action": "admin"})
    assert server.get("/-/admin/users", auth=("erin", "erin-password")).status_code == 200
    asked = client.post("/-/admin/users/change", data={"csrf": csrf, "name": "erin", "action": "remove"})
    assert "Remove user erin?" in asked.text
    client.post("/-/admin/users/change", data={"csrf": csrf, "name": "erin", "action": "remove", "confirmed": "yes"})
    gone = post_login(httpx.Client(), server, {"username": "erin", "password": "erin-password"})
    assert gone.status_code == 401


def test_the_session_cookie_is_secure_behind_tls(rennet_factory: Callable[..., LocalServer]) -> None:
    behind_tls = rennet_factory(env={"RENNET_FORWARDED_ALLOW_IPS": "127.0.0.1"})
    add_user(behind_tls, *ALICE)
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "packages.example.com"}
    shown = httpx.get(f"{behind_tls.url}/-/login", headers=headers)
    assert "Secure" in shown.headers["set-cookie"]
    # httpx sends no Secure cookie over plain http: sent by hand, as a browser behind TLS would send it
    form = {"username": ALICE[0], "password": ALICE[1], "csrf": csrf_of(shown.text)}
    nonce = {"Cookie": f"rennet_login={shown.cookies['rennet_login']}"}
    response = httpx.post(f"{behind_tls.url}/-/login", data=form, headers=headers | nonce)
    assert response.status_code == 303
    cookie = response.headers.get_list("set-cookie")[0]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_the_login_form_is_limited_like_the_api(server: LocalServer) -> None:
    # A user of its own: a password proven right within the last minute (by another test) is let in unthrottled.
    gina = ("gina", "gina-password")
    add_user(server, *gina)
    with elsewhere() as client:
        for _ in range(10):
            failed = post_login(client, server, {"username": gina[0], "password": "guess"})
            assert failed.status_code == 401
        limited = post_login(client, server, {"username": gina[0], "password": gina[1]})
        assert limited.status_code == 429 and "too many failed logins" in limited.text
    login(server, gina)  # from another address: gina is not locked out
