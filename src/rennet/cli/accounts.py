"""`rennet user ...` and `rennet token ...`: accounts and API tokens.

Changes take effect in a running server at once: they bump the accounts generation, which makes every worker
forget the credentials it had verified.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rennet.config import InvalidConfig, Settings, parse_duration
from rennet.domain.access import Access
from rennet.service.auth import ACCOUNTS_SLOT
from rennet.storage.accounts import AccountError
from rennet.storage.generations import Generations
from rennet.storage.store import Store, open_store

__all__ = ["register"]


def register(commands: Any, settings_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    user = commands.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="may read and upload everywhere, and manage projects")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(run=_user_add)
    passwd = user.add_parser("passwd", help="change a user's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(run=_user_passwd)
    remove = user.add_parser("remove", help="delete a user and their tokens")
    remove.add_argument("name")
    remove.set_defaults(run=_user_remove)
    listing = user.add_parser("list", help="list users")
    listing.set_defaults(run=_user_list)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", help="create a token (shown once)")
    create.add_argument("--user", required=True)
    create.add_argument("--index", help="limit the token to one index")
    create.add_argument("--scope", choices=["read", "upload"], default="upload")
    create.add_argument("--expires", help="lifetime, like 30d or 12h (default: never)")
    create.add_argument("--description")
    create.set_defaults(run=_token_create)
    tokens = token.add_parser("list", help="list tokens (never their secrets)")
    tokens.add_argument("--user")
    tokens.set_defaults(run=_token_list)
    revoke = token.add_parser("revoke", help="revoke a token by its key")
    revoke.add_argument("key")
    revoke.set_defaults(run=_token_revoke)

    for parser in (add, passwd, remove, listing, create, tokens, revoke):
        settings_flags(parser)


def _store(settings: Settings) -> Store:
    return open_store(settings.data_dir, settings.database)


def _changed(store: Store) -> None:
    store.generations.bump(Generations.slot(*ACCOUNTS_SLOT))


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat: ") != first:
        raise AccountError("the passwords differ")
    return first


def _run(settings: Settings, work: Callable[[Store], None]) -> int:
    store = _store(settings)
    try:
        work(store)
    except (AccountError, InvalidConfig) as error:
        print(f"rennet: {error}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def _user_add(args: argparse.Namespace, settings: Settings) -> int:
    def work(store: Store) -> None:
        store.accounts.add_user(args.name, _password(args), admin=args.admin)
        _changed(store)
        print(f"user {args.name} created" + (" (admin)" if args.admin else ""))

    return _run(settings, work)


def _user_passwd(args: argparse.Namespace, settings: Settings) -> int:
    def work(store: Store) -> None:
        store.accounts.set_password(args.name, _password(args))
        _changed(store)
        print(f"password of {args.name} changed")

    return _run(settings, work)


def _user_remove(args: argparse.Namespace, settings: Settings) -> int:
    def work(store: Store) -> None:
        store.accounts.remove_user(args.name)
        _changed(store)
        print(f"user {args.name} removed, with their tokens")

    return _run(settings, work)


def _user_list(args: argparse.Namespace, settings: Settings) -> int:
    def work(store: Store) -> None:
        for user in store.accounts.users():
            print(f"{user.name}\t{'admin' if user.admin else 'user'}\tsince {_date(user.created_at)}")

    return _run(settings, work)


def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    def work(store: Store) -> None:
        if args.index is not None and args.index not in settings.indexes:
            raise AccountError(f"there is no index named {args.index!r}")
        expires = time.time() + parse_duration(args.expires, "--expires") if args.expires else None
        token, record = store.accounts.create_token(
            args.user, args.index, Access(args.scope), expires, args.description
        )
        _changed(store)
        print(token)
        print(
            f"token {record.key} for {args.user}: {args.scope} on {args.index or 'every index'}, "
            f"expires {_date(expires) if expires else 'never'}. It is shown only now.",
            file=sys.stderr,
        )

    return _run(settings, work)


def _token_list(args: argparse.Namespace, settings: Settings) -> int:
    def work(store: Store) -> None:
        now = time.time()
        for token in store.accounts.tokens(args.user):
            state = "revoked" if token.revoked_at else "expired" if not token.usable(now) else "active"
            expiry = _date(token.expires_at) if token.expires_at else "never"
            print(
                f"{token.key}\t{token.user}\t{token.scope.value}\t{token.index_name or '*'}\t{state}\t"
                f"expires {expiry}\t{token.description or ''}"
            )

    return _run(settings, work)


def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    def work(store: Store) -> None:
        store.accounts.revoke_token(args.key)
        _changed(store)
        print(f"token {args.key} revoked")

    return _run(settings, work)


def _date(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")
