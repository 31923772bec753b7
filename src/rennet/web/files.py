"""Distribution files and their .metadata, from any index."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from rennet.domain.names import InvalidName, check_filename, check_project_name
from rennet.service.answers import LocalFile, StreamingFile, on_disk
from rennet.service.errors import ServiceError
from rennet.service.runtime.downloads import DownloadFailed
from rennet.web.context import note_cache, open_index
from rennet.web.responses import FileSend, StreamSend, error_response, refusal

__all__ = ["distribution_file"]

METADATA_SUFFIX = ".metadata"


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
    try:
        if filename.endswith(METADATA_SUFFIX):
            answer = await index.open_metadata(project, filename[: -len(METADATA_SUFFIX)])
        else:
            answer = await index.open_file(project, filename)
        needs_whole_file = request.method == "HEAD" or "range" in request.headers
        if isinstance(answer, StreamingFile) and (needs_whole_file or "if-none-match" in request.headers):
            # Ranges and sizes need the whole file, and a conditional request its verified ETag (a 304 for the
            # client that has those bytes): let the download finish, then answer from disk.
            answer = await on_disk(answer, lambda: index.open_file(project, filename))
    except (ServiceError, DownloadFailed) as error:
        note_cache(request, "error", counted="file")
        if isinstance(error, ServiceError):
            return refusal(request, error)
        return error_response(request, 502, f"{filename}: {error}")
    note_cache(request, answer.cache, counted="file")
    private = index.config.private  # the index (or group) serving the request, whatever member holds the file
    if isinstance(answer, LocalFile):
        return FileSend.distribution(answer.path, answer.size, answer.sha256, answer.lease, private)
    return StreamSend(answer.download, answer.fd, answer.size, answer.sha256, private)
