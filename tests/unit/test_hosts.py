"""Where a proxy may fetch files from: the upstream's host, trusted hosts, or https from public addresses."""

from __future__ import annotations

import pytest

from rennet.domain.hosts import TrustedHosts, check_host_entry, refuse_url

UPSTREAM = TrustedHosts.of(["upstream.test"])


@pytest.mark.parametrize(
    "url",
    [
        "https://upstream.test/files/a-1.0.tar.gz",
        "http://upstream.test:8080/files/a-1.0.tar.gz",  # the upstream's own host, any port and scheme
        "http://UPSTREAM.test./files/a-1.0.tar.gz",
        "https://files.elsewhere.test/a-1.0.tar.gz",  # https elsewhere: its addresses are checked when resolved
        "https://93.184.216.34/a-1.0.tar.gz",  # a public address
    ],
)
def test_fetched(url: str) -> None:
    assert refuse_url(url, UPSTREAM) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://files.elsewhere.test/a-1.0.tar.gz", "plain http from elsewhere"),
        ("https://127.0.0.1/a-1.0.tar.gz", "127.0.0.1 is a private or local address"),
        ("https://10.1.2.3/a-1.0.tar.gz", "10.1.2.3 is a private or local address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a private or local address"),
        ("https://[::1]/a-1.0.tar.gz", "::1 is a private or local address"),
        ("https://[fd00::1]/a-1.0.tar.gz", "fd00::1 is a private or local address"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("ftp://upstream.test/a-1.0.tar.gz", "only http:// and https://"),
        ("https:///a-1.0.tar.gz", "only http:// and https://"),
    ],
)
def test_refused(url: str, reason: str) -> None:
    refusal = refuse_url(url, UPSTREAM)
    assert refusal is not None and reason in refusal


def test_trusted_names_addresses_and_networks() -> None:
    trusted = UPSTREAM | TrustedHosts.of(["mirror.corp", "10.0.0.0/8", "192.168.1.7"])
    assert refuse_url("http://mirror.corp/a-1.0.tar.gz", trusted) is None
    assert refuse_url("http://10.20.30.40/a-1.0.tar.gz", trusted) is None
    assert refuse_url("http://192.168.1.7/a-1.0.tar.gz", trusted) is None
    assert refuse_url("http://192.168.1.8/a-1.0.tar.gz", trusted) is not None
    assert trusted.allows_address("10.9.9.9") and trusted.allows_address("8.8.8.8")
    assert not trusted.allows_address("127.0.0.1") and not trusted.allows_address("not an address")


def test_every_host() -> None:
    trusted = TrustedHosts.of(["*"])
    assert refuse_url("http://10.20.30.40/a-1.0.tar.gz", trusted) is None
    assert refuse_url("http://files.elsewhere.test/a-1.0.tar.gz", trusted) is None
    assert trusted.trusts_name("anything.test") and trusted.allows_address("127.0.0.1")
    assert refuse_url("file:///etc/passwd", trusted) is not None
    assert (UPSTREAM | trusted).everything


@pytest.mark.parametrize("entry", ["*", "files.corp.example", "10.0.0.0/8", "fd00::/8", "192.168.0.1", "localhost"])
def test_host_entries(entry: str) -> None:
    assert check_host_entry(entry) == entry


@pytest.mark.parametrize("entry", ["http://files.corp", "a b", "", "x" * 300, "files..corp", "10.0.0.0/33"])
def test_bad_host_entries(entry: str) -> None:
    with pytest.raises(ValueError, match="neither a host name"):
        check_host_entry(entry)
