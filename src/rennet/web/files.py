"""Distribution files and their .metadata, from any index."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from rennet.domain.names import InvalidName, check_filename, check_project_name
from rennet.service.answers import FileAnswer, LocalFile, StoredFile, StreamingFile, on_disk
from rennet.service.errors import ServiceError
from rennet.service.indexes.interface import IndexService
from rennet.service.runtime.downloads import DownloadFailed
from rennet.service.runtime.storecopy import signed_url, store_refusal
from rennet.storage.blobs import blob_name
from rennet.web.context import note_cache, open_index, registry
from rennet.web.responses import FileSend, StoredSend, StreamSend, error_response, etag_matches, refusal

__all__ = ["distribution_file"]

METADATA_SUFFIX = ".metadata"
# A signed URL is a bearer credential for one file: one of a private index may only live this long.
PRIVATE_REDIRECT_LIMIT = 300.0


async def distribution_file(request: Request) -> Response | FileSend | StreamSend:
    index_name = request.path_params["index"]
    try:
        project = check_project_name(request.path_params["project"])
        filename = check_filename(request.path_params["filename"])
    except InvalidName as error:
        return error_response(request, 400, str(error))
    index = await open_index(request, index_name)
    if isinstance(index, Response):
        return index
    metadata = filename.endswith(METADATA_SUFFIX)
    try:
        if metadata:
            answer = await index.open_metadata(project, filename[: -len(METADATA_SUFFIX)])
        else:
            answer = await index.open_file(project, filename)
        if not metadata and (redirect := _store_redirect(request, index, answer)) is not None:
            return redirect
        answer = await _whole_when_needed(request, answer, index, project, filename)
    except (ServiceError, DownloadFailed) as error:
        note_cache(request, "error", counted="file")
        if isinstance(error, ServiceError):
            return refusal(request, error)
        return error_response(request, 502, f"{filename}: {error}")
    note_cache(request, answer.cache, counted="file")
    private = index.config.private  # the index (or group) serving the request, whatever member holds the file
    accel = registry(request).settings.accel_redirect
    if isinstance(answer, StoredFile):
        stored = answer

        async def whole() -> FileSend | StreamSend:
            return _sent(request, await stored.copy(), private, accel)

        return StoredSend(stored, whole, lambda error: refusal(request, error), private)
    return _sent(request, answer, private, accel)


def _store_redirect(request: Request, index: IndexService, answer: FileAnswer) -> Response | None:
    """With `store_redirects`, a redirect to the bucket for a file it holds, signed for that long; a file of a
    private index only when that is short. A conditional request the ETag answers stays here (304)."""
    seconds = registry(request).settings.store_redirects
    if seconds is None or request.method != "GET" or isinstance(answer, StreamingFile):
        return None
    if index.config.private and seconds > PRIVATE_REDIRECT_LIMIT:
        return None
    if etag_matches(request.headers.get("if-none-match"), f'"{answer.sha256}"'):
        return None
    url = signed_url(registry(request).shared, answer.sha256, seconds)
    if isinstance(answer, LocalFile):
        answer.release()
    note_cache(request, answer.cache, counted="file")
    # The URL outlives no cache: no proxy or browser may keep this answer.
    return RedirectResponse(url, status_code=302, headers={"cache-control": "no-store"})


async def _whole_when_needed(
    request: Request, answer: FileAnswer, index: IndexService, project: str, filename: str
) -> FileAnswer:
    """A download under way, waited for when the request needs the whole file: ranges and sizes need all of it,
    and a conditional request its verified ETag (a 304 for the client that has those bytes). A file of the
    object store is answered from what the store says (StoredSend), without waiting for this host's copy."""
    if not isinstance(answer, StreamingFile):
        return answer
    if request.method == "HEAD" or "range" in request.headers or "if-none-match" in request.headers:
        return await on_disk(answer, lambda: index.open_file(project, filename))
    return answer


def _sent(
    request: Request, answer: LocalFile | StreamingFile, private: bool, accel: str | None
) -> FileSend | StreamSend:
    """The response for a held file or a download; with `accel` (the accel_redirect prefix), a held file is sent
    by the web server in front, from blobs/."""
    if isinstance(answer, LocalFile):
        path = accel + blob_name(answer.sha256) if accel else None
        return FileSend.distribution(answer.path, answer.size, answer.sha256, answer.lease, private, path)
    download, filename = answer.download, request.path_params["filename"]

    def refuse(error: DownloadFailed) -> Response:
        return refusal(request, store_refusal(download, f"{filename}: {error}"))

    return StreamSend(download, answer.fd, answer.size, answer.sha256, private, refuse)
