"""Which hosts a proxy may fetch from: its upstream's page decides what to fetch, not where rennet may go.

A page can list any URL. Fetched blindly, a page that points at an internal address (a metadata service, an admin
port, a database) makes rennet fetch it, cache it and serve it to anyone. So a file is fetched only from the
upstream's own host, from hosts the index's settings trust (`file_hosts`: names, addresses or networks), or over
https from a host whose every address is public. The addresses are checked where names are resolved (see
rennet.upstream.client), so a name cannot point elsewhere between the check and the connection.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["EVERY_HOST", "TrustedHosts", "check_host_entry", "is_address", "refuse_url"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


EVERY_HOST = "*"  # in file_hosts: the upstream may send rennet anywhere (PyPI's own pages, by default)


@dataclass(frozen=True, slots=True)
class TrustedHosts:
    """Hosts that may be fetched from whatever their addresses: names, and networks of addresses; or all."""

    names: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()
    everything: bool = False

    @classmethod
    def of(cls, entries: Iterable[str]) -> TrustedHosts:
        names: set[str] = set()
        networks: list[Network] = []
        everything = False
        for entry in entries:
            network = _network(entry)
            if entry.strip() == EVERY_HOST:
                everything = True
            elif network is None:
                names.add(entry.strip().lower().rstrip("."))
            else:
                networks.append(network)
        return cls(frozenset(names), tuple(networks), everything)

    def __or__(self, other: TrustedHosts) -> TrustedHosts:
        return TrustedHosts(
            self.names | other.names, self.networks + other.networks, self.everything or other.everything
        )

    def trusts_name(self, host: str) -> bool:
        return self.everything or host.lower().rstrip(".") in self.names

    def trusts_address(self, address: str) -> bool:
        """An address inside a trusted network (a single trusted address is a network of one)."""
        ip = _address(address)
        return ip is not None and (self.everything or any(ip in network for network in self.networks))

    def allows_address(self, address: str) -> bool:
        """A public address, or a trusted one."""
        ip = _address(address)
        return ip is not None and (ip.is_global or self.trusts_address(address))


def refuse_url(url: str, trusted: TrustedHosts) -> str | None:
    """Why rennet must not fetch `url`, or None. Host names that are not trusted are checked again when they
    are resolved; here only what the URL itself says."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return "only http:// and https:// URLs with a host are fetched"
    if trusted.trusts_name(host) or trusted.trusts_address(host):
        return None
    if _address(host) is not None and not trusted.allows_address(host):
        return f"{host} is a private or local address (trust it with file_hosts)"
    if parts.scheme != "https":
        return f"{host} is not the upstream's host, and plain http from elsewhere is not fetched (file_hosts)"
    return None


def check_host_entry(entry: str) -> str:
    """An entry of `file_hosts` as given, or ValueError with a sentence."""
    text = entry.strip()
    if text != EVERY_HOST and _network(text) is None and not _is_host_name(text):
        raise ValueError(f"{entry!r} is neither a host name, an address nor a network like 10.0.0.0/8")
    return text


def _is_host_name(text: str) -> bool:
    labels = text.rstrip(".").split(".")
    return (
        bool(text)
        and len(text) <= 253
        and all(0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii() for label in labels)
    )


def is_address(text: str) -> bool:
    """Whether the text is an IPv4 or IPv6 address (not a name)."""
    return _address(text) is not None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # without an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return None


def _network(entry: str) -> Network | None:
    try:
        return ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None
