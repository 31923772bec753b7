"""An S3-protocol server on loopback for the object store tests: moto's server mode, in a process of its own.

moto keeps its buckets in memory and accepts any credentials; rennet reaches it through the standard AWS
variables (`environment()`), as it would reach AWS S3, MinIO or Ceph. `RestartableS3` is one that can be stopped
and started again with what it held.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.relay import Relay
from tests.support.upstream import _free_port

__all__ = ["RestartableS3", "S3Server"]

_buckets = itertools.count(1)


class S3Server:
    def __init__(self, log_dir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = (log_dir / f"moto-{self.port}.log").open("wb")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> S3Server:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto's S3 server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    @property
    def pid(self) -> int | None:
        """The server's process (bench/run.py counts its CPU as the benchmark's own), while it runs."""
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None
        self._log.close()

    def environment(self) -> dict[str, str]:
        """The AWS variables a client needs to use this server (moto takes any key)."""
        return _environment(self.url)

    def new_bucket(self) -> str:
        """A bucket of its own for one test, made with a plain PUT (moto does not check signatures)."""
        name = f"rennet-{next(_buckets)}"
        _request("PUT", f"{self.url}/{name}")
        return name

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object of a bucket: key -> bytes."""
        import obstore

        store = self._store(bucket)
        keys = [meta["path"] for page in obstore.list(store) for meta in page]
        return {key: bytes(obstore.get(store, key).bytes()) for key in keys}

    def put_object(self, bucket: str, key: str, data: bytes) -> None:
        import obstore

        obstore.put(self._store(bucket), key, data)

    def _store(self, bucket: str) -> Any:
        """A client of the bucket (obstore signs its requests: moto refuses anonymous reads of objects)."""
        from obstore.store import S3Store

        variables = self.environment()
        return S3Store(
            bucket,
            endpoint=self.url,
            region=variables["AWS_REGION"],
            access_key_id=variables["AWS_ACCESS_KEY_ID"],
            secret_access_key=variables["AWS_SECRET_ACCESS_KEY"],
            client_options={"allow_http": True},
        )

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.url + "/", timeout=1).close()
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True


class RestartableS3:
    """moto's S3 server behind a relay (tests/support/relay.py) on a port that stays: `stop()` cuts every
    connection and stops the moto process; `start()` starts a new one, puts back every object the old one held,
    and only then lets clients in again.

    moto keeps its buckets in memory and has no persistence of its own (its request recorder replays the requests
    it saw, which a PUT cut short by the stop would replay wrongly), so the test carries the objects across the
    restart itself. What clients see is what they would see of a store that is restarted with its disks: refused
    connections, then the same buckets with the same objects."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.relay = Relay()
        self.url = f"http://127.0.0.1:{self.relay.port}"
        self.buckets: list[str] = []
        self._server: S3Server | None = None
        self._held: dict[str, dict[str, bytes]] = {}

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> RestartableS3:
        assert self._server is None, "the store is running already"
        server = S3Server(self.log_dir).start()
        for bucket in self.buckets:
            _request("PUT", f"{server.url}/{bucket}")
            for key, data in self._held.pop(bucket, {}).items():
                server.put_object(bucket, key, data)
        self._server = server
        self.relay.open(server.port)
        return self

    def stop(self) -> None:
        """Refuse clients, then keep what the store holds, then stop it. A request cut by the relay may still have
        completed in moto: what it holds at the end is what the new one gets."""
        self.relay.close()
        if self._server is None:
            return
        self._held = {bucket: self._server.objects(bucket) for bucket in self.buckets}
        self._server.stop()
        self._server = None

    def environment(self) -> dict[str, str]:
        return _environment(self.url)

    def new_bucket(self) -> str:
        assert self._server is not None, "the store is stopped"
        name = self._server.new_bucket()
        self.buckets.append(name)
        return name

    def objects(self, bucket: str) -> dict[str, bytes]:
        assert self._server is not None, "the store is stopped"
        return self._server.objects(bucket)


def _environment(url: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "rennet-tests",
        "AWS_SECRET_ACCESS_KEY": "rennet-tests-secret",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _request(method: str, url: str, data: bytes | None = None) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=30) as response:
        body: bytes = response.read()
        return body
