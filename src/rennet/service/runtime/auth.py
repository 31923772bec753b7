"""Authentication for HTTP Basic credentials: user + password, or `__token__` + API token, as PyPI does.

argon2 is slow by design, so a verified credential is remembered (as a hash, never in clear) for a minute;
any change to users or tokens, in any worker, forgets them all at once. Failed attempts, and attempts still
being verified, are counted per client address and answered with 429 past a limit.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor

from rennet.domain.access import Identity
from rennet.service.errors import ServiceError
from rennet.service.runtime.resources import WorkerResources, database_unavailable
from rennet.service.singleflight import SingleFlight
from rennet.storage.accounts import Accounts
from rennet.storage.database import DatabaseUnavailable
from rennet.storage.generations import Generation

__all__ = ["ACCOUNTS_SLOT", "AuthFailed", "Authenticator"]

ACCOUNTS_SLOT = ("-accounts", "")  # a generation slot bumped on every change to users or tokens
REMEMBER_SECONDS = 60.0
MAX_REMEMBERED = 10_000
MAX_FAILURES = 10
FAILURE_WINDOW = 60.0
# Each argon2 verification takes 64 MiB and a fifth of a second of CPU: a few at a time bound the memory a
# burst of logins takes, and keep them off the database threads that every page and file request needs.
PASSWORD_THREADS = 2


class AuthFailed(ServiceError):
    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(status, message)


class Authenticator:
    def __init__(self, shared: WorkerResources, accounts: Accounts) -> None:
        self.shared = shared
        self.accounts = accounts
        self._remembered: OrderedDict[str, tuple[float, Generation, Identity]] = OrderedDict()
        self._failures: dict[str, deque[float]] = {}
        self._attempts: Counter[str] = Counter()  # per address: verifications under way
        self._flights: SingleFlight[Identity | None] = SingleFlight()
        self._passwords: ThreadPoolExecutor | None = None

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
        if remembered and remembered[0] > self.shared.clock.monotonic() and remembered[1] == dependency:
            # Proven right moments ago: no guessing to slow down, so a throttled address still gets in.
            return remembered[2]
        identity = await self._attempt(key, user, secret, client)
        if identity is None:
            raise AuthFailed("invalid credentials" if user != "__token__" else "invalid, expired or revoked token")
        self._remembered[key] = (self.shared.clock.monotonic() + REMEMBER_SECONDS, dependency, identity)
        while len(self._remembered) > MAX_REMEMBERED:
            self._remembered.popitem(last=False)
        return identity

    async def _attempt(self, key: str, user: str, secret: str, client: str) -> Identity | None:
        """Verify the credentials, counted against the address's limit from the start, not once they failed:
        otherwise many guesses sent at once would all be verified before the first failure counts.

        The same credentials from the same address while they are being verified share that verification (an
        installer sends its first requests in parallel), and count once."""
        return await self._flights.run((client, key), lambda: self._start(user, secret, client))

    def _start(self, user: str, secret: str, client: str) -> Awaitable[Identity | None]:
        # Raises (429) before anything is under way; a verification begun counts at once.
        self._check_rate(client)
        self._attempts[client] += 1
        return self._settle(user, secret, client)

    async def _settle(self, user: str, secret: str, client: str) -> Identity | None:
        try:
            identity = await self._verify(user, secret)
        finally:
            self._attempts[client] -= 1
            if self._attempts[client] <= 0:
                del self._attempts[client]
        if identity is None:
            self._fail(client)
        return identity

    async def _verify(self, user: str, secret: str) -> Identity | None:
        if user == "__token__":
            found = await self.shared.db(self.accounts.check_token, secret)
            if found is None:
                return None
            owner, token = found
            return Identity(owner.name, owner.admin, token.index_name, token.scope)
        if self._passwords is None:
            self._passwords = ThreadPoolExecutor(PASSWORD_THREADS, thread_name_prefix="rennet-argon2")
        loop = asyncio.get_running_loop()
        try:
            account = await loop.run_in_executor(self._passwords, self.accounts.check_password, user, secret)
        except DatabaseUnavailable:
            raise database_unavailable() from None  # not a failed login: nobody's limit counts it
        return Identity(account.name, account.admin) if account else None

    def _check_rate(self, client: str) -> None:
        """429 once the address's recent failures and its attempts under way reach the limit."""
        recent = self._failures.get(client)
        if recent is not None:
            cutoff = self.shared.clock.monotonic() - FAILURE_WINDOW
            while recent and recent[0] < cutoff:
                recent.popleft()
            if not recent:
                del self._failures[client]
        if len(recent or ()) + self._attempts[client] >= MAX_FAILURES:
            raise AuthFailed("too many failed logins from this address; wait a minute", 429)

    def _fail(self, client: str) -> None:
        self._failures.setdefault(client, deque()).append(self.shared.clock.monotonic())
        if len(self._failures) > MAX_REMEMBERED:
            self._failures.pop(next(iter(self._failures)))
