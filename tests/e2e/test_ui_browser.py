"""The web UI in a real browser (Debian's Chromium driven by Playwright) against a real `rennet serve`, each
journey with JavaScript on and off: find a hosted and a cached package from the landing page, read its README,
see versions, files and uploader, copy an install command, log in (and a login form sent without its cookie),
create and revoke a token, yank and delete a release; keyboard navigation and labelled fields; pages at a phone's
width; hostile metadata that must run nothing.

Playwright's own browser download does not work on these machines: scripts/system-packages installs Debian's
chromium, and the tests launch /usr/bin/chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from tests.support.accounts import add_user
from tests.support.databases import Database
from tests.support.dists import Dist, make_wheel, metadata_text, wheel_file
from tests.support.hosting import ALICE, upload
from tests.support.server import RennetServer
from tests.support.upstream import FakeUpstream

CHROMIUM = Path("/usr/bin/chromium")
ROOT = ("root", "root-password")
CONFIG = '[index.local]\nupload = ["alice"]\n'
README = "# Acme widgets\n\nThe **best** widgets, for `pip` and uv.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
HOSTILE_README = (
    "<script>window.__owned = 'script'</script>\n\n"
    '<img src="x" onerror="window.__owned = \'img\'">\n\n'
    "[click me](javascript:window.__owned='link')\n"
)


def hostile_wheel() -> Dist:
    metadata = metadata_text(
        "hostile",
        "1.0",
        summary="<img src=x onerror=\"window.__owned='summary'\">",
        extra=(
            "Description-Content-Type: text/markdown",
            "Project-URL: Home, javascript:window.__owned='url'",
        ),
        description=HOSTILE_README,
    ).encode()
    return Dist(*wheel_file("hostile", "1.0", metadata), metadata)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, database: Database, module_upstream: FakeUpstream
) -> Iterator[RennetServer]:
    module_upstream.add(make_wheel("cached-gizmo", "3.1", description="Gizmos from upstream."))
    with database.server_catalog() as url:
        data = tmp_path_factory.mktemp("ui-browser") / "data"
        rennet = RennetServer(data, config=CONFIG, upstream_url=module_upstream.url, database_url=url).start()
        try:
            add_user(rennet, *ALICE)
            add_user(rennet, *ROOT, admin=True)
            widgets = make_wheel(
                "acme-widgets",
                "1.2.0",
                requires_python=">=3.9",
                extra_metadata=("Description-Content-Type: text/markdown",),
                description=README,
            )
            upload(rennet, make_wheel("acme-widgets", "1.0.0"), widgets, hostile_wheel())
            assert rennet.get("/simple/cached-gizmo/").status_code == 200  # the proxy caches it
            yield rennet
        finally:
            rennet.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for this module's tests. Not longer: while Playwright's sync API runs, its event loop is the
    thread's, and asyncio.run() in later tests of the same process would fail."""
    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's chromium (scripts/system-packages installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def js(request: pytest.FixtureRequest) -> bool:
    """Whether the browser runs the pages' JavaScript: every journey works without it."""
    return bool(request.param)


@pytest.fixture
def page(browser: Browser, server: RennetServer, js: bool) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=js, base_url=server.url)
    if js:
        context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield context.new_page()
    context.close()


def search_from_home(page: Page, words: str) -> None:
    page.goto("/")
    page.get_by_label("Find a package").fill(words)
    page.get_by_label("Find a package").press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))


def test_a_new_user_finds_reads_and_copies_the_install_command_of_a_hosted_package(page: Page, js: bool) -> None:
    search_from_home(page, "acme")
    result = page.get_by_role("link", name="acme-widgets")
    expect(result).to_be_visible()
    result.click()
    page.wait_for_url("**/-/project/local/acme-widgets/")
    expect(page.get_by_role("heading", name="Acme widgets")).to_be_visible()
    expect(page.locator(".readme strong")).to_have_text("best")
    expect(page.locator("details.release summary").first).to_contain_text("1.2.0")
    expect(page.locator("details.release summary").nth(1)).to_contain_text("1.0.0")
    expect(page.locator(".uploader").first).to_have_text("alice")
    command = page.get_by_role("textbox", name="pip command")
    expected = f"pip install --index-url {page.url.split('/-/')[0]}/local/simple/ acme-widgets"
    expect(command).to_have_value(expected)
    if js:
        page.get_by_role("button", name="Copy: pip command").click()
        assert page.evaluate("navigator.clipboard.readText()") == expected
    else:  # no button: the command is a read-only field, selected for copying by hand
        assert page.get_by_role("button", name="Copy: pip command").count() == 0
        command.focus()
        command.select_text()
        assert page.evaluate("document.getSelection().toString() || document.activeElement.value") == expected


def test_a_cached_package_is_found_and_described(page: Page) -> None:
    search_from_home(page, "gizmo")
    page.get_by_role("link", name="cached-gizmo").click()
    expect(page.get_by_text("Gizmos from upstream.")).to_be_visible()
    expect(page.locator("details.release summary").first).to_contain_text("3.1")


def log_in(page: Page, user: tuple[str, str]) -> None:
    page.goto("/-/login")
    page.get_by_label("User name").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("link", name=user[0])).to_be_visible()


