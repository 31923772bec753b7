"""Blobs in an S3-protocol bucket (moto's server on loopback): uploaded before they are published on this host,
copied back (verified) to a host that lacks them, and every failure of the store named without a secret."""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path

import pytest

from rennet.service.runtime.openblobs import OpenBlobs
from rennet.storage.blobs import DigestMismatch, LocalBlobStore
from rennet.storage.objectstore import ObjectMissing, ObjectStore, ObjectStoreUnavailable, check_store_url
from tests.support.s3 import S3Server
from tests.support.upstream import _free_port


def _hosts(tmp_path: Path, blob_store: str) -> tuple[LocalBlobStore, LocalBlobStore]:
    """Two hosts' blob stores on one bucket."""
    one = LocalBlobStore(tmp_path / "one" / "blobs", tmp_path / "one" / "tmp", ObjectStore(blob_store))
    two = LocalBlobStore(tmp_path / "two" / "blobs", tmp_path / "two" / "tmp", ObjectStore(blob_store))
    return one, two


def _leftovers(store: LocalBlobStore) -> list[Path]:
    return [path for path in store.temp_dir.iterdir() if path.name != "owner.lock"]


def test_a_blob_is_in_the_bucket_before_it_is_published_and_another_host_copies_it(
    tmp_path: Path, blob_store: str
) -> None:
    one, two = _hosts(tmp_path, blob_store)
    data = b"wheel bytes " * 50_000
    sha256 = one.put_bytes(data)

    assert one.remote is not None and one.remote.size(sha256) == len(data)
    assert not two.exists(sha256)
    assert two.fetch(sha256) is True
    assert two.path_for(sha256).read_bytes() == data
    assert _leftovers(two) == []
    assert one.fetch(sha256) is True  # held already: nothing to copy


def test_a_blob_the_bucket_lacks_is_not_fetched(tmp_path: Path, blob_store: str) -> None:
    one, _ = _hosts(tmp_path, blob_store)
    missing = hashlib.sha256(b"never stored").hexdigest()

    assert one.fetch(missing) is False
    assert not one.exists(missing)
    assert _leftovers(one) == []


def test_an_object_whose_bytes_are_not_its_name_is_refused(tmp_path: Path, blob_store: str) -> None:
    one, two = _hosts(tmp_path, blob_store)
    claimed = hashlib.sha256(b"the real bytes").hexdigest()
    other = tmp_path / "other"
    other.write_bytes(b"other bytes")
    assert one.remote is not None
    one.remote.put_file(claimed, other)  # as a damaged or tampered object would be

    with pytest.raises(DigestMismatch):
        two.fetch(claimed)
    assert not two.exists(claimed)
    assert _leftovers(two) == []


def test_a_large_blob_goes_up_in_parts_and_comes_back_whole(tmp_path: Path, blob_store: str) -> None:
    one, two = _hosts(tmp_path, blob_store)
    data = bytes(range(256)) * (20 << 12)  # 20 MiB: more than two of the client's 8 MiB parts
    writer = one.writer()
    for start in range(0, len(data), 1 << 20):
        writer.write(data[start : start + (1 << 20)])
    sha256 = writer.commit()

    assert two.fetch(sha256) is True
    assert hashlib.sha256(two.path_for(sha256).read_bytes()).hexdigest() == sha256


def test_the_store_is_checked_and_its_failures_named_without_secrets(
    blob_store: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    ObjectStore(blob_store).check()

    with pytest.raises(ObjectStoreUnavailable, match="the bucket 'no-such-bucket' does not exist"):
        ObjectStore("s3://no-such-bucket/blobs").check()
    with pytest.raises(ObjectMissing):
        ObjectStore(blob_store).size("0" * 64)

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(ObjectStoreUnavailable, match="cannot be reached") as unreachable:
        ObjectStore(blob_store).check()
    secret = s3_server.environment()["AWS_SECRET_ACCESS_KEY"]
    assert secret not in str(unreachable.value)


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [("s3://bucket", "bucket", ""), ("s3://bucket/", "bucket", ""), ("s3://bucket/a/b/", "bucket", "a/b")],
)
def test_store_urls_name_a_bucket_and_a_prefix(url: str, bucket: str, prefix: str) -> None:
    assert check_store_url(url) == (bucket, prefix)


@pytest.mark.parametrize("url", ["bucket", "https://bucket/x", "s3://", "s3://key:secret@bucket", "s3://b?x=1"])
def test_other_urls_are_refused_with_a_sentence(url: str) -> None:
    with pytest.raises(ValueError, match="is not an object store URL: write s3://BUCKET or s3://BUCKET/PREFIX"):
        check_store_url(url)


def test_copies_are_trimmed_least_recently_used_first_and_only_when_the_bucket_has_them(
    tmp_path: Path, blob_store: str
) -> None:
    host, _ = _hosts(tmp_path, blob_store)
    oldest, older, newest = (host.put_bytes(bytes([n]) * 100_000) for n in (1, 2, 3))
    local_only = LocalBlobStore(host.root, tmp_path / "before-the-bucket").put_bytes(b"\x04" * 100_000)
    for age, sha256 in enumerate((newest, older, oldest, local_only)):
        path = host.path_for(sha256)
        os.utime(path, (time.time() - 60 * (age + 1), path.stat().st_mtime))

    assert host.trim_copies(250_000) == (2, 200_000)

    assert not host.exists(oldest) and not host.exists(older)
    assert host.exists(newest) and host.exists(local_only)  # the bucket never had the last one: it stays
    assert host.fetch(oldest) is True  # still in the bucket
    assert host.trim_copies(10**9) == (0, 0)


def test_one_trim_at_a_time_per_host(tmp_path: Path, blob_store: str) -> None:
    host, _ = _hosts(tmp_path, blob_store)
    sha256 = host.put_bytes(b"copy")
    with (host.shared_temp / "trim.lock").open("a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert host.trim_copies(0) == (0, 0)
    assert host.trim_copies(0) == (1, 4)
    assert not host.exists(sha256)


def test_sending_a_copy_marks_it_as_used(tmp_path: Path, blob_store: str) -> None:
    host, _ = _hosts(tmp_path, blob_store)
    sha256 = host.put_bytes(b"sent often")
    path = host.path_for(sha256)
    written = path.stat().st_mtime
    os.utime(path, (time.time() - 3600, written))
    blobs = OpenBlobs(host)
    try:
        lease = blobs.lease(sha256)
        assert lease is not None
        lease.release()
    finally:
        blobs.close()
    assert path.stat().st_atime > time.time() - 60
    assert path.stat().st_mtime == written  # when it was written, which eviction and gc go by
