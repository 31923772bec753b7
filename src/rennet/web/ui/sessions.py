"""Who is looking at a page, logging in and out, and the form token that protects every POST of the UI.

A browser session is a token of the user's own (storage/accounts.py), made at login, kept in an HttpOnly,
SameSite=Lax cookie (Secure behind TLS) and revoked at logout: it is checked, expires and is revoked exactly like
the tokens installers use (service/runtime/auth.py), on every worker and host, and the user sees it among their
tokens. Without the cookie, HTTP Basic credentials work as for the API. Read access follows the API's rules
(domain/access.py) for either.

Every form that changes something carries a token derived from the viewer's credential; a page of another site
can neither read it nor guess it, and requests a browser marks as coming from another site are refused anyway.
The login form, shown before there is a credential, carries a token derived from a random value in a cookie of
its own (HttpOnly, SameSite=Strict, for /-/login only): another site's page cannot log a browser into an
account of the attacker's choosing, even in a browser that sends neither Origin nor Sec-Fetch-Site. (A value
both in a cookie and in the form needs no secret shared by the hosts of a cluster.)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import secrets
import time
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from rennet.domain.access import Access, Identity
from rennet.service.runtime.auth import AuthFailed
from rennet.storage.accounts import TOKEN_USER
from rennet.storage.errors import AccountError
from rennet.web.context import identify, refuse_cross_site, registry
from rennet.web.ui.render import page

__all__ = ["SESSION_COOKIE", "check_form", "load_viewer", "login", "login_form", "logout", "token_key"]

SESSION_COOKIE = "rennet_session"
SESSION_SECONDS = 12 * 3600
SESSION_DESCRIPTION = "browser session"
LOGIN_COOKIE = "rennet_login"
LOGIN_PATH = "/-/login"
_LOGIN_NONCE = re.compile(r"[A-Za-z0-9_-]{32}")


def _credential(request: Request) -> str | None:
    """The Authorization value the viewer's session or Basic credentials amount to."""
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return "Basic " + base64.b64encode(f"{TOKEN_USER}:{session}".encode()).decode()
    return request.headers.get("authorization")


async def load_viewer(request: Request) -> Identity | None:
    """The viewer (None: anonymous, also for credentials that no longer work), remembered on the request with
    the form token of their credential."""
    credential = _credential(request)
    try:
        viewer = await identify(request, credential)
    except AuthFailed:
        viewer, credential = None, None
    request.state.viewer = viewer
    request.state.csrf = _form_token(credential) if viewer is not None and credential else ""
    return viewer


def _form_token(credential: str) -> str:
    return hmac.new(credential.encode(), b"rennet form", hashlib.sha256).hexdigest()[:32]


async def check_form(request: Request) -> tuple[Identity, dict[str, str]] | Response:
    """The logged-in viewer and the fields of a POSTed form, or the refusal (403 for a form of another site or
    without the viewer's form token, a redirect to the login page when nobody is logged in)."""
    refused = refuse_cross_site(request)
    if refused is not None:
        return refused
    viewer = await load_viewer(request)
    if viewer is None:
        return RedirectResponse("/-/login", 303)
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    if not hmac.compare_digest(fields.get("csrf", ""), request.state.csrf):
        return page(request, "error.html", _refusal(403, "the form has expired: reload the page and try again"), 403)
    return viewer, fields


def _refusal(status: int, message: str) -> dict[str, object]:
    return {"status": status, "title": "Refused", "message": message}


async def login_form(request: Request) -> Response:
    await load_viewer(request)
    return _login_page(request, {"next": _local(request.query_params.get("next", "/"))})


def _login_page(request: Request, context: dict[str, object], status: int = 200) -> Response:
    """The login form with its form token, and the cookie the token is checked against (kept while it is well
    formed, so that two open login forms both work)."""
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not _LOGIN_NONCE.fullmatch(nonce):
        nonce = secrets.token_urlsafe(24)
    response = page(request, "login.html", context | {"login_token": _login_token(nonce)}, status)
    response.headers["Cache-Control"] = "no-store"
    secure = request.url.scheme == "https"
    response.set_cookie(
        LOGIN_COOKIE, nonce, SESSION_SECONDS, httponly=True, samesite="strict", secure=secure, path=LOGIN_PATH
    )
    return response


def _login_token(nonce: str) -> str:
    return hmac.new(nonce.encode(), b"rennet login form", hashlib.sha256).hexdigest()[:32]


def _login_form_checked(request: Request, sent: str) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    return bool(_LOGIN_NONCE.fullmatch(nonce)) and hmac.compare_digest(sent, _login_token(nonce))


async def login(request: Request) -> Response:
    refused = refuse_cross_site(request)
    if refused is not None:
        return refused
    form = await request.form()
    user, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    target = _local(str(form.get("next", "/")))
    request.state.viewer, request.state.csrf = None, ""
    if not _login_form_checked(request, str(form.get("csrf", ""))):
        message = "this login form has expired or was not sent by this server's page: enter your password again"
        return _login_failed(request, user, target, message, 403)
    if not user or not password or user == TOKEN_USER:
        return _login_failed(request, user, target, "enter your user name and password")
    basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    try:
        identity = await identify(request, basic)  # the API's check, with its limit on guessing
    except AuthFailed as error:
        return _login_failed(request, user, target, error.message, 429 if error.status == 429 else 401)
    assert identity is not None
    accounts = registry(request).accounts
    shared = registry(request).shared
    token, _ = await shared.db(
        accounts.create_token, identity.user, None, Access.UPLOAD, time.time() + SESSION_SECONDS, SESSION_DESCRIPTION
    )
    response = RedirectResponse(target, 303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    return response


def _login_failed(request: Request, user: str, target: str, message: str, status: int = 401) -> Response:
    return _login_page(request, {"next": target, "user": user, "error": message}, status)


async def logout(request: Request) -> Response:
    checked = await check_form(request)
    if isinstance(checked, Response):
        return checked
    session = request.cookies.get(SESSION_COOKIE)
    key = token_key(session) if session else None
    if key is not None:
        store = registry(request).store
        with contextlib.suppress(AccountError):  # revoked already (from the tokens page, or the command line)
            await registry(request).shared.db(store.accounts.revoke_token, key)
        store.accounts_changed()
    response = RedirectResponse("/", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def token_key(token: str) -> str | None:
    """The public part of a token (rnt_<key>_<secret>)."""
    parts = token.split("_", 2)
    return parts[1] if len(parts) == 3 else None


def _local(target: str) -> str:
    """Where to go after logging in: a path of this server only (never another site's URL)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
