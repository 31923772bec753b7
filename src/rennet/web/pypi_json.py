"""PyPI's JSON API over HTTP: /pypi/<project>/json and /pypi/<project>/<version>/json, for the default index and
below any index (/<index>/pypi/...). Errors are JSON too."""

from __future__ import annotations

import hashlib
import json

from starlette.requests import Request
from starlette.responses import Response

from rennet.domain.names import InvalidName, check_project_name
from rennet.service.base import ServiceError
from rennet.service.pypi_json import json_answer
from rennet.web.context import note_cache, open_index
from rennet.web.responses import error_response, etag_matches, prefer_json_errors
from rennet.web.simple import redirect

__all__ = ["project_json"]


async def project_json(request: Request) -> Response:
    prefer_json_errors(request)
    index_name = request.path_params.get("index")
    raw, version = request.path_params["project"], request.path_params.get("version")
    try:
        project = check_project_name(raw)
    except InvalidName as error:
        return error_response(request, 400, str(error))
    index = await open_index(request, index_name)
    if isinstance(index, Response):
        return index
    if raw != project:
        release = f"{version}/" if version is not None else ""
        return redirect(request, f"{index_name + '/' if index_name else ''}pypi/{project}/{release}json")
    try:
        answer = await json_answer(index, project, version, str(request.base_url))
    except ServiceError as error:
        note_cache(request, "error")
        return error_response(request, error.status, error.message)
    body = json.dumps(answer.document, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "content-type": "application/json",
        "etag": f'"{hashlib.sha256(body).hexdigest()[:32]}"',
        # Built afresh from current data on every request, so a client may keep it only to revalidate.
        "cache-control": f"{'private' if index.config.private else 'public'}, max-age=0, must-revalidate",
    }
    if answer.serial is not None:
        headers["x-pypi-last-serial"] = str(answer.serial)
    if etag_matches(request.headers.get("if-none-match"), headers["etag"]):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers | {"content-length": str(len(body))})
    return Response(body, 200, headers)
