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
from typing import TYPE_CHECKING

from rennet.cli._command import Run, Subcommands, command, run_on_store
from rennet.config import InvalidConfig, Settings, parse_duration
from rennet.domain.access import Access
from rennet.storage.errors import AccountError

if TYPE_CHECKING:
    from rennet.storage.store import Store

__all__ = ["register"]


def register(commands: Subcommands) -> None:
    user = commands.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    with command(user, "add", _user_add, help="create a user") as add:
        add.add_argument("name")
        add.add_argument("--admin", action="store_true", help="may read and upload everywhere, and manage projects")
        add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    with command(user, "passwd", _user_passwd, help="change a user's password") as passwd:
        passwd.add_argument("name")
        passwd.add_argument("--password-stdin", action="store_true")
    with command(user, "remove", _user_remove, help="delete a user and their tokens") as remove:
        remove.add_argument("name")
    with command(user, "list", _user_list, help="list users"):
        pass

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="action", required=True)
    with command(token, "create", _token_create, help="create a token (shown once)") as create:
        create.add_argument("--user", required=True)
        create.add_argument("--index", help="limit the token to one index")
        create.add_argument("--scope", choices=["read", "upload"], default="upload")
        create.add_argument("--expires", help="lifetime, like 30d or 12h (default: never)")
        create.add_argument("--description")
    with command(token, "list", _token_list, help="list tokens (never their secrets)") as tokens:
        tokens.add_argument("--user")
    with command(token, "revoke", _token_revoke, help="revoke a token by its key") as revoke:
        revoke.add_argument("key")


def _on_accounts(work: Callable[[argparse.Namespace, Settings, Store], None]) -> Run:
    """A command on the accounts: exit status 1, with the reason, when they refuse it."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        return run_on_store(settings, lambda store: work(args, settings, store), (AccountError, InvalidConfig))

    return run


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat: ") != first:
        raise AccountError("the passwords differ")
    return first


@_on_accounts
def _user_add(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    store.accounts.add_user(args.name, _password(args), admin=args.admin)
    store.accounts_changed()
    print(f"user {args.name} created" + (" (admin)" if args.admin else ""))


@_on_accounts
def _user_passwd(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    store.accounts.set_password(args.name, _password(args))
    store.accounts_changed()
    print(f"password of {args.name} changed")


@_on_accounts
def _user_remove(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    store.accounts.remove_user(args.name)
    store.accounts_changed()
    print(f"user {args.name} removed, with their tokens")


@_on_accounts
def _user_list(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    for user in store.accounts.users():
        print(f"{user.name}\t{'admin' if user.admin else 'user'}\tsince {_date(user.created_at)}")


@_on_accounts
def _token_create(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    if args.index is not None and args.index not in settings.indexes:
        raise AccountError(f"there is no index named {args.index!r}")
    expires = time.time() + parse_duration(args.expires, "--expires") if args.expires else None
    token, record = store.accounts.create_token(args.user, args.index, Access(args.scope), expires, args.description)
    store.accounts_changed()
    print(token)
    print(
        f"token {record.key} for {args.user}: {args.scope} on {args.index or 'every index'}, "
        f"expires {_date(expires) if expires else 'never'}. It is shown only now.",
        file=sys.stderr,
    )


@_on_accounts
def _token_list(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    now = time.time()
    for token in store.accounts.tokens(args.user):
        state = "revoked" if token.revoked_at else "expired" if not token.usable(now) else "active"
        expiry = _date(token.expires_at) if token.expires_at else "never"
        print(
            f"{token.key}\t{token.user}\t{token.scope.value}\t{token.index_name or '*'}\t{state}\t"
            f"expires {expiry}\t{token.description or ''}"
        )


@_on_accounts
def _token_revoke(args: argparse.Namespace, settings: Settings, store: Store) -> None:
    store.accounts.revoke_token(args.key)
    store.accounts_changed()
    print(f"token {args.key} revoked")


def _date(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")
