"""The client's address, scheme and host as a trusted reverse proxy saw them (X-Forwarded-For, -Proto, -Host).

Behind nginx every request comes from nginx: without this, the failed-login limit would count every client as
one, and the URLs rennet writes (the landing page, the JSON API) would say http:// behind TLS. Only the proxies
named in `forwarded_allow_ips` are believed, as uvicorn and gunicorn do; anyone else could claim any address.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from rennet.domain.hosts import TrustedHosts, is_address

__all__ = ["ForwardedHeaders"]


class ForwardedHeaders:
    def __init__(self, app: ASGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        self._trusted = TrustedHosts.of(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._trusts(scope.get("client")):
            headers = {key.lower(): value for key, value in scope["headers"]}
            if forwarded_for := headers.get(b"x-forwarded-for"):
                client = self._client(forwarded_for.decode("latin-1"))
                if client is not None:
                    scope["client"] = (client, 0)
            if (proto := headers.get(b"x-forwarded-proto", b"").strip().lower()) in (b"http", b"https"):
                scope["scheme"] = proto.decode()
            if host := headers.get(b"x-forwarded-host", b"").split(b",")[0].strip():
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"host"] + [(b"host", host)]
        await self.app(scope, receive, send)

    def _trusts(self, peer: tuple[str, int] | None) -> bool:
        # "*" trusts a peer that is no address too (a Unix socket's).
        return peer is not None and (self._trusted.everything or self._trusted.trusts_address(peer[0]))

    def _client(self, forwarded_for: str) -> str | None:
        """The nearest address that is not one of our proxies: each proxy appends the address it was reached
        from, so what comes before the first untrusted one (from the right) could have been written by anyone."""
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._trusts((hop, 0)):
                return hop if is_address(hop) else None
        return hops[0] if hops and is_address(hops[0]) else None
