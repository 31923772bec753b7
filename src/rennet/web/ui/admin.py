"""What admins do in the UI: yank, unyank and delete releases of hosted projects, set a project's status, and
manage users. The same services as the command line and the management API (service/publishing/manage.py,
storage/accounts.py); what destroys something (a deletion, a quarantine, a user's removal) asks first."""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from rennet.domain.access import Access, Identity, allowed
from rennet.domain.files import ProjectStatus
from rennet.domain.indexes import HostedIndex
from rennet.domain.names import InvalidName, check_project_name
from rennet.service.errors import ServiceError
from rennet.service.publishing.manage import Releases, Target, hosted_index
from rennet.storage.errors import AccountError
from rennet.web.context import registry
from rennet.web.ui.browse import page_number, ui_error
from rennet.web.ui.render import page
from rennet.web.ui.sessions import check_form, load_viewer

__all__ = ["add_user", "change_user", "release_action", "set_status", "users"]

log = logging.getLogger("rennet.manage")


async def _admin_project_form(request: Request) -> tuple[Identity, dict[str, str], HostedIndex, str] | Response:
    """The admin, the form's fields, and the hosted index and project named in the URL; or the refusal."""
    checked = await _admin_form(request)
    if isinstance(checked, Response):
        return checked
    viewer, fields = checked
    try:
        index = hosted_index(registry(request).settings.indexes, request.path_params["index"])
        project = check_project_name(request.path_params["project"])
    except ServiceError as error:
        return ui_error(request, error.status, error.message)
    except InvalidName as error:
        return ui_error(request, 400, str(error))
    if not allowed(viewer, index, Access.UPLOAD):  # an admin's token may be narrowed to another index
        return ui_error(request, 403, f"your credentials may not change {index.name}")
    return viewer, fields, index, project


async def _admin_form(request: Request) -> tuple[Identity, dict[str, str]] | Response:
    checked = await check_form(request)
    if isinstance(checked, Response):
        return checked
    if not checked[0].admin:
        return ui_error(request, 403, "only admins may do this")
    return checked


def _confirm(request: Request, question: str, consequence: str, button: str, fields: dict[str, str]) -> Response:
    back = f"/-/project/{request.path_params['index']}/{request.path_params['project']}/{_page_query(fields)}"
    kept = [(name, value) for name, value in fields.items() if name not in ("csrf", "confirmed")]
    context = {"question": question, "consequence": consequence, "button": button, "back": back}
    return page(request, "confirm.html", context | {"action": request.url.path, "fields": kept})


def _done(index: str, project: str, message: str, fields: dict[str, str] | None = None) -> Response:
    """Back to the project's page (the page of releases the form was on) with what was done."""
    query = _page_query(fields or {})
    separator = "&" if query else "?"
    return RedirectResponse(f"/-/project/{index}/{project}/{query}{separator}done={quote(message)}", 303)


def _page_query(fields: dict[str, str]) -> str:
    number = page_number(fields.get("page", "1"))
    return f"?page={number}" if number is not None and number > 1 else ""


async def release_action(request: Request) -> Response:
    checked = await _admin_project_form(request)
    if isinstance(checked, Response):
        return checked
    viewer, fields, index, project = checked
    action, version = fields.get("action", ""), fields.get("version", "")
    if action not in ("yank", "unyank", "delete") or not version:
        return ui_error(request, 400, "choose yank, unyank or delete, for a version")
    if action == "delete" and fields.get("confirmed") != "yes":
        consequence = "Its files leave the index at once; installers that pin it will fail. This cannot be undone."
        return _confirm(request, f"Delete {project} {version}?", consequence, f"Delete {version}", fields)
    releases, chosen = Releases(registry(request).shared), Target(version=version)
    try:
        if action == "yank":
            changed = await registry(request).shared.db(releases.yank, index, project, chosen, fields.get("reason"))
        elif action == "unyank":
            changed = await registry(request).shared.db(releases.unyank, index, project, chosen)
        else:
            changed = await registry(request).shared.db(releases.delete, index, project, chosen)
    except ServiceError as error:
        return ui_error(request, error.status, error.message)
    log.info("%s: %s %s %s in %s: %s", viewer.user, action, project, version, index.name, changed)
    return _done(index.name, project, f"{action.capitalize()}: {len(changed)} file(s) of {version}.", fields)


async def set_status(request: Request) -> Response:
    checked = await _admin_project_form(request)
    if isinstance(checked, Response):
        return checked
    viewer, fields, index, project = checked
    try:
        status = ProjectStatus(fields.get("status", ""))
    except ValueError:
        return ui_error(request, 400, "choose a status from the list")
    if status is ProjectStatus.QUARANTINED and fields.get("confirmed") != "yes":
        consequence = "A quarantined project offers no files at all: installs of it fail until it is active again."
        return _confirm(request, f"Quarantine {project}?", consequence, "Quarantine", fields)
    releases = Releases(registry(request).shared)
    try:
        await registry(request).shared.db(releases.set_status, index, project, status, fields.get("reason"))
    except ServiceError as error:
        return ui_error(request, error.status, error.message)
    log.info("%s: status %s of %s in %s", viewer.user, status.value, project, index.name)
    return _done(index.name, project, f"The status is {status.value}.")


async def users(request: Request) -> Response:
    viewer = await load_viewer(request)
    if viewer is None:
        return RedirectResponse("/-/login?next=/-/admin/users", 303)
    if not viewer.admin:
        return ui_error(request, 403, "only admins may manage users")
    return await _users_page(request, {})


async def _users_page(request: Request, context: dict[str, str], status: int = 200) -> Response:
    accounts = registry(request).accounts
    found = await registry(request).shared.db(accounts.users)
    return page(request, "users.html", {"users": found} | context, status)


async def add_user(request: Request) -> Response:
    checked = await _admin_form(request)
    if isinstance(checked, Response):
        return checked
    viewer, fields = checked
    name, password = fields.get("name", "").strip(), fields.get("password", "")
    store = registry(request).store
    try:
        await registry(request).shared.db(store.accounts.add_user, name, password, fields.get("admin") == "yes")
    except AccountError as error:
        return await _users_page(request, {"error": str(error)}, 400)
    store.accounts_changed()
    log.info("%s added user %s", viewer.user, name)
    return await _users_page(request, {"message": f"User {name} is added."})


async def change_user(request: Request) -> Response:
    """Make a user an admin or not, or remove them (after asking)."""
    checked = await _admin_form(request)
    if isinstance(checked, Response):
        return checked
    viewer, fields = checked
    name, action = fields.get("name", ""), fields.get("action", "")
    if name == viewer.user:
        return await _users_page(request, {"error": "change your own account from the command line"}, 400)
    if action == "remove" and fields.get("confirmed") != "yes":
        context = {
            "question": f"Remove user {name}?",
            "consequence": "Their tokens stop working at once. Files they uploaded stay.",
            "button": f"Remove {name}",
            "back": "/-/admin/users",
            "action": request.url.path,
            "fields": [("name", name), ("action", "remove")],
        }
        return page(request, "confirm.html", context)
    store = registry(request).store
    try:
        if action == "remove":
            await registry(request).shared.db(store.accounts.remove_user, name)
        elif action in ("admin", "not-admin"):
            await registry(request).shared.db(store.accounts.set_admin, name, action == "admin")
        else:
            return await _users_page(request, {"error": "choose an action from the page"}, 400)
    except AccountError as error:
        return await _users_page(request, {"error": str(error)}, 404)
    store.accounts_changed()
    log.info("%s: %s user %s", viewer.user, action, name)
    return await _users_page(request, {"message": f"User {name}: done ({action})."})
