"""An S3-protocol bucket that keeps every blob, for servers on several hosts (AWS S3, MinIO, Ceph RGW, R2, ...).

Objects are named `<prefix>/<ab>/<cd>/<sha256>`: content-addressed, so a second writer of a key writes the same
bytes and an overwrite is harmless. The endpoint, region and credentials come from the standard AWS variables
(AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), as every AWS tool
reads them; an http:// endpoint (a store on the local network, or the tests' own) is allowed because the
operator named it.

Every call blocks (run it in a thread) and fails in bounded time: the client's own retries stop after
RETRY_SECONDS. What fails is named by one of two exceptions, and no message carries a credential:
- ObjectMissing: the store answers, and has no such object;
- ObjectStoreUnavailable: the store cannot be used (unreachable, refusing the credentials, no such bucket).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from rennet.storage._layout import blob_name

__all__ = ["ObjectMissing", "ObjectStore", "ObjectStoreUnavailable", "StoredObject", "check_store_url"]

CONNECT_SECONDS = 5
REQUEST_SECONDS = 600  # a whole transfer of one blob, the largest included
RETRY_SECONDS = 20
CHUNK = 1 << 20


class StoredObject(NamedTuple):
    sha256: str
    size: int
    modified: float  # seconds since the epoch


class ObjectMissing(Exception):
    """The store has no object under this key."""


class ObjectStoreUnavailable(Exception):
    """The object store cannot be used right now; the message says why, without secrets."""


def check_store_url(url: str) -> tuple[str, str]:
    """The bucket and key prefix of `s3://BUCKET[/PREFIX]`; ValueError with a sentence otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.hostname or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{url!r} is not an object store URL: write s3://BUCKET or s3://BUCKET/PREFIX")
    return parts.hostname, parts.path.strip("/")


class ObjectStore:
    def __init__(self, url: str) -> None:
        from obstore.store import S3Store  # imported only by installations that use an object store

        self.url = url
        self.bucket, self.prefix = check_store_url(url)
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
        self._store = S3Store(
            self.bucket,
            client_options={
                "allow_http": endpoint.startswith("http://"),
                "connect_timeout": f"{CONNECT_SECONDS}s",
                "timeout": f"{REQUEST_SECONDS}s",
            },
            retry_config={"max_retries": 3, "retry_timeout": _seconds(RETRY_SECONDS)},
        )

    def key(self, sha256: str) -> str:
        path = blob_name(sha256)
        return f"{self.prefix}/{path}" if self.prefix else path

    def check(self) -> None:
        """Prove that the bucket answers to these credentials (a missing object is fine; a missing bucket not)."""
        import obstore

        with _named(self):
            # A listing, not a HEAD: S3 answers a HEAD without a body, so a missing bucket looks like a missing key.
            next(iter(obstore.list(self._store, prefix=self.prefix or None, chunk_size=1)), None)

    def size(self, sha256: str) -> int:
        import obstore

        with _named(self, sha256):
            return int(obstore.head(self._store, self.key(sha256))["size"])

    def put_file(self, sha256: str, path: Path) -> None:
        """Upload a verified file (in parts when large). Always, even when the bucket has the key: the same bytes
        again, and a fresh modification time that keeps `rennet gc` from deleting an object about to be used."""
        import obstore

        with _named(self, sha256):
            obstore.put(self._store, self.key(sha256), path, chunk_size=8 << 20, max_concurrency=4)

    def modified(self, sha256: str) -> float:
        """When the object was last written (seconds since the epoch)."""
        import obstore

        with _named(self, sha256):
            return float(obstore.head(self._store, self.key(sha256))["last_modified"].timestamp())

    def objects(self) -> Iterator[StoredObject]:
        """Every blob in the bucket (below the prefix), page by page."""
        import obstore

        with _named(self):
            pages = iter(obstore.list(self._store, prefix=self.prefix or None, chunk_size=1000))
        while True:
            with _named(self):
                page = next(pages, None)
            if page is None:
                return
            for item in page:
                name = item["path"].rsplit("/", 1)[-1]
                if len(name) == 64 and item["path"] == self.key(name):
                    yield StoredObject(name, int(item["size"]), item["last_modified"].timestamp())

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The object's bytes, as they arrive."""
        return self._stream(sha256, None)

    def byte_range(self, sha256: str, start: int, length: int) -> Iterator[bytes]:
        """`length` bytes of the object from `start` on (length > 0), as they arrive."""
        return self._stream(sha256, (start, start + length))

    def _stream(self, sha256: str, byte_range: tuple[int, int] | None) -> Iterator[bytes]:
        import obstore

        with _named(self, sha256):
            options: Any = {} if byte_range is None else {"range": byte_range}
            result = obstore.get(self._store, self.key(sha256), options=options)
            stream = result.stream(min_chunk_size=CHUNK)
        while True:
            with _named(self, sha256):
                chunk = next(stream, None)
            if chunk is None:
                return
            yield bytes(chunk)

    def signed_url(self, sha256: str, seconds: float) -> str:
        """A URL anyone may GET the object with for `seconds` (signed locally: the store is not asked)."""
        import obstore

        with _named(self, sha256):
            return obstore.sign(self._store, "GET", self.key(sha256), _seconds(seconds))

    def delete(self, sha256: str) -> None:
        import obstore

        with _named(self, sha256):
            obstore.delete(self._store, self.key(sha256))  # S3 deletes are idempotent


def _seconds(value: float) -> Any:
    import datetime

    return datetime.timedelta(seconds=value)


@contextlib.contextmanager
def _named(store: ObjectStore, sha256: str | None = None) -> Iterator[None]:
    """The client's errors as ObjectMissing or ObjectStoreUnavailable, naming the bucket, never a secret."""
    from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError

    where = f"the object store s3://{store.bucket}"
    try:
        yield
    except (ObjectMissing, ObjectStoreUnavailable):
        raise
    except (PermissionDeniedError, UnauthenticatedError):
        raise ObjectStoreUnavailable(f"{where} refuses rennet's credentials") from None
    except (BaseError, OSError) as error:
        # obstore says "not found" alike for a key and for a bucket; S3's error document tells them apart.
        if "NoSuchBucket" in str(error):
            raise ObjectStoreUnavailable(f"the bucket {store.bucket!r} does not exist") from None
        if isinstance(error, FileNotFoundError):
            raise ObjectMissing(f"{where} has no blob {sha256}") from None
        raise ObjectStoreUnavailable(f"{where} cannot be reached: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    # The client's messages name the request URL (endpoint, bucket, key), never the credentials.
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__
