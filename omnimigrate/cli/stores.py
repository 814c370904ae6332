"""Opening a store for a command: its URL from flag or config, and its cipher when the store
is encrypted (the key from the environment, registered with the log redactor)."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Any

from omnimigrate.cli.app import AppContext
from omnimigrate.errors import ConfigError
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.crypto import (
    Cipher,
    EncryptionError,
    open_cipher,
    parse_key,
)
from omnimigrate.snapshot.store import Store, open_store


def store_for(app: AppContext, url: str | None, *, create: bool = False) -> Store:
    """The store a command names; only a command that writes snapshots (`create`) makes a
    missing local folder."""
    return open_store(url or app.settings.store, create=create)


def writable_cache(app: AppContext) -> Path:
    """The cache folder backup keeps its checkpoints in, checked writable before a run opens."""
    path = app.settings.cache_dir
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        tempfile.TemporaryFile(dir=path).close()  # a file made and gone: the folder takes writes
    except OSError as exc:
        raise ConfigError(
            f"cache folder {path} is not writable ({exc.strerror}): set cache_dir in the config "
            "or OMNIMIGRATE_CACHE_DIR to a writable folder"
        ) from None
    return path


def cipher_for(app: AppContext, store: Store, *, create: bool = False) -> Cipher | None:
    settings = app.settings
    name = settings.encryption_key_env
    raw = os.environ.get(name)
    key = None
    if raw:
        app.redactor.add(raw)
        try:
            key = parse_key(raw, name)
        except EncryptionError as exc:  # a malformed setting: a usage error
            raise ConfigError(str(exc)) from None
    return open_cipher(
        store, key=key, kms_key_id=settings.kms_key_id, kms=_LazyKms(), create=create
    )


def blobs_for(app: AppContext, store: Store) -> BlobStore:
    return BlobStore(store, cipher=cipher_for(app, store))


class _LazyKms:
    """A KMS client made on first use, so stores that need no KMS never build one."""

    @functools.cached_property
    def _client(self) -> Any:
        import boto3

        return boto3.client("kms")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
