"""An S3-protocol server on loopback for the object store tests: moto's server mode, in a process of its own.

moto keeps its buckets in memory and accepts any credentials; rennet reaches it through the standard AWS
variables (`environment()`), as it would reach AWS S3, MinIO or Ceph.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.upstream import _free_port

__all__ = ["S3Server"]

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

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None
        self._log.close()

    def environment(self) -> dict[str, str]:
        """The AWS variables a client needs to use this server (moto takes any key)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "rennet-tests",
            "AWS_SECRET_ACCESS_KEY": "rennet-tests-secret",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def new_bucket(self) -> str:
        """A bucket of its own for one test, made with a plain PUT (moto does not check signatures)."""
        name = f"rennet-{next(_buckets)}"
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/{name}", method="PUT"), timeout=10).close()
        return name

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.url + "/", timeout=1).close()
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True
