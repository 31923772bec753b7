"""PyPI's JSON API over HTTP: /pypi/<project>/json and /pypi/<project>/<version>/json, for the default index and
below any index (/<index>/pypi/...). Errors are JSON too."""

from __future__ import annotations

import hashlib
import json

from starlette.requests import Request
from starlette.responses import Response

from rennet.service.errors import ServiceError
from rennet.service.indexes.pypi_json import json_answer
from rennet.web.context import note_cache
from rennet.web.responses import BytesResponse, etag_matches, prefer_json_errors, refusal
from rennet.web.simple import cache_control, open_project

__all__ = ["project_json"]


async def project_json(request: Request) -> Response | BytesResponse:
    prefer_json_errors(request)
    version = request.path_params.get("version")
    release = f"{version}/" if version is not None else ""
    opened = await open_project(request, lambda project: f"pypi/{project}/{release}json")
    if isinstance(opened, Response):
        return opened
    index, project = opened
    try:
        answer = await json_answer(index, project, version, str(request.base_url))
    except ServiceError as error:
        note_cache(request, "error")
        return refusal(request, error)
    body = json.dumps(answer.document, ensure_ascii=False, separators=(",", ":")).encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = [
        (b"content-type", b"application/json"),
        (b"etag", etag.encode()),
        # Built afresh from current data on every request (no cached page), so a client may keep it only to
        # revalidate.
        (b"cache-control", cache_control(index).encode()),
    ]
    if answer.serial is not None:
        headers.append((b"x-pypi-last-serial", str(answer.serial).encode()))
    if etag_matches(request.headers.get("if-none-match"), etag):
        return BytesResponse(304, headers, b"")
    return BytesResponse(200, headers, body, head=request.method == "HEAD")
