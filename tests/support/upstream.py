"""A fake upstream index for hermetic tests: serves wheels and sdists the tests built, with faults on demand.

Pages follow PEP 691/503 (JSON when asked, HTML otherwise, or forced), with ETag or Last-Modified and 304,
core-metadata and every file field. Faults are set per path prefix: "500", "404", "garbage", "truncate",
"wrong-bytes", "overflow" (more bytes than the page states, no Content-Length), "slow:<seconds>" (before answering), "drip:<seconds>" (between 16 KiB pieces of a body), "hang"
(no answer until the fault is cleared), "stall" (half a file, the rest once the fault is cleared). A key
ending in "$" is an exact path rather than a prefix.
`raw_pages` serves any bytes at a path, for hostile pages; `redirects` sends a path elsewhere.
Beside /simple/ it serves PyPI's JSON API (/pypi/<project>/json, /pypi/<project>/<version>/json) of the same files,
and PEP 740's Integrity API (/integrity/<project>/<version>/<filename>/provenance) for the files given provenance.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from email.utils import formatdate
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.metadata import parse_email
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

from tests.support.dists import Dist

# An upstream nothing listens at (the discard port: connections are refused), for a pypi index never to be asked.
NOWHERE = "http://127.0.0.1:9/simple/"


class FakeUpstream:
    def __init__(self, page_format: str = "negotiate", metadata: bool = True, address: str = "127.0.0.1") -> None:
        self.address = address  # another loopback address (127.0.0.2) stands for another host
        self.projects: dict[str, dict[str, Dist]] = {}
        self.page_format = page_format  # "negotiate", "json" or "html"
        self.metadata = metadata
        self.faults: dict[str, str] = {}
        self.requests: Counter[str] = Counter()
        self.headers_seen: list[tuple[str, dict[str, str]]] = []
        self.responses: list[tuple[str, int]] = []  # (path, status) of every answer
        self.validator = "etag"  # how pages are validated: "etag" or "last-modified"
        self.statuses: dict[str, tuple[str, str | None]] = {}  # project -> PEP 792 (status, reason)
        self.raw_pages: dict[str, tuple[bytes, str]] = {}  # path -> (body, content type), served as is
        self.redirects: dict[str, str] = {}  # path -> Location, answered with 302
        self.files_base: str | None = None  # where file URLs point; default this server's /files/
        self.serial = 0  # PyPI's event serial: bumped by every change to a project
        self.serials: dict[str, int] = {}  # project -> its last serial, in the JSON root when root_serials
        self.root_serials = True
        self.provenances: dict[str, bytes] = {}  # filename -> provenance object served by the Integrity API
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = _free_port()
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    # -- content ---------------------------------------------------------------------------------------------

    def add(self, *dists: Dist) -> FakeUpstream:
        for dist in dists:
            self.projects.setdefault(dist.project, {})[dist.filename] = dist
            self.touch(dist.project)
        return self

    def remove(self, filename: str) -> None:
        for project, files in self.projects.items():
            if files.pop(filename, None) is not None:
                self.touch(project)

    def replace(self, dist: Dist) -> None:
        self.projects[dist.project][dist.filename] = dist
        self.touch(dist.project)

    def drop_project(self, name: str) -> None:
        """The project is gone: its page answers 404 and the root no longer lists it."""
        del self.projects[name]
        self.serials.pop(name, None)

    def touch(self, project: str) -> None:
        """A change to the project (PyPI bumps its serial): the JSON root's `_last-serial` for it moves."""
        self.serial += 1
        self.serials[project] = self.serial

    def attest(self, filename: str, provenance: bytes) -> None:
        """Give a file provenance: its page entry names it, the Integrity API serves these bytes."""
        self.provenances[filename] = provenance

    def provenance_url(self, filename: str) -> str:
        dist = self.find(filename)
        assert dist is not None
        version = _release(filename)
        return f"http://{self.address}:{self.port}/integrity/{dist.project}/{version}/{filename}/provenance"

    def fault(self, prefix: str, kind: str | None) -> None:
        if kind is None:
            self.faults.pop(prefix, None)
        else:
            self.faults[prefix] = kind

    def count(self, prefix: str) -> int:
        return sum(n for path, n in self.requests.items() if path.startswith(prefix))

    def answered(self, prefix: str, status: int) -> int:
        """How many requests under prefix were answered with status."""
        with self._lock:
            return sum(1 for path, code in self.responses if path.startswith(prefix) and code == status)

    def seen_headers(self, prefix: str) -> list[dict[str, str]]:
        with self._lock:
            return [headers for path, headers in self.headers_seen if path.startswith(prefix)]

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}/simple/"

    def file_url(self, filename: str) -> str:
        return f"{self.files_base or f'http://{self.address}:{self.port}/files/'}{filename}"

    # -- life ------------------------------------------------------------------------------------------------

    def start(self) -> FakeUpstream:
        handler = type("Handler", (_Handler,), {"upstream": self})
        self._server = _QuietServer((self.address, self.port), handler)
        self._server.daemon_threads = True
        # A short poll: stop() waits for the serving loop to notice, up to one interval (0.5 s by default).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection: a stopped upstream must not answer on a kept-alive one."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

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
            if dist.filename in self.provenances:
                entry["provenance"] = self.provenance_url(dist.filename)
            entry.update(dist.extra)
            files.append(entry)
        versions = sorted({d.filename.split("-")[1].removesuffix(".tar.gz") for d in self.projects[name].values()})
        body = {"meta": {"api-version": "1.1", "_last-serial": 7}, "name": name, "files": files, "versions": versions}
        if name in self.statuses:
            status, reason = self.statuses[name]
            body["project-status"] = {"status": status, "reason": reason}
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
            if dist.filename in self.provenances:
                attrs += f' data-provenance="{escape(self.provenance_url(dist.filename))}"'
            for key, value in dist.extra.items():
                if isinstance(value, str):  # JSON-only fields (dicts, numbers) have no HTML form
                    attrs += f' data-{key}="{escape(value)}"'
            links.append(f"<a {attrs}>{escape(dist.filename)}</a><br/>")
        head = ""
        if name in self.statuses:
            status, reason = self.statuses[name]
            head = f'<meta name="pypi:project-status" content="{escape(status)}">'
            if reason:
                head += f'<meta name="pypi:project-status-reason" content="{escape(reason)}">'
        return f"<!DOCTYPE html><html><head>{head}</head><body>{''.join(links)}</body></html>".encode()

    def root(self, as_json: bool) -> bytes:
        names = sorted(self.projects)
        if as_json:
            entries = [
                {"name": n, "_last-serial": self.serials[n]}
                if self.root_serials and n in self.serials
                else {"name": n}
                for n in names
            ]
            meta = {"api-version": "1.1", "_last-serial": self.serial}
            return json.dumps({"meta": meta, "projects": entries}).encode()
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
            "description": raw.get("description"),
            "description_content_type": raw.get("description_content_type"),
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


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients (rennet) close connections mid-request on purpose when they give up: not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    upstream: FakeUpstream
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.upstream._lock:
            self.upstream._connections.add(self.connection)

    def finish(self) -> None:
        with self.upstream._lock:
            self.upstream._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        up = self.upstream
        path = self.path.split("?", 1)[0]
        with up._lock:
            up.requests[path] += 1
            up.headers_seen.append((path, {k.lower(): v for k, v in self.headers.items()}))
        prefix = self._fault_prefix(path)
        fault = up.faults.get(prefix) if prefix is not None else None
        if fault == "hang":
            # Hang until the test clears the fault or stops the server, then drop the connection unanswered.
            while up.faults.get(prefix or "") == "hang" and up._server is not None:
                time.sleep(0.05)
            self.close_connection = True
            return None
        if fault and fault.startswith("slow:"):
            time.sleep(float(fault.split(":", 1)[1]))
        if fault == "500":
            return self._send(500, b"upstream exploded", "text/plain")
        if fault == "404":
            return self._send(404, b"not here", "text/plain")
        if fault == "garbage":
            return self._send(200, b"\x00\xff{not json", "application/vnd.pypi.simple.v1+json")
        if path in up.redirects:
            return self._send(302, b"", None, {"Location": up.redirects[path]})
        if path in up.raw_pages:
            body, content_type = up.raw_pages[path]
            return self._send(200, body, content_type)
        if path == "/simple/":
            as_json = self._wants_json()
            return self._send(200, up.root(as_json), self._page_type(as_json))
        if path.startswith("/simple/"):
            return self._page(path)
        if path.startswith("/files/"):
            return self._file(path.removeprefix("/files/"), fault)
        if path.startswith("/integrity/") and path.endswith("/provenance"):
            provenance = up.provenances.get(path.split("/")[-2])
            if provenance is None:
                return self._send(404, b"no provenance", "text/plain")
            return self._send(200, provenance, "application/vnd.pypi.integrity.v1+json")
        if path.startswith("/pypi/") and path.endswith("/json"):
            return self._json_api(path.removeprefix("/pypi/").removesuffix("/json").split("/"))
        self._send(404, b"no route", "text/plain")

    def _fault_prefix(self, path: str) -> str | None:
        """The fault key for a path: a prefix, or an exact path when the key ends with "$"."""
        for key in self.upstream.faults:
            if path == key[:-1] if key.endswith("$") else path.startswith(key):
                return key
        return None

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
        digest = hashlib.sha256(body).hexdigest()
        if self.upstream.validator == "etag":
            validator = {"ETag": '"' + digest[:16] + '"'}
            unchanged = self.headers.get("If-None-Match") == validator["ETag"]
        else:
            # A date derived from the content: changes whenever the page does.
            moment = 1_600_000_000 + int(digest[:6], 16)
            validator = {"Last-Modified": formatdate(moment, usegmt=True)}
            unchanged = self.headers.get("If-Modified-Since") == validator["Last-Modified"]
        if unchanged:
            return self._send(304, b"", None, validator)
        self._send(200, body, self._page_type(as_json), validator | {"X-PyPI-Last-Serial": "7"})

    def _json_api(self, parts: list[str]) -> None:
        name, version = parts[0], (parts[1] if len(parts) > 1 else None)
        if name != canonicalize_name(name):
            return self._redirect(f"/pypi/{canonicalize_name(name)}/{version + '/' if version else ''}json")
        body = self.upstream.json_api(name, version)
        if body is None:
            return self._send(404, b'{"message": "Not Found"}', "application/json")
        validator = {"ETag": '"' + hashlib.sha256(body).hexdigest()[:16] + '"'}
        if self.headers.get("If-None-Match") == validator["ETag"]:
            return self._send(304, b"", None, validator)
        self._send(200, body, "application/json", validator | {"X-PyPI-Last-Serial": "7"})

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
        if fault == "overflow":
            # No Content-Length, then more bytes than the page states, until the connection closes.
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data + b"\0" * (1 << 20))
            self.wfile.flush()
            self.close_connection = True
            return None
        if fault == "stall":
            return self._stall(data)
        drip = float(fault.split(":", 1)[1]) if fault and fault.startswith("drip:") else 0.0
        self._send(200, data, "application/octet-stream", {"Last-Modified": "Tue, 02 Jan 2024 03:04:05 GMT"}, drip)

    def _stall(self, data: bytes) -> None:
        """Half the body, then nothing until the test clears the fault, then the rest."""
        path = self.path.split("?", 1)[0]
        prefix = self._fault_prefix(path)
        self._send_head(200, "application/octet-stream", {"Content-Length": str(len(data))})
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        while self.upstream.faults.get(prefix or "") == "stall" and self.upstream._server is not None:
            time.sleep(0.02)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data[len(data) // 2 :])

    def _send_head(self, status: int, content_type: str | None, headers: dict[str, str]) -> None:
        with self.upstream._lock:
            self.upstream.responses.append((self.path.split("?", 1)[0], status))
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

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
        self._send_head(status, content_type, (headers or {}) | {"Content-Length": str(len(body))})
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
    """A loopback port nothing listens on, for a server about to start. Drawn at random below the kernel's
    ephemeral range: a port the kernel hands out for binding to 0 is also one it hands to outgoing connections,
    so that between this probe and the server's bind any client (of any test process) could take it."""
    lowest_ephemeral = _lowest_ephemeral_port()
    for _ in range(100):
        port = random.randrange(10_000, lowest_ephemeral)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _lowest_ephemeral_port() -> int:
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(low, 10_001)


def names(dists: Iterable[Dist]) -> list[str]:
    return [d.filename for d in dists]


class Blackhole:
    """An address where connections are never accepted: a listening socket whose accept queue is full.

    Linux drops further SYNs to it, so a client's connect hangs until its own connect timeout.
    """

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._fillers: list[socket.socket] = []
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", self.port))
            self._fillers.append(filler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple/"

    def close(self) -> None:
        for sock in (*self._fillers, self._listener):
            sock.close()
