"""PEP 740's Integrity API: `<index>/integrity/<project>/<version>/<filename>/provenance` (also for the default
index without `<index>/`, and below a snapshot). Read access and the index's rules are those of the file itself:
the index finds the file listed (and allowed) before it answers with its provenance."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from rennet.domain.names import InvalidName, check_filename, parse_dist_filename, same_version
from rennet.service.errors import ServiceError
from rennet.web.context import note_cache
from rennet.web.responses import BytesResponse, error_response, etag_matches, refusal
from rennet.web.simple import open_project

__all__ = ["provenance"]

MEDIA_TYPE = "application/vnd.pypi.integrity.v1+json"


async def provenance(request: Request) -> Response | BytesResponse:
    try:
        filename = check_filename(request.path_params["filename"])
    except InvalidName as error:
        return error_response(request, 400, str(error))
    version = request.path_params["version"]
    parsed = parse_dist_filename(filename)
    if parsed is None or parsed.version is None or not same_version(version, parsed.version):
        return error_response(request, 404, f"{filename} is not a file of version {version[:100]!r}")
    path = f"{quote(version, safe='')}/{quote(filename, safe='')}/provenance"
    opened = await open_project(request, lambda project: f"integrity/{project}/{path}")
    if isinstance(opened, Response):
        return opened
    index, project = opened
    try:
        body = await index.provenance(project, filename)
    except ServiceError as error:
        note_cache(request, "error")
        return refusal(request, error)
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    scope = b"private" if index.config.private else b"public"
    accept = request.headers.get("accept", "")
    # As PyPI: its own media type, or plain JSON for a client that asks for that only.
    media_type = "application/json" if "application/json" in accept and MEDIA_TYPE not in accept else MEDIA_TYPE
    headers = [
        (b"content-type", media_type.encode()),
        (b"vary", b"Accept"),
        (b"etag", etag.encode()),
        # What rennet holds changes only when the upstream names another provenance for the file.
        (b"cache-control", scope + b", max-age=600"),
    ]
    if etag_matches(request.headers.get("if-none-match"), etag):
        return BytesResponse(304, headers, b"")
    return BytesResponse(200, headers, body, head=request.method == "HEAD")
