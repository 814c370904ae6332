"""The store suite, run against a local folder and against S3 over real HTTP (moto server)."""

from __future__ import annotations

import stat
import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

from omnimigrate.snapshot.store import (
    Encryption,
    KeyNotFound,
    LocalStore,
    S3Store,
    StoreError,
    open_store,
)


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server._server.server_address
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, moto_endpoint):
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    client = s3_client(moto_endpoint)
    bucket = f"omnimigrate-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)
    return open_store(f"s3://{bucket}/dr/prod", s3_client=client, encryption=Encryption("AES256"))


def test_put_get_list_delete(store):
    store.put("blobs/ab/abcdef", b"one")
    store.put("snapshots/2026-11-23T10=00=00Z.json", b"two")
    store.put("blobs/ab/abcdef", b"one again")  # overwrite is allowed and atomic
    assert store.get("blobs/ab/abcdef") == b"one again"
    assert store.exists("snapshots/2026-11-23T10=00=00Z.json") and not store.exists("blobs/zz/none")
    assert list(store.list("blobs")) == ["blobs/ab/abcdef"]
    assert sorted(store.list()) == ["blobs/ab/abcdef", "snapshots/2026-11-23T10=00=00Z.json"]
    store.delete("blobs/ab/abcdef")
    with pytest.raises(KeyNotFound, match="blobs/ab/abcdef not found"):
        store.get("blobs/ab/abcdef")


@pytest.mark.parametrize(
    "key",
    [
        "../escape",
        "/etc/passwd",
        "a/../../b",
        "a\x00b",
        ".hidden",
        "a//b",
        "x" * 1000,
        "a/./b",
        "caf\u00e9/\u2215etc",
    ],
)
def test_hostile_keys_never_reach_a_backend(store, key):
    with pytest.raises(StoreError, match="unsafe store key"):
        store.put(key, b"x")
    assert list(store.list()) == []


def test_local_files_are_private_and_writes_leave_no_temporaries(tmp_path):
    store = LocalStore(tmp_path / "s")
    store.put("a/b/c", b"data")
    assert stat.S_IMODE((tmp_path / "s" / "a" / "b" / "c").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "s" / "a" / "b").stat().st_mode) == 0o700
    assert [p.name for p in (tmp_path / "s" / "a" / "b").iterdir()] == ["c"]


def test_s3_encryption_and_multipart(moto_endpoint):
    client = s3_client(moto_endpoint)
    client.create_bucket(Bucket="omnimigrate-sse")
    store = S3Store("omnimigrate-sse", "p", client, Encryption("AES256"))
    store.MULTIPART_THRESHOLD = 5 * 1024 * 1024  # S3's minimum part size
    big = bytes(range(256)) * (6 * 1024 * 1024 // 256 + 1)
    store.put("blobs/big", big)
    head = client.head_object(Bucket="omnimigrate-sse", Key="p/blobs/big")
    assert head["ServerSideEncryption"] == "AES256" and "-" in head["ETag"]  # a multipart ETag
    assert store.get("blobs/big") == big


def test_store_url_errors():
    with pytest.raises(StoreError, match="names no bucket"):
        open_store("s3:///prefix")
