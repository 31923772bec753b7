"""Authentication for HTTP Basic credentials: user + password, or `__token__` + API token, as PyPI does.

argon2 is slow by design, so a verified credential is remembered (as a hash, never in clear) for a minute;
any change to users or tokens, in any worker, forgets them all at once. Failed attempts are counted per client
address and answered with 429 past a limit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections import OrderedDict, deque

from rennet.domain.access import Identity
from rennet.service.base import ServiceError, Shared
from rennet.storage.accounts import Accounts

__all__ = ["ACCOUNTS_SLOT", "AuthFailed", "Authenticator"]

ACCOUNTS_SLOT = ("-accounts", "")  # a generation slot bumped on every change to users or tokens
REMEMBER_SECONDS = 60.0
MAX_REMEMBERED = 10_000
MAX_FAILURES = 10
FAILURE_WINDOW = 60.0


class AuthFailed(ServiceError):
    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(status, message)


class Authenticator:
    def __init__(self, shared: Shared, accounts: Accounts) -> None:
        self.shared = shared
        self.accounts = accounts
        self._remembered: OrderedDict[str, tuple[float, tuple[int, int], Identity]] = OrderedDict()
        self._failures: dict[str, deque[float]] = {}

    async def identify(self, authorization: str | None, client: str) -> Identity | None:
        """None without credentials; the identity for good ones; AuthFailed for bad ones."""
        if not authorization:
            return None
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise AuthFailed("only HTTP Basic authentication is supported")
        try:
            user, _, secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            self._check_rate(client)
            raise AuthFailed("malformed Basic credentials") from None
        key = hashlib.sha256(f"{user}\0{secret}".encode()).hexdigest()
        dependency = self.shared.dependency(*ACCOUNTS_SLOT)
        remembered = self._remembered.get(key)
        if remembered and remembered[0] > time.monotonic() and remembered[1] == dependency:
            # Proven right moments ago: no guessing to slow down, so a throttled address still gets in.
            return remembered[2]
        self._check_rate(client)
        identity = await self._verify(user, secret)
        if identity is None:
            self._fail(client)
            raise AuthFailed("invalid credentials" if user != "__token__" else "invalid, expired or revoked token")
        self._remembered[key] = (time.monotonic() + REMEMBER_SECONDS, dependency, identity)
        while len(self._remembered) > MAX_REMEMBERED:
            self._remembered.popitem(last=False)
        return identity

    async def _verify(self, user: str, secret: str) -> Identity | None:
        if user == "__token__":
            found = await self.shared.db(self.accounts.check_token, secret)
            if found is None:
                return None
            owner, token = found
            return Identity(owner.name, owner.admin, token.index_name, token.scope)
        account = await self.shared.db(self.accounts.check_password, user, secret)
        return Identity(account.name, account.admin) if account else None

    def _check_rate(self, client: str) -> None:
        recent = self._failures.get(client)
        if recent is None:
            return
        cutoff = time.monotonic() - FAILURE_WINDOW
        while recent and recent[0] < cutoff:
            recent.popleft()
        if not recent:
            del self._failures[client]
        elif len(recent) >= MAX_FAILURES:
            raise AuthFailed("too many failed logins from this address; wait a minute", 429)

    def _fail(self, client: str) -> None:
        self._failures.setdefault(client, deque()).append(time.monotonic())
        if len(self._failures) > MAX_REMEMBERED:
            self._failures.pop(next(iter(self._failures)))
