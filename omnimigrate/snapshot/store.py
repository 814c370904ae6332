"""Where snapshots live: a local folder (the embedded default) or S3, behind one interface.

Keys are relative, '/'-separated names made of safe segments. A key is checked before any
backend sees it, so no object name, however hostile, becomes `..`, an absolute path, or a NUL.
Writes are atomic in both backends: an object is either absent or complete.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,199}$")
MAX_KEY = 900


class StoreError(Exception):
    """A store operation failed; the message names the store and the key."""


class StoreMissing(StoreError):
    """The store a command names is not there (or is not a folder): a usage error."""


class KeyNotFound(StoreError):
    """The key names no object in the store."""


def check_key(key: str) -> str:
    """Refuse any key that could escape the store or that a backend would mangle."""
    segments = key.split("/")
    if len(key) > MAX_KEY or not all(SEGMENT.match(s) and s not in (".", "..") for s in segments):
        raise StoreError(
            f"unsafe store key {key[:80]!r}: keys are '/'-separated segments of letters, digits, "
            "'.', '_', '=', '-' (not starting with a dot), at most 900 characters"
        )
    return key


class Store(Protocol):
    url: str

    def put(self, key: str, data: bytes) -> None: ...
    def create(self, key: str, data: bytes) -> bool: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str = "") -> Iterator[str]: ...
    def list_times(self, prefix: str = "") -> Iterator[tuple[str, float]]: ...
    def delete(self, key: str) -> None: ...


class LocalStore:
    """A folder. Files are written to a temporary name, fsynced and renamed into place;
    files are 0600 and folders 0700, since snapshots hold an org's content."""

    def __init__(self, root: Path | str, *, create: bool = True) -> None:
        """`create`: make the folder when it is missing (a command that writes a snapshot);
        otherwise a missing folder is an error, so a mistyped path is never "no snapshots"."""
        self.root = Path(root).expanduser().resolve()
        self.url = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreMissing(f"store {self.root} is a file, not a folder: give a folder path")
        if not create and not self.root.is_dir():
            raise StoreMissing(
                f"no store at {self.root}: check --store (or `store` in the config); a command "
                "that only reads creates none"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(
                f"cannot create store folder {self.root}: {exc.strerror}; give a writable path"
            ) from None

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = self._temp(path, data)
        try:
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def create(self, key: str, data: bytes) -> bool:
        """Write only if absent, atomically: a hard link fails if the name exists."""
        path = self._path(key)
        tmp = self._temp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def _temp(self, path: Path, data: bytes) -> Path:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        except OSError as exc:  # read-only, full, or not ours
            raise StoreError(
                f"cannot write to store {self.url}: {exc.strerror}; give a writable --store"
            ) from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Path(tmp)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyNotFound(f"{key} not found in {self.url}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.relative_to(self.root).as_posix()

    def list_times(self, prefix: str = "") -> Iterator[tuple[str, float]]:
        for key in self.list(prefix):
            with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                yield key, (self.root / key).stat().st_mtime

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


@dataclass(frozen=True)
class Encryption:
    """S3 server-side encryption: AES256 (S3-managed keys) or aws:kms with a key id."""

    mode: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = None

    def put_args(self) -> dict[str, str]:
        if self.mode is None:
            return {}
        args: dict[str, str] = {"ServerSideEncryption": self.mode}
        if self.mode == "aws:kms" and self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        return args


class S3Store:
    """A bucket and prefix. The client comes from the caller (standard credential chain and
    AWS_ENDPOINT_URL for S3-compatible servers); large objects go up in parts."""

    MULTIPART_THRESHOLD = 16 * 1024 * 1024

    def __init__(
        self, bucket: str, prefix: str, client: Any, encryption: Encryption | None = None
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client
        self.encryption = encryption or Encryption()
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(
            multipart_threshold=self.MULTIPART_THRESHOLD,
            multipart_chunksize=self.MULTIPART_THRESHOLD,
        )
        self.client.upload_fileobj(
            io.BytesIO(data),
            self.bucket,
            self._key(key),
            ExtraArgs=self.encryption.put_args() or None,
            Config=config,
        )

    def create(self, key: str, data: bytes) -> bool:
        """S3 conditional write (If-None-Match: *): False if the key exists."""
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                IfNoneMatch="*",
                **self.encryption.put_args(),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
                return False
            raise
        return True

    def get(self, key: str) -> bytes:
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(key))[
                "Body"
            ].read()
            return body
        except self.client.exceptions.NoSuchKey:
            raise KeyNotFound(f"{key} not found in {self.url}") from None

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def list(self, prefix: str = "") -> Iterator[str]:
        return (key for key, _ in self.list_times(prefix))

    def list_times(self, prefix: str = "") -> Iterator[tuple[str, float]]:
        folder = "/" if prefix.endswith("/") else ""
        full = (
            self._key(prefix.rstrip("/")) + folder
            if prefix.strip("/")
            else (self.prefix + "/" if self.prefix else "")
        )
        cut = len(self.prefix) + 1 if self.prefix else 0
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full
        ):
            for obj in page.get("Contents", []):
                yield obj["Key"][cut:], obj["LastModified"].timestamp()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


def open_store(
    url: str, *, s3_client: Any = None, encryption: Encryption | None = None, create: bool = False
) -> Store:
    """`s3://bucket/prefix` or a folder path (made when missing only with `create`)."""
    if url.startswith("s3://"):
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise StoreError(f"store URL {url!r} names no bucket: use s3://BUCKET/PREFIX")
        if s3_client is None:
            import boto3
            from botocore.config import Config

            _reach(boto3, Config, bucket, url)
            s3_client = boto3.client(
                "s3", config=Config(retries={"max_attempts": 10, "mode": "adaptive"})
            )
        return S3Store(bucket, prefix, s3_client, encryption)
    return LocalStore(url, create=create)


def _reach(boto3: Any, config: Any, bucket: str, url: str) -> None:
    """One quick look at the bucket before a command relies on it: the store's own client
    retries for long (throttling is worth waiting out), which an unreachable endpoint, a
    missing bucket or a denied one are not."""
    from botocore.exceptions import ClientError

    probe = boto3.client(
        "s3", config=config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=15)
    )
    try:
        probe.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in ("404", "NoSuchBucket"):
            raise StoreMissing(f"no store at {url}: bucket {bucket} does not exist") from None
        if code in ("403", "AccessDenied"):
            raise StoreError(
                f"access to bucket {bucket} is denied: give these credentials s3:ListBucket, "
                "GetObject and PutObject on it (deploy/iam-policy.json)"
            ) from None
        raise
