"""A logged-in user's own account: their tokens (created, shown once, revoked) and their password.

A token made here is never wider than the credential the viewer came with: someone logged in with a read-only
token, or one for a single index, cannot mint an upload token or one for every index.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from rennet.domain.access import Access, Identity, allowed
from rennet.service.runtime.auth import AuthFailed
from rennet.storage.errors import AccountError
from rennet.web.context import identify, registry
from rennet.web.ui.render import page
from rennet.web.ui.sessions import SESSION_COOKIE, check_form, load_viewer, token_key

__all__ = ["account", "change_password", "create_token", "revoke_token"]

MAX_DESCRIPTION = 200
EXPIRY_DAYS = {"30": 30, "90": 90, "365": 365, "": None}


async def account(request: Request) -> Response:
    viewer = await load_viewer(request)
    if viewer is None:
        return RedirectResponse("/-/login?next=/-/account", 303)
    return await _account_page(request, viewer, {})


async def _account_page(request: Request, viewer: Identity, context: dict[str, Any], status: int = 200) -> Response:
    shared, accounts = registry(request).shared, registry(request).accounts
    now = time.time()
    tokens = [token for token in await shared.db(accounts.tokens, viewer.user) if token.usable(now)]
    session = request.cookies.get(SESSION_COOKIE)
    values = {
        "tokens": sorted(tokens, key=lambda token: token.created_at, reverse=True),
        "indexes": _token_indexes(request, viewer),
        "session_key": token_key(session) if session else None,
    }
    response = page(request, "account.html", values | context, status)
    response.headers["Cache-Control"] = "no-store"  # a new token is in the page once
    return response


def _token_indexes(request: Request, viewer: Identity) -> list[str]:
    if viewer.token_index is not None:
        return [viewer.token_index]
    return [
        name
        for name, service in registry(request).indexes.items()
        if allowed(viewer, service.config, Access.READ) or allowed(viewer, service.config, Access.UPLOAD)
    ]


async def create_token(request: Request) -> Response:
    checked = await check_form(request)
    if isinstance(checked, Response):
        return checked
    viewer, fields = checked
    index = fields.get("index") or None
    scope_text = fields.get("scope", "read")
    description = fields.get("description", "").strip()[:MAX_DESCRIPTION] or None
    problem = None
    if scope_text not in ("read", "upload"):
        problem = "the scope is read or upload"
    elif fields.get("expires", "") not in EXPIRY_DAYS:
        problem = "choose when the token expires from the list"
    elif index is not None and index not in _token_indexes(request, viewer):
        problem = f"you may not make a token for {index[:64]!r}"
    elif viewer.token_index is not None and index is None:
        problem = f"you logged in with a token for {viewer.token_index}: make one for that index"
    elif viewer.token_scope is Access.READ and scope_text == "upload":
        problem = "you logged in with a read-only token: it cannot make upload tokens"
    if problem is not None:
        return await _account_page(request, viewer, {"error": problem}, 400)
    days = EXPIRY_DAYS[fields.get("expires", "")]
    expires = time.time() + days * 86400 if days is not None else None
    shared, accounts = registry(request).shared, registry(request).accounts
    token, _ = await shared.db(accounts.create_token, viewer.user, index, Access(scope_text), expires, description)
    return await _account_page(request, viewer, {"new_token": token})


async def revoke_token(request: Request) -> Response:
    checked = await check_form(request)
    if isinstance(checked, Response):
        return checked
    viewer, fields = checked
    key = fields.get("key", "")
    store = registry(request).store
    found = await registry(request).shared.db(store.accounts.token, key)
    if found is None or found.user != viewer.user or found.revoked_at is not None:
        return await _account_page(request, viewer, {"error": "you have no active token with that key"}, 404)
    await registry(request).shared.db(store.accounts.revoke_token, key)
    store.accounts_changed()
    session = request.cookies.get(SESSION_COOKIE)
    if session and token_key(session) == key:  # the session itself: logged out
        response = RedirectResponse("/", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    return await _account_page(request, viewer, {"message": f"Token {key} is revoked."})


async def change_password(request: Request) -> Response:
    checked = await check_form(request)
    if isinstance(checked, Response):
        return checked
    viewer, fields = checked
    current, new, repeat = fields.get("current", ""), fields.get("new", ""), fields.get("repeat", "")
    if new != repeat:
        return await _account_page(request, viewer, {"error": "the new passwords differ"}, 400)
    basic = "Basic " + base64.b64encode(f"{viewer.user}:{current}".encode()).decode()
    try:
        await identify(request, basic)  # the current password, with the limit on guessing
    except AuthFailed as error:
        status = 429 if error.status == 429 else 403
        return await _account_page(request, viewer, {"error": f"the current password is wrong ({error})"}, status)
    store = registry(request).store
    try:
        await registry(request).shared.db(store.accounts.set_password, viewer.user, new)
    except AccountError as error:
        return await _account_page(request, viewer, {"error": str(error)}, 400)
    store.accounts_changed()
    return await _account_page(request, viewer, {"message": "Your password is changed."})
