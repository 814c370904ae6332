"""Opening a store for a command: its URL from flag or config, and its cipher when the store
is encrypted (the key from the environment, registered with the log redactor)."""

from __future__ import annotations

import functools
import os
from typing import Any

from omnimigrate.cli import AppContext
from omnimigrate.config import ConfigError
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.crypto import (
    Cipher,
    EncryptionError,
    open_cipher,
    parse_key,
)
from omnimigrate.snapshot.store import Store, open_store


def store_for(app: AppContext, url: str | None) -> Store:
    return open_store(url or app.settings.store)


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
