"""A fake upstream index for hermetic tests: serves wheels and sdists the tests built, with faults on demand.

Pages follow PEP 691/503 (JSON when asked, HTML otherwise, or forced), with ETag and 304, core-metadata and
every file field. Faults are set per path prefix: "500", "404", "garbage", "truncate", "wrong-bytes",
"slow:<seconds>" (before answering), "drip:<seconds>" (between 16 KiB pieces of a body), "hang" (never answers).
Beside /simple/ it serves PyPI's JSON API (/pypi/<project>/json, /pypi/<project>/<version>/json) of the same files.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from packaging.metadata import parse_email
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from tests.support.dists import Dist


class FakeUpstream:
    def __init__(self, page_format: str = "negotiate", metadata: bool = True) -> None:
        self.projects: dict[str, dict[str, Dist]] = {}
        self.page_format = page_format  # "negotiate", "json" or "html"
        self.metadata = metadata
        self.faults: dict[str, str] = {}
        self.requests: Counter[str] = Counter()
        self.headers_seen: list[tuple[str, dict[str, str]]] = []
        self.files_base: str | None = None  # where file URLs point; default this server's /files/
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = _free_port()
        self._lock = threading.Lock()

    # -- content ---------------------------------------------------------------------------------------------

    def add(self, *dists: Dist) -> FakeUpstream:
        for dist in dists:
            self.projects.setdefault(dist.project, {})[dist.filename] = dist
        return self

    def remove(self, filename: str) -> None:
        for files in self.projects.values():
            files.pop(filename, None)

    def replace(self, dist: Dist) -> None:
        self.projects[dist.project][dist.filename] = dist

    def fault(self, prefix: str, kind: str | None) -> None:
        if kind is None:
            self.faults.pop(prefix, None)
        else:
            self.faults[prefix] = kind

    def count(self, prefix: str) -> int:
        return sum(n for path, n in self.requests.items() if path.startswith(prefix))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple/"

    def file_url(self, filename: str) -> str:
        return f"{self.files_base or f'http://127.0.0.1:{self.port}/files/'}{filename}"

    # -- life ------------------------------------------------------------------------------------------------

    def start(self) -> FakeUpstream:
        handler = type("Handler", (_Handler,), {"upstream": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- rendering -------------------------------------------------------------------------------------------

    def page_json(self, name: str) -> bytes:
        files = []
        for dist in self.projects[name].values():
            entry: dict[str, Any] = {
                "filename": dist.filename,
                "url": self.file_url(dist.filename),
                "hashes": {"sha256": dist.sha256},
                "requires-python": dist.requires_python,
                "size": len(dist.data),
                "upload-time": dist.upload_time,
                "yanked": dist.yanked,
            }
            if self.metadata and dist.metadata is not None:
                entry["core-metadata"] = {"sha256": hashlib.sha256(dist.metadata).hexdigest()}
            entry.update(dist.extra)
            files.append(entry)
        versions = sorted({d.filename.split("-")[1].removesuffix(".tar.gz") for d in self.projects[name].values()})
        body = {"meta": {"api-version": "1.1", "_last-serial": 7}, "name": name, "files": files, "versions": versions}
        return json.dumps(body).encode()

    def page_html(self, name: str) -> bytes:
        links = []
        for dist in self.projects[name].values():
            attrs = f'href="{escape(self.file_url(dist.filename))}#sha256={dist.sha256}"'
            if dist.requires_python:
                attrs += f' data-requires-python="{escape(dist.requires_python)}"'
            if dist.yanked:
                attrs += f' data-yanked="{escape(dist.yanked if isinstance(dist.yanked, str) else "")}"'
            if self.metadata and dist.metadata is not None:
                attrs += f' data-dist-info-metadata="sha256={hashlib.sha256(dist.metadata).hexdigest()}"'
            links.append(f"<a {attrs}>{escape(dist.filename)}</a><br/>")
        return f"<!DOCTYPE html><html><body>{''.join(links)}</body></html>".encode()

    def root(self, as_json: bool) -> bytes:
        names = sorted(self.projects)
        if as_json:
            return json.dumps({"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]}).encode()
        return ("<html><body>" + "".join(f'<a href="{n}/">{n}</a>' for n in names) + "</body></html>").encode()

    def json_api(self, name: str, version: str | None) -> bytes | None:
        """PyPI's JSON API document of a project, or of one release of it; None when there is none."""
        releases: dict[str, list[Dist]] = {}
        for dist in self.projects.get(name, {}).values():
            releases.setdefault(_release(dist.filename), []).append(dist)
        chosen = version if version is not None else max(releases, key=Version, default=None)
        if chosen not in releases:
            return None
        metadata = next((d.metadata for d in releases[chosen] if d.metadata), None)
        raw = parse_email(metadata)[0] if metadata else {}
        info = {
            "name": raw.get("name", name),
            "version": chosen,
            "summary": raw.get("summary"),
            "requires_dist": raw.get("requires_dist"),
            "project_url": f"http://127.0.0.1:{self.port}/project/{name}/",
        }
        document: dict[str, Any] = {"info": info, "last_serial": 7, "urls": self._json_files(releases[chosen])}
        if version is None:
            document["releases"] = {v: self._json_files(files) for v, files in releases.items()}
        return json.dumps(document).encode()

    def _json_files(self, dists: list[Dist]) -> list[dict[str, Any]]:
        return [
            {
                "filename": d.filename,
                "url": self.file_url(d.filename),
                "digests": {"sha256": d.sha256, "md5": hashlib.md5(d.data).hexdigest()},
                "size": len(d.data),
                "packagetype": "bdist_wheel" if d.filename.endswith(".whl") else "sdist",
                "requires_python": d.requires_python,
                "yanked": bool(d.yanked),
            }
            for d in dists
        ]

    def find(self, filename: str) -> Dist | None:
        for files in self.projects.values():
            if filename in files:
                return files[filename]
        return None


