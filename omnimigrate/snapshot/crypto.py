"""Client-side encryption of blobs (AES-256-GCM), with the key from an environment variable
or a KMS data key.

A store is encrypted or not, once and for all: `config.json` at its root says which, with
the key's fingerprint (never the key) and, for KMS, the data key wrapped by KMS. Blobs are
shared across snapshots, so every snapshot of a store uses the store's key. Each blob is
sealed with a fresh nonce and its own name as associated data, so a blob cannot be swapped
for another. Manifests stay readable (they name objects, not their content).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel

from omnimigrate.snapshot.store import KeyNotFound, Store

MAGIC = b"OMNIENC1"
CONFIG_KEY = "config.json"


class EncryptionError(Exception):
    """The key is missing, malformed or wrong; the message says which and how to fix it."""


class Cipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise EncryptionError("the encryption key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)
        self.fingerprint = hashlib.sha256(b"omnimigrate-key:" + key).hexdigest()[:16]

    def seal(self, data: bytes, name: str) -> bytes:
        nonce = os.urandom(12)
        return MAGIC + nonce + self._aead.encrypt(nonce, data, name.encode())

    def open(self, data: bytes, name: str) -> bytes:
        nonce, sealed = data[len(MAGIC) : len(MAGIC) + 12], data[len(MAGIC) + 12 :]
        try:
            return self._aead.decrypt(nonce, sealed, name.encode())
        except (InvalidTag, ValueError):
            raise EncryptionError(
                f"cannot decrypt {name}: wrong encryption key, or the blob was altered"
            ) from None


def is_sealed(data: bytes) -> bool:
    return data.startswith(MAGIC)


class EncryptionConfig(BaseModel):
    mode: Literal["aes-256-gcm"] = "aes-256-gcm"
    source: Literal["env", "kms"]
    key_fingerprint: str
    kms_key_id: str | None = None
    wrapped_key: str | None = None  # base64 of the KMS-encrypted data key


class StoreConfig(BaseModel):
    format: int = 1
    encryption: EncryptionConfig | None = None


def parse_key(text: str, name: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise EncryptionError(
            f"{name} must hold 32 random bytes in base64 (generate one with "
            "`openssl rand -base64 32`, and keep it somewhere safer than the store)"
        )
    return key


def read_config(store: Store) -> StoreConfig | None:
    try:
        return StoreConfig.model_validate_json(store.get(CONFIG_KEY))
    except KeyNotFound:
        return None


def open_cipher(
    store: Store,
    *,
    key: bytes | None = None,
    kms_key_id: str | None = None,
    kms: Any = None,
    create: bool = False,
) -> Cipher | None:
    """The store's cipher (None for a plain store). With `create` (a backup), a new store is
    set up with the given key, or KMS data key, or none."""
    config = read_config(store)
    if config is None and create:
        config = _new_config(key, kms_key_id, kms)
        if not store.create(CONFIG_KEY, config.model_dump_json(indent=1).encode()):
            config = read_config(store)  # another run set the store up first
    if config is None or config.encryption is None:
        if create and (key or kms_key_id):
            raise EncryptionError(
                f"{store.url} holds unencrypted snapshots; encrypted snapshots need a new store"
            )
        return None
    return _cipher_for(store, config.encryption, key, kms)


def _new_config(key: bytes | None, kms_key_id: str | None, kms: Any) -> StoreConfig:
    if kms_key_id:
        data_key = kms.generate_data_key(KeyId=kms_key_id, KeySpec="AES_256")
        enc = EncryptionConfig(
            source="kms",
            key_fingerprint=Cipher(data_key["Plaintext"]).fingerprint,
            kms_key_id=kms_key_id,
            wrapped_key=base64.b64encode(data_key["CiphertextBlob"]).decode(),
        )
        return StoreConfig(encryption=enc)
    if key:
        return StoreConfig(
            encryption=EncryptionConfig(source="env", key_fingerprint=Cipher(key).fingerprint)
        )
    return StoreConfig()


def _cipher_for(store: Store, enc: EncryptionConfig, key: bytes | None, kms: Any) -> Cipher:
    if enc.source == "kms":
        if kms is None:
            raise EncryptionError(
                f"{store.url} is encrypted with a KMS data key: AWS access to KMS key {enc.kms_key_id} is needed"
            )
        try:
            key = kms.decrypt(CiphertextBlob=base64.b64decode(enc.wrapped_key or ""))["Plaintext"]
        except Exception as exc:  # botocore's errors are many; the message is what matters
            raise EncryptionError(
                f"KMS would not unwrap the data key of {store.url}: {exc}"
            ) from None
    if key is None:
        raise EncryptionError(
            f"{store.url} is encrypted (key fingerprint {enc.key_fingerprint}): put its key in "
            "the variable named by encryption_key_env (default OMNIMIGRATE_ENCRYPTION_KEY)"
        )
    cipher = Cipher(key)
    if cipher.fingerprint != enc.key_fingerprint:
        raise EncryptionError(
            f"wrong encryption key for {store.url}: its snapshots are encrypted with key "
            f"{enc.key_fingerprint}, the key given is {cipher.fingerprint}"
        )
    return cipher
