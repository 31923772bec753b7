"""Screenshots of the web UI's main pages for the documentation (docs/screenshots/), in Debian's Chromium.

    .venv/bin/python scripts/screenshots.py

Starts an in-process rennet on a temporary data directory with a fake upstream (as the tests do: nothing is
fetched from PyPI), uploads a few sample projects, and writes landing.png, search.png, project.png, account.png
and project-phone.png (a phone-sized window).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright

from tests.support.accounts import add_user
from tests.support.dists import make_wheel
from tests.support.hosting import ALICE, upload
from tests.support.server import LocalServer
from tests.support.upstream import FakeUpstream

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
README = """# Acme widgets

Widgets for the Acme intranet: **fast**, typed, and tested.

```python
from acme_widgets import Widget

Widget("spanner").turn()
```

| Python | Status |
|--------|--------|
| 3.11+  | stable |
"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    upstream = FakeUpstream().start()
    upstream.add(make_wheel("requests", "2.32.3", description="HTTP for Humans."))
    with tempfile.TemporaryDirectory() as directory:
        server = LocalServer(
            Path(directory) / "data", upstream_url=upstream.url, config='[index.local]\nupload = ["alice"]\n'
        )
        server.start()
        try:
            add_user(server, *ALICE, admin=True)
            extra = (
                "Description-Content-Type: text/markdown",
                "Project-URL: Source, https://git.example.com/acme/widgets",
            )
            for version in ("1.0.0", "1.1.0", "1.2.0"):
                upload(
                    server,
                    make_wheel(
                        "acme-widgets", version, requires_python=">=3.11", extra_metadata=extra, description=README
                    ),
                )
            upload(server, make_wheel("acme-auth", "0.4.1"), make_wheel("acme-reports", "2.0"))
            server.get("/simple/requests/")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1100, "height": 800}, base_url=server.url)
                page.goto("/")
                page.screenshot(path=OUT / "landing.png", full_page=True)
                page.goto("/search?q=acme")
                page.screenshot(path=OUT / "search.png", full_page=True)
                page.goto("/-/project/local/acme-widgets/")
                page.screenshot(path=OUT / "project.png", full_page=True)
                page.goto("/-/login")
                page.get_by_label("User name").fill(ALICE[0])
                page.get_by_label("Password").fill(ALICE[1])
                page.get_by_role("button", name="Log in").click()
                page.goto("/-/account")
                page.screenshot(path=OUT / "account.png", full_page=True)
                phone = browser.new_page(viewport={"width": 390, "height": 844}, base_url=server.url)
                phone.goto("/-/project/local/acme-widgets/")
                phone.screenshot(path=OUT / "project-phone.png")
                browser.close()
        finally:
            server.stop()
            upstream.stop()


if __name__ == "__main__":
    main()
