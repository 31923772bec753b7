"""Users (argon2 password hashes) and API tokens (shown once, stored as a hash, revocable).

A token reads `rnt_<key>_<secret>`: the key finds the row, the secret is compared in constant time against a
sha256 of it. Tokens carry 256 bits of randomness, so a fast hash is enough; passwords get argon2.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Engine, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from rennet.domain.access import Access
from rennet.storage.errors import AccountError
from rennet.storage.schema import login_failures, tokens, users

__all__ = ["ACCOUNTS_SLOT", "TOKEN_USER", "AccountError", "Accounts", "PasswordCost", "TokenRecord", "UserRecord"]

TOKEN_PREFIX = "rnt_"  # noqa: S105 - a prefix, not a secret
# The generation slot bumped on every change to users or tokens: every worker forgets the logins it verified.
ACCOUNTS_SLOT = ("-accounts", "")
FAILURES_KEPT = 3600.0  # seconds: failed logins are counted over a shorter window; older rows are deleted
TOKEN_USER = "__token__"  # noqa: S105 - the user name that says "the password is a token", as on PyPI
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_TOKEN = re.compile(r"^rnt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


class PasswordCost(NamedTuple):
    """What argon2 spends on a new password hash: iterations and memory (in bytes)."""

    time_cost: int = 3
    memory_bytes: int = 64 << 20

    def hasher(self) -> PasswordHasher:
        # argon2 wants at least 8 KiB per lane; the defaults' 4 lanes need 32 KiB.
        return PasswordHasher(time_cost=self.time_cost, memory_cost=max(32, self.memory_bytes // 1024))


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    name: str
    admin: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    key: str
    user: str
    index_name: str | None
    scope: Access
    description: str | None
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def usable(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Accounts:
    def __init__(self, engine: Engine, cost: PasswordCost = PasswordCost()) -> None:
        """`cost`: what hashing a new password takes; a stored hash is checked with the cost it was made with."""
        self.engine = engine
        self._hasher = cost.hasher()
        self._dummy: str | None = None

    def _dummy_hash(self) -> str:
        """Verifying against this when a user does not exist keeps the timing of both failures alike.

        Made on first use, not at start: an argon2 hash costs a fifth of a second and 64 MiB, which every CLI
        command and every server worker paid on start-up without ever needing it.
        """
        if self._dummy is None:
            self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    # -- users -------------------------------------------------------------------------------------------------

    def add_user(self, name: str, password: str, admin: bool = False) -> UserRecord:
        if not _USER_NAME.match(name) or name == TOKEN_USER:
            raise AccountError(
                f"{name!r} is not a valid user name: 1-100 letters, digits, '.', '_', '@' or '-', not __token__"
            )
        _check_password(password)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(users).values(
                        name=name, password_hash=self._hasher.hash(password), admin=admin, created_at=time.time()
                    )
                )
        except IntegrityError:
            raise AccountError(f"user {name!r} exists already") from None
        user = self.user(name)
        assert user is not None
        return user

    def user(self, name: str) -> UserRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return UserRecord(row.id, row.name, bool(row.admin), row.created_at) if row else None

    def users(self) -> list[UserRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.name)).all()
        return [UserRecord(r.id, r.name, bool(r.admin), r.created_at) for r in rows]

    def set_password(self, name: str, password: str) -> None:
        _check_password(password)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(users)
                .where(users.c.name == name)
                .values(password_hash=self._hasher.hash(password))
                .returning(users.c.id)
            ).first()
        if done is None:
            raise AccountError(f"there is no user {name!r}")

    def set_admin(self, name: str, admin: bool) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(users).where(users.c.name == name).values(admin=admin).returning(users.c.id)
            ).first()
        if done is None:
            raise AccountError(f"there is no user {name!r}")

    def remove_user(self, name: str) -> None:
        user = self.user(name)
        if user is None:
            raise AccountError(f"there is no user {name!r}")
        with self.engine.begin() as conn:
            conn.execute(delete(tokens).where(tokens.c.user_id == user.id))
            conn.execute(delete(users).where(users.c.id == user.id))

    def failed_logins(self, address: str, user: str, since: float) -> int:
        """How many password logins as `user` from `address` failed since then, in any process of any host."""
        who = (login_failures.c.address == address[:64]) & (login_failures.c.user_name == user[:100])
        with self.engine.connect() as conn:
            query = select(func.count()).where(who, login_failures.c.at >= since)
            return int(conn.execute(query).scalar_one())

    def note_failed_login(self, address: str, user: str, at: float) -> None:
        """Count a failed login; forget those older than FAILURES_KEPT."""
        with self.engine.begin() as conn:
            conn.execute(insert(login_failures).values(address=address[:64], user_name=user[:100], at=at))
            conn.execute(delete(login_failures).where(login_failures.c.at < at - FAILURES_KEPT))

    def check_password(self, name: str, password: str) -> UserRecord | None:
        """The user, if the password is right. Slow on purpose (argon2), whether or not the user exists."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        try:
            self._hasher.verify(row.password_hash if row else self._dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        return UserRecord(row.id, row.name, bool(row.admin), row.created_at)

    # -- tokens ------------------------------------------------------------------------------------------------

    def create_token(
        self,
        user: str,
        index_name: str | None,
        scope: Access,
        expires_at: float | None = None,
        description: str | None = None,
    ) -> tuple[str, TokenRecord]:
        """A new token; the returned string is the only time its secret exists outside the caller."""
        owner = self.user(user)
        if owner is None:
            raise AccountError(f"there is no user {user!r}")
        key, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                insert(tokens).values(
                    user_id=owner.id,
                    key=key,
                    secret_hash=_digest(secret),
                    index_name=index_name,
                    scope=scope.value,
                    description=description,
                    created_at=time.time(),
                    expires_at=expires_at,
                )
            )
        record = self.token(key)
        assert record is not None
        return f"{TOKEN_PREFIX}{key}_{secret}", record

    def token(self, key: str) -> TokenRecord | None:
        found = self._tokens(tokens.c.key == key)
        return found[0] if found else None

    def tokens(self, user: str | None = None) -> list[TokenRecord]:
        return self._tokens(users.c.name == user if user else None)

    def revoke_token(self, key: str) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(
                update(tokens)
                .where(tokens.c.key == key, tokens.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
                .returning(tokens.c.id)
            ).first()
        if done is None:
            raise AccountError(f"there is no active token {key!r}")

    def check_token(self, token: str, now: float | None = None) -> tuple[UserRecord, TokenRecord] | None:
        """The owner and the token, if it is well-formed, known, matching, not revoked and not expired (at `now`,
        the time of the caller's clock)."""
        match = _TOKEN.match(token)
        if not match:
            return None
        key, secret = match.groups()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tokens, users.c.name, users.c.admin, users.c.created_at.label("user_created"))
                .join(users, tokens.c.user_id == users.c.id)
                .where(tokens.c.key == key)
            ).first()
        if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
            return None
        record = _token_record(row)
        if not record.usable(time.time() if now is None else now):
            return None
        return UserRecord(row.user_id, row.name, bool(row.admin), row.user_created), record

    def _tokens(self, condition: ColumnElement[bool] | None) -> list[TokenRecord]:
        query = select(tokens, users.c.name).join(users, tokens.c.user_id == users.c.id).order_by(tokens.c.id)
        if condition is not None:
            query = query.where(condition)
        with self.engine.connect() as conn:
            return [_token_record(row) for row in conn.execute(query).all()]


def _token_record(row: Row[Any]) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        key=row.key,
        user=row.name,
        index_name=row.index_name,
        scope=Access(row.scope),
        description=row.description,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise AccountError("passwords need at least 8 characters")
    if len(password) > 1024:
        raise AccountError("passwords have at most 1024 characters")
