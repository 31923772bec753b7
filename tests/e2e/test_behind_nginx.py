"""rennet behind nginx with TLS, configured exactly as README.md shows: pip and uv install over https, uploads
pass through, and the URLs rennet writes say https."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import nginx, tls
from tests.support.accounts import add_user
from tests.support.dists import make_wheel
from tests.support.hosting import ALICE
from tests.support.installers import pip_install, uv_install
from tests.support.readme import readme_block
from tests.support.server import RennetServer
from tests.support.uploads import post_upload
from tests.support.upstream import FakeUpstream


@pytest.fixture
def behind_nginx(tmp_path: Path, upstream: FakeUpstream) -> Iterator[tuple[RennetServer, str, Path]]:
    upstream.add(make_wheel("public-dep", "1.0"))
    server = RennetServer(
        tmp_path / "data",
        upstream_url=upstream.url,
        config='forwarded_allow_ips = ["127.0.0.1"]\n[index.local]\nupload = ["alice"]\n',
    ).start()
    authority, certificate, key = tls.certificate(tmp_path)
    block = readme_block("nginx", "### Behind nginx, with TLS")
    block = (
        block.replace("listen 443 ssl;", "listen 127.0.0.1:LISTEN_PORT ssl;")
        .replace("/etc/ssl/certs/packages.example.com.pem", str(certificate))
        .replace("/etc/ssl/private/packages.example.com.key", str(key))
        .replace("http://127.0.0.1:4040", server.url)
    )
    try:
        with nginx.running(block, tmp_path / "nginx") as port:
            yield server, f"https://127.0.0.1:{port}", authority
    finally:
        server.stop()


def test_installs_and_uploads_over_tls(behind_nginx: tuple[RennetServer, str, Path], tmp_path: Path) -> None:
    server, base, certificate = behind_nginx
    add_user(server, *ALICE)
    private = make_wheel("private-app", "1.0", requires=("public-dep",))
    with httpx.Client(verify=ssl.create_default_context(cafile=certificate)) as client:
        uploaded = post_upload(base + "/local/", private, auth=ALICE, client=client)
        assert uploaded.status_code == 200, uploaded.text
        home = client.get(base + "/")
        assert f"{base}/simple/" in home.text  # https: X-Forwarded-Proto is believed from nginx
        document = client.get(base + "/pypi/private-app/json").json()
        assert document["urls"][0]["url"].startswith(f"{base}/")
    # This machine's environment names its CA bundle (REQUESTS_CA_BUNDLE), which requests prefers to --cert.
    trust = {"REQUESTS_CA_BUNDLE": str(certificate), "SSL_CERT_FILE": str(certificate)}
    pip = pip_install(f"{base}/simple/", "private-app", target=tmp_path / "pip", env=trust)
    assert pip.returncode == 0, pip.stderr
    assert (tmp_path / "pip" / "public_dep").is_dir()
    uv = uv_install(
        f"{base}/simple/",
        "private-app",
        target=tmp_path / "uv",
        cache_dir=tmp_path / "uv-cache",
        env=trust,
    )
    assert uv.returncode == 0, uv.stderr
