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
    yield from _behind_nginx(tmp_path, upstream, "")


@pytest.fixture
def sending_nginx(tmp_path: Path, upstream: FakeUpstream) -> Iterator[tuple[RennetServer, str, Path]]:
    """nginx sends the files rennet holds (X-Accel-Redirect), configured as the README shows."""
    upstream.add(make_wheel("public-dep", "1.0"))
    settings = 'accel_redirect = "/_rennet_blobs/"\n[index.secret]\ntype = "hosted"\nprivate = true\n'
    yield from _behind_nginx(tmp_path, upstream, settings + 'read = ["alice"]\nupload = ["alice"]\n')


def _behind_nginx(tmp_path: Path, upstream: FakeUpstream, config: str) -> Iterator[tuple[RennetServer, str, Path]]:
    data_dir = tmp_path / "data"
    base = 'forwarded_allow_ips = ["127.0.0.1"]\n'
    server = RennetServer(
        data_dir, upstream_url=upstream.url, config=base + config + '[index.local]\nupload = ["alice"]\n'
    ).start()
    authority, certificate, key = tls.certificate(tmp_path)
    block = readme_block("nginx", "### Behind nginx, with TLS")
    block = (
        block.replace("listen 443 ssl;", "listen 127.0.0.1:LISTEN_PORT ssl;")
        .replace("/etc/ssl/certs/packages.example.com.pem", str(certificate))
        .replace("/etc/ssl/private/packages.example.com.key", str(key))
        .replace("server 127.0.0.1:4040;", f"server {server.url.removeprefix('http://')};")
    )
    if "accel_redirect" in config:
        sending = readme_block("nginx", "### nginx sends the files").replace("/var/lib/rennet/", f"{data_dir}/")
        block = block.rstrip().removesuffix("}") + sending + "}\n"
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


def test_nginx_sends_held_files_that_rennet_authorized(
    sending_nginx: tuple[RennetServer, str, Path], tmp_path: Path
) -> None:
    server, base, certificate = sending_nginx
    add_user(server, *ALICE)
    public, private = make_wheel("sent-thing", "1.0", padding=200_000), make_wheel("secret-thing", "1.0")
    with httpx.Client(verify=ssl.create_default_context(cafile=certificate)) as client:
        for index, dist in (("local", public), ("secret", private)):
            assert post_upload(f"{base}/{index}/", dist, auth=ALICE, client=client).status_code == 200
        url, etag, size = f"{base}/local/files/sent-thing/{public.filename}", f'"{public.sha256}"', len(public.data)

        whole = client.get(url)
        assert (whole.status_code, whole.content) == (200, public.data)
        assert (whole.headers["etag"], whole.headers["content-length"]) == (etag, str(size))
        assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "last-modified" in whole.headers  # nginx's own: rennet never sends one
        assert whole.headers["x-request-id"]
        part = client.get(url, headers={"Range": "bytes=100-199", "If-Range": etag})
        assert (part.status_code, part.content) == (206, public.data[100:200])
        assert part.headers["content-range"] == f"bytes 100-199/{size}"
        assert client.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        head = client.head(url)
        assert (head.status_code, head.headers["content-length"]) == (200, str(size))

        secret = f"{base}/secret/files/secret-thing/{private.filename}"
        assert client.get(secret).status_code == 401
        allowed = client.get(secret, auth=ALICE)
        assert (allowed.status_code, allowed.content) == (200, private.data)
        assert allowed.headers["cache-control"] == "private, max-age=31536000, immutable"
        blob = f"{base}/_rennet_blobs/{private.sha256[:2]}/{private.sha256[2:4]}/{private.sha256}"
        assert client.get(blob).status_code == 404  # internal: only rennet's answers lead there

    direct = httpx.get(server.url + f"/local/files/sent-thing/{public.filename}")
    assert direct.content == b""  # rennet sent no bytes itself
    assert (
        direct.headers["x-accel-redirect"]
        == f"/_rennet_blobs/{public.sha256[:2]}/{public.sha256[2:4]}/{public.sha256}"
    )

    trust = {"REQUESTS_CA_BUNDLE": str(certificate), "SSL_CERT_FILE": str(certificate)}
    pip = pip_install(f"{base}/local/simple/", "sent-thing", target=tmp_path / "pip", env=trust)
    assert pip.returncode == 0, pip.stderr
