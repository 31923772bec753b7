"""Authentication for HTTP Basic credentials: user + password, or `__token__` + API token, as PyPI does.

argon2 is slow by design, so a verified credential is remembered (as a hash, never in clear) for a minute, never
past the token's expiry; any change to users or tokens, in any worker, forgets them all at once.

Guessing is limited per client address *and* user name: failed password attempts, and attempts still being
verified, count against that pair only, and past the limit that pair gets 429. Failures are kept in the catalog,
so the limit holds across the worker processes of a host and across hosts. So nobody's failures lock out
another user at the same address (behind a reverse proxy or a company NAT every client may share one; see
`forwarded_allow_ips`). Tokens are not limited: their 256-bit secrets cannot be guessed, and a CI job's valid
token is never refused because of what someone else tried.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections import Counter, OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rennet.domain.access import Identity
from rennet.service.errors import ServiceError
from rennet.service.runtime.resources import WorkerResources
from rennet.service.singleflight import SingleFlight
from rennet.storage.accounts import ACCOUNTS_SLOT, TOKEN_USER, Accounts
from rennet.storage.generations import Generation

__all__ = ["AuthFailed", "Authenticator"]

REMEMBER_SECONDS = 60.0
MAX_REMEMBERED = 10_000
MAX_FAILURES = 10
FAILURE_WINDOW = 60.0
# Each argon2 verification takes 64 MiB and a fifth of a second of CPU: a few at a time bound the memory a
# burst of logins takes, and keep them off the database threads that every page and file request needs.
PASSWORD_THREADS = 2

Who = tuple[str, str]  # (client address, user name): what failures are counted against


class AuthFailed(ServiceError):
    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(status, message)


@dataclass(frozen=True, slots=True)
class _Verified:
    identity: Identity
    expires_at: float | None  # a token's expiry (wall clock), None for passwords and tokens that never expire


@dataclass(frozen=True, slots=True)
class _Remembered:
    until: float  # monotonic
    dependency: Generation
    identity: Identity


class Authenticator:
    def __init__(self, shared: WorkerResources, accounts: Accounts) -> None:
        self.shared = shared
        self.accounts = accounts
        self._remembered: OrderedDict[str, _Remembered] = OrderedDict()
        self._failures: dict[Who, deque[float]] = {}  # this worker's, until the catalog has them
        self._attempts: Counter[Who] = Counter()  # verifications under way
        self._flights: SingleFlight[_Verified | None] = SingleFlight()
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
            raise AuthFailed("malformed Basic credentials") from None
        key = hashlib.sha256(f"{user}\0{secret}".encode()).hexdigest()
        dependency = self.shared.dependency(*ACCOUNTS_SLOT)
        clock = self.shared.clock
        remembered = self._remembered.get(key)
        if remembered and remembered.until > clock.monotonic() and remembered.dependency == dependency:
            # Proven right moments ago: no guessing to slow down, so a throttled address still gets in.
            return remembered.identity
        verified = await self._attempt(key, user, secret, (client, user))
        if verified is None:
            raise AuthFailed("invalid credentials" if user != TOKEN_USER else "invalid, expired or revoked token")
        lifetime = REMEMBER_SECONDS
        if verified.expires_at is not None:
            lifetime = min(lifetime, verified.expires_at - clock.now())
        self._remembered[key] = _Remembered(clock.monotonic() + lifetime, dependency, verified.identity)
        while len(self._remembered) > MAX_REMEMBERED:
            self._remembered.popitem(last=False)
        return verified.identity

    async def _attempt(self, key: str, user: str, secret: str, who: Who) -> _Verified | None:
        """Verify the credentials, counted against the limit from the start, not once they failed: otherwise many
        guesses sent at once would all be verified before the first failure counts.

        The same credentials from the same address while they are being verified share that verification (an
        installer sends its first requests in parallel), and count once."""
        return await self._flights.run((who, key), lambda: self._start(user, secret, who))

    async def _start(self, user: str, secret: str, who: Who) -> _Verified | None:
        if user == TOKEN_USER:
            return await self._verify_token(secret)
        elsewhere = await self.shared.db(self.accounts.failed_logins, *who, self.shared.clock.now() - FAILURE_WINDOW)
        # From here to the count of this attempt nothing awaits: guesses sent at once are checked one by one.
        self._check_rate(who, elsewhere)
        self._attempts[who] += 1
        try:
            verified = await self._verify_password(user, secret)
            if verified is None:
                self._fail(who)
                await self.shared.db(self.accounts.note_failed_login, *who, self.shared.clock.now())
        finally:
            self._attempts[who] -= 1
            if self._attempts[who] <= 0:
                del self._attempts[who]
        return verified

    async def _verify_token(self, secret: str) -> _Verified | None:
        found = await self.shared.db(self.accounts.check_token, secret, self.shared.clock.now())
        if found is None:
            return None
        owner, token = found
        return _Verified(Identity(owner.name, owner.admin, token.index_name, token.scope), token.expires_at)

    async def _verify_password(self, user: str, secret: str) -> _Verified | None:
        if self._passwords is None:
            self._passwords = ThreadPoolExecutor(PASSWORD_THREADS, thread_name_prefix="rennet-argon2")
        loop = asyncio.get_running_loop()
        # A database that is down raises DatabaseUnavailable (503 at the web edge): not a failed login.
        account = await loop.run_in_executor(self._passwords, self.accounts.check_password, user, secret)
        return _Verified(Identity(account.name, account.admin), None) if account else None

    def _check_rate(self, who: Who, recorded: int) -> None:
        """429 once the recent failures of this address and user name and the attempts under way in this worker
        reach the limit. `recorded` is what the catalog counts (every process of every host, read a moment ago);
        this worker's own failures, kept in memory too, count even before the catalog has them."""
        recent = self._failures.get(who)
        if recent is not None:
            cutoff = self.shared.clock.monotonic() - FAILURE_WINDOW
            while recent and recent[0] < cutoff:
                recent.popleft()
            if not recent:
                del self._failures[who]
        if max(recorded, len(recent or ())) + self._attempts[who] >= MAX_FAILURES:
            raise AuthFailed(f"too many failed logins as {who[1][:100]!r} from this address; wait a minute", 429)

    def _fail(self, who: Who) -> None:
        self._failures.setdefault(who, deque()).append(self.shared.clock.monotonic())
        if len(self._failures) > MAX_REMEMBERED:
            self._failures.pop(next(iter(self._failures)))

    def close(self) -> None:
        if self._passwords is not None:
            self._passwords.shutdown(wait=False, cancel_futures=True)
