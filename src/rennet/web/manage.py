"""The management API of hosted projects: POST /api/<index>/<project>/<action>, JSON in and out.

yank, unyank, delete: {"version": "1.0"}, {"filename": "..."} or {"all": true}; yank also takes "reason".
status: {"status": "active" | "archived" | "deprecated" | "quarantined", "reason": "..."}.
The answer is {"changed": [...]} (filenames, or the project for a status); errors are {"message","code","title"}.
It takes credentials that may upload to the index, as the upload endpoint does, and only JSON bodies
(Content-Type: application/json): a browser must then ask (CORS preflight) before sending one from another
site's page, which rennet never allows; requests a browser marks cross-site are refused outright.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rennet.domain.access import Access
from rennet.domain.files import ProjectStatus
from rennet.domain.indexes import HostedIndex
from rennet.domain.names import InvalidName, check_project_name
from rennet.service.errors import ServiceError
from rennet.service.publishing.manage import Releases, Target, hosted_index
from rennet.web.context import authorize, refuse_cross_site, registry
from rennet.web.responses import error_response, prefer_json_errors, refusal

__all__ = ["manage"]

log = logging.getLogger("rennet.manage")

MAX_BODY = 64 << 10
_TARGETS = ("version", "filename", "all")

Action = Callable[[Releases, HostedIndex, str, Mapping[str, Any]], dict[str, Any]]


async def manage(request: Request) -> Response:
    prefer_json_errors(request)
    if (refused := refuse_cross_site(request)) is not None:
        return refused
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        return error_response(request, 415, "send the request body as JSON, with Content-Type: application/json")
    action = _ACTIONS.get(request.path_params["action"])
    if action is None:
        return error_response(request, 404, "unknown action: use yank, unyank, delete or status")
    indexes = registry(request)
    try:
        index = hosted_index(indexes.settings.indexes, request.path_params["index"])
    except ServiceError as error:
        return refusal(request, error)
    identity = await authorize(request, index, Access.UPLOAD)
    if isinstance(identity, Response):
        return identity
    assert identity is not None
    try:
        project = check_project_name(request.path_params["project"])
        body = await _json_body(request)
        result = await indexes.shared.db(action, Releases(indexes.shared), index, project, body)
    except InvalidName as error:
        return error_response(request, 400, str(error))
    except ServiceError as error:
        return refusal(request, error)
    log.info("%s: %s %s in %s: %s", identity.user, request.path_params["action"], project, index.name, result)
    return JSONResponse(result)


async def _json_body(request: Request) -> Mapping[str, Any]:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise ServiceError(413, f"the request body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(data) if data.strip() else {}
    except (ValueError, RecursionError):
        raise ServiceError(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ServiceError(400, "the request body must be a JSON object")
    return body


def _yank(releases: Releases, index: HostedIndex, project: str, body: Mapping[str, Any]) -> dict[str, Any]:
    target = _target(body, "reason")
    return {"changed": releases.yank(index, project, target, _text(body, "reason"))}


def _unyank(releases: Releases, index: HostedIndex, project: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"changed": releases.unyank(index, project, _target(body))}


def _delete(releases: Releases, index: HostedIndex, project: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"changed": releases.delete(index, project, _target(body))}


def _status(releases: Releases, index: HostedIndex, project: str, body: Mapping[str, Any]) -> dict[str, Any]:
    _only(body, "status", "reason")
    try:
        status = ProjectStatus(str(body.get("status")))
    except ValueError:
        choices = ", ".join(s.value for s in ProjectStatus)
        raise ServiceError(400, f'"status" must be one of {choices}') from None
    reason = _text(body, "reason")
    changed = releases.set_status(index, project, status, reason)
    return {"changed": [project] if changed else [], "status": status.value, "reason": reason}


_ACTIONS: dict[str, Action] = {"yank": _yank, "unyank": _unyank, "delete": _delete, "status": _status}


def _target(body: Mapping[str, Any], *extra: str) -> Target:
    _only(body, *_TARGETS, *extra)
    given = [key for key in _TARGETS if body.get(key) not in (None, False)]
    if len(given) != 1:
        raise ServiceError(400, 'give exactly one of "version", "filename" or "all": true')
    if given == ["all"]:
        if body["all"] is not True:
            raise ServiceError(400, '"all" must be true or left out')
        return Target(every=True)
    value = _text(body, given[0])
    return Target(version=value) if given == ["version"] else Target(filename=value)


def _text(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise ServiceError(400, f'"{key}" must be a string')
    return value


def _only(body: Mapping[str, Any], *keys: str) -> None:
    unknown = sorted(set(body) - set(keys))
    if unknown:
        raise ServiceError(
            400, f"unknown field(s) {', '.join(map(repr, unknown))}: this action takes {', '.join(keys)}"
        )