class _Handler(BaseHTTPRequestHandler):
    upstream: FakeUpstream
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        up = self.upstream
        path = self.path.split("?", 1)[0]
        with up._lock:
            up.requests[path] += 1
            up.headers_seen.append((path, {k.lower(): v for k, v in self.headers.items()}))
        fault = next((kind for prefix, kind in up.faults.items() if path.startswith(prefix)), None)
        if fault == "hang":
            time.sleep(3600)
            return None
        if fault and fault.startswith("slow:"):
            time.sleep(float(fault.split(":", 1)[1]))
        if fault == "500":
            return self._send(500, b"upstream exploded", "text/plain")
        if fault == "404":
            return self._send(404, b"not here", "text/plain")
        if fault == "garbage":
            return self._send(200, b"\x00\xff{not json", "application/vnd.pypi.simple.v1+json")
        if path == "/simple/":
            as_json = self._wants_json()
            return self._send(200, up.root(as_json), self._page_type(as_json))
        if path.startswith("/simple/"):
            return self._page(path)
        if path.startswith("/files/"):
            return self._file(path.removeprefix("/files/"), fault)
        if path.startswith("/pypi/") and path.endswith("/json"):
            return self._json_api(path.removeprefix("/pypi/").removesuffix("/json").split("/"))
        self._send(404, b"no route", "text/plain")

    def _wants_json(self) -> bool:
        if self.upstream.page_format != "negotiate":
            return self.upstream.page_format == "json"
        return "vnd.pypi.simple.v1+json" in self.headers.get("Accept", "")

    def _page_type(self, as_json: bool) -> str:
        return "application/vnd.pypi.simple.v1+json" if as_json else "text/html; charset=utf-8"

    def _page(self, path: str) -> None:
        name = path.removeprefix("/simple/").strip("/")
        if name != canonicalize_name(name):
            return self._redirect(f"/simple/{canonicalize_name(name)}/")
        if name not in self.upstream.projects:
            return self._send(404, b"no such project", "text/plain")
        as_json = self._wants_json()
        body = self.upstream.page_json(name) if as_json else self.upstream.page_html(name)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, b"", None, {"ETag": etag})
        self._send(200, body, self._page_type(as_json), {"ETag": etag, "X-PyPI-Last-Serial": "7"})

    def _json_api(self, parts: list[str]) -> None:
        name, version = parts[0], (parts[1] if len(parts) > 1 else None)
        if name != canonicalize_name(name):
            return self._redirect(f"/pypi/{canonicalize_name(name)}/{version + '/' if version else ''}json")
        body = self.upstream.json_api(name, version)
        if body is None:
            return self._send(404, b'{"message": "Not Found"}', "application/json")
        self._send(200, body, "application/json", {"X-PyPI-Last-Serial": "7"})

    def _file(self, filename: str, fault: str | None) -> None:
        is_metadata = filename.endswith(".metadata")
        dist = self.upstream.find(filename.removesuffix(".metadata"))
        if dist is None or (is_metadata and (dist.metadata is None or not self.upstream.metadata)):
            return self._send(404, b"no such file", "text/plain")
        data = dist.metadata if is_metadata else dist.data
        assert data is not None
        if fault == "wrong-bytes":
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if fault == "truncate":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return None
        drip = float(fault.split(":", 1)[1]) if fault and fault.startswith("drip:") else 0.0
        self._send(200, data, "application/octet-stream", {"Last-Modified": "Tue, 02 Jan 2024 03:04:05 GMT"}, drip)

    def _redirect(self, location: str) -> None:
        self._send(301, b"", None, {"Location": location})

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: dict[str, str] | None = None,
        drip: float = 0.0,
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD" or status == 304:
            return
        try:
            if drip:
                for start in range(0, len(body), 16384):
                    self.wfile.write(body[start : start + 16384])
                    self.wfile.flush()
                    time.sleep(drip)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _release(filename: str) -> str:
    if filename.endswith(".whl"):
        return str(parse_wheel_filename(filename)[1])
    return str(parse_sdist_filename(filename)[1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def names(dists: Iterable[Dist]) -> list[str]:
    return [d.filename for d in dists]
