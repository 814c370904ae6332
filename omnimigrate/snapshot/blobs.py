"""Content-addressed blobs: the sha256 of an object's canonical JSON names its compressed bytes.

The same object backed up twice is stored once, across snapshots; a blob is checked against
its name on every read, so a flipped byte or a truncated file is caught before it is used.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from typing import Any

from omnimigrate.snapshot.crypto import Cipher, EncryptionError, is_sealed
from omnimigrate.snapshot.store import KeyNotFound, Store

REF = re.compile(r"^[0-9a-f]{64}$")


class BlobError(Exception):
    """A blob is missing, unreadable or does not match its hash; the message names it."""


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: equal objects give equal bytes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def blob_key(ref: str) -> str:
    if not REF.match(ref):
        raise BlobError(f"blob reference {ref[:80]!r} is not a sha256 hex digest")
    return f"blobs/{ref[:2]}/{ref}"


class BlobStore:
    """Blobs in a store. `known` holds refs already present, so unchanged objects cost no write.
    With a cipher, blobs are sealed after compression."""

    def __init__(
        self, store: Store, known: set[str] | None = None, cipher: Cipher | None = None
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.known = known if known is not None else set()
        self.written = 0
        self.bytes_written = 0

    def put(self, obj: Any) -> str:
        raw = canonical_json(obj)
        ref = hashlib.sha256(raw).hexdigest()
        if ref not in self.known:
            data = zlib.compress(raw, 6)
            if self.cipher:
                data = self.cipher.seal(data, blob_key(ref))
            self.store.put(blob_key(ref), data)
            self.written += 1
            self.bytes_written += len(data)
            self.known.add(ref)
        return ref

    def get(self, ref: str) -> Any:
        key = blob_key(ref)
        try:
            data = self.store.get(key)
        except KeyNotFound:
            raise BlobError(f"blob {key} is missing from {self.store.url}") from None
        if is_sealed(data):
            if self.cipher is None:
                raise BlobError(f"blob {key} is encrypted: give the store's encryption key")
            try:
                data = self.cipher.open(data, key)
            except EncryptionError as exc:
                raise BlobError(str(exc)) from None
        try:
            raw = zlib.decompress(data)
        except zlib.error:
            raise BlobError(f"blob {key} is corrupt: not a zlib stream (truncated?)") from None
        if hashlib.sha256(raw).hexdigest() != ref:
            raise BlobError(f"blob {key} is corrupt: its content does not match its hash")
        return json.loads(raw)
