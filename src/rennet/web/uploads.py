"""The upload endpoint of the legacy API: POST to /<index>/legacy/, /<index>/, /legacy/ or /.

Never redirects (twine and poetry abort on a redirect). Errors are a status and a sentence in the body (the
reason phrase is the standard one: ASGI cannot carry another), or {"message","code","title"} for JSON clients.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response

from rennet.domain.access import Access
from rennet.domain.indexes import upload_target
from rennet.domain.uploads import UploadRejected
from rennet.service.publishing.uploads import receive_upload
from rennet.web.context import authorize, note_cache, refuse_cross_site, registry
from rennet.web.responses import REFUSALS, error_response, unhandled_refusal

__all__ = ["upload"]


async def upload(request: Request) -> Response:
    if (refused := refuse_cross_site(request)) is not None:
        return refused
    indexes = registry(request)
    name = request.path_params.get("index") or indexes.settings.default_index
    if name not in indexes.settings.indexes:
        return error_response(request, 404, f"there is no index named {name[:64]!r}")
    target = upload_target(indexes.settings.indexes, name)
    if target is None:
        return error_response(request, 405, f"{name} is a mirror: upload to a hosted index instead")
    identity = await authorize(request, target, Access.UPLOAD)
    if isinstance(identity, Response):
        return identity
    assert identity is not None
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > target.max_upload_size + (16 << 20):
        return error_response(request, 413, f"File too large: the limit is {target.max_upload_size} bytes")
    try:
        outcome = await receive_upload(
            indexes.shared, target, request.headers.get("content-type", ""), request.stream(), identity.user
        )
    except UploadRejected as error:
        note_cache(request, "rejected")
        return error_response(request, error.status, error.message)
    except REFUSALS as error:  # the database is down, or the disk full (the partial file is gone): nothing stored
        note_cache(request, "error")
        return unhandled_refusal(request, error)
    except ClientDisconnect:
        # The uploader went away mid-body: receive_upload dropped the partial file. Nobody reads this answer,
        # but the access log gets a line instead of a traceback.
        note_cache(request, "aborted")
        return error_response(request, 400, "The upload was interrupted before its end")
    note_cache(request, "created" if outcome.created else "exists")
    return PlainTextResponse(f"OK: {outcome.filename} {'stored' if outcome.created else 'already there'}\n")