def test_a_login_form_without_its_cookie_is_refused_and_the_next_one_works(page: Page) -> None:
    """The login form's token is checked against a cookie of its own (login CSRF): a form sent without it, as
    another site's page would send it, logs nobody in and says why; the form it answers with works."""
    page.goto("/-/login")
    page.context.clear_cookies()
    page.get_by_label("User name").fill(ALICE[0])
    page.get_by_label("Password").fill(ALICE[1])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("this login form has expired")
    expect(page.get_by_role("link", name=ALICE[0])).to_have_count(0)
    expect(page.get_by_label("User name")).to_have_value(ALICE[0])
    page.get_by_label("Password").fill(ALICE[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("link", name=ALICE[0])).to_be_visible()


def test_logging_in_and_making_and_revoking_a_token(page: Page) -> None:
    log_in(page, ALICE)
    page.get_by_role("link", name="alice").click()
    page.get_by_label("Description").fill("laptop")
    page.get_by_label("Index").select_option("local")
    page.get_by_label("Scope").select_option("upload")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_role("textbox", name="New token").input_value()
    assert token.startswith("rnt_")
    key = token.split("_")[1]
    page.goto("/-/account")
    expect(page.get_by_role("textbox", name="New token")).to_have_count(0)
    page.get_by_role("button", name=f"Revoke token {key}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Token {key} is revoked")
    expect(page.get_by_role("button", name=f"Revoke token {key}")).to_have_count(0)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


def test_an_admin_yanks_and_deletes_a_release(page: Page, js: bool, server: RennetServer) -> None:
    flavour = "js" if js else "nojs"
    project = f"yankee-{flavour}"
    upload(server, make_wheel(project, "1.0"), make_wheel(project, "2.0"))
    log_in(page, ROOT)
    page.goto(f"/-/project/local/{project}/")
    page.get_by_label("Reason for yanking 2.0").fill("broken build")
    page.get_by_role("button", name="Yank 2.0").click()
    expect(page.get_by_role("status")).to_contain_text("Yank: 1 file(s) of 2.0")
    expect(page.locator("details.release summary").first).to_contain_text("yanked")
    assert 'data-yanked="broken build"' in server.get(f"/local/simple/{project}/").text
    page.locator("details.release summary").nth(1).click()
    page.get_by_role("button", name="Delete 1.0").click()
    expect(page.get_by_role("heading", name=f"Delete {project} 1.0?")).to_be_visible()
    assert "1.0-py3-none-any.whl" in server.get(f"/local/simple/{project}/").text  # asked, not done
    page.get_by_role("button", name="Delete 1.0").click()
    expect(page.get_by_role("status")).to_contain_text("Delete: 1 file(s) of 1.0")
    assert f"{project.replace('-', '_')}-1.0-py3-none-any.whl" not in server.get(f"/local/simple/{project}/").text


def tab_to(page: Page, reached: str, presses: int = 30) -> None:
    """Press Tab until the JavaScript condition `reached` holds (Playwright evaluates it even with JavaScript off
    for the page)."""
    for _ in range(presses):
        if page.evaluate(reached):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{presses} presses of Tab never reached {reached}")


def test_keyboard_reaches_search_and_every_field_is_labelled(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    tab_to(page, "document.activeElement.id === 'q'")  # the main search box, after the skip link's target
    page.keyboard.type("acme")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=acme"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    tab_to(page, "document.activeElement.textContent === 'acme-widgets'")
    page.keyboard.press("Enter")
    page.wait_for_url("**/-/project/local/acme-widgets/")
    log_in(page, ROOT)
    for path in ("/", "/search?q=acme", "/-/project/local/acme-widgets/", "/-/account", "/-/admin/users", "/-/login"):
        page.goto(path)
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter(f => !(f.labels && f.labels.length) && !f.getAttribute('aria-label'))
                 .map(f => f.name || f.id)"""
        )
        assert unlabelled == [], f"fields without a label on {path}: {unlabelled}"


def test_pages_fit_a_phone_s_width(page: Page) -> None:
    """Readable on a phone: at 360 CSS pixels no page is wider than the screen (wide tables scroll in their own
    box, optional columns are hidden)."""
    page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/", "/search?q=acme", "/-/project/local/acme-widgets/", "/-/index/local/", "/-/login"):
        page.goto(path)
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{path} is {width[0]} px wide on a {width[1]} px screen"


def test_hostile_metadata_runs_nothing(page: Page, js: bool) -> None:
    dialogs: list[str] = []

    def opened(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", opened)
    for path in ("/-/project/local/hostile/", "/search?q=hostile", "/"):
        page.goto(path)
        if js:
            assert page.evaluate("window.__owned === undefined"), path
            scripts = page.evaluate("[...document.scripts].map(s => s.getAttribute('src'))")
            assert all(src and src.startswith("/-/static/rennet.js") for src in scripts), scripts
        hrefs = page.evaluate("[...document.querySelectorAll('[href]')].map(a => a.getAttribute('href'))")
        assert not [href for href in hrefs if href.strip().lower().startswith("javascript:")], path
        assert page.locator("[onerror], iframe").count() == 0, path
    page.goto("/search?q=hostile")
    expect(page.locator(".results .muted")).to_contain_text("<img src=x")  # as text
    assert dialogs == []
