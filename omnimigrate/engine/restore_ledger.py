"""The restore ledger: per target instance, what each action did (status, digest, target id).

It lives in the store, beside the snapshots, so any machine can resume or re-run a restore.
A record is written before a create ("started", the intent), when the create answers (still
"started", with the id it made) and when every step is written ("done"): a killed restore
leaves one of them, which the next plan resolves against the target (`engine/protocol.py`). Records are append-only segments of one
record each, compacted into one file when a run ends.
"""

from __future__ import annotations

import contextlib
import json
import threading
from typing import Literal

from pydantic import BaseModel, Field

from omnimigrate.snapshot.store import KeyNotFound, Store


class LedgerRecord(BaseModel):
    status: Literal["started", "done"]
    digest: str
    target: str | None = None  # the id (or identifier) the action produced
    key: str | None = None  # an intent's natural key (`engine/protocol.py`)
    parent: str | None = None  # and its parent's
    detail: dict[str, str] = Field(default_factory=dict)  # what a later plan compares with


class RestoreLedger:
    def __init__(self, store: Store, target_instance: str) -> None:
        self.store = store
        self.prefix = f"restores/{target_instance}"
        self.records: dict[str, LedgerRecord] = {}
        self._segments = sorted(store.list(self.prefix + "/segments/"))
        with contextlib.suppress(KeyNotFound):  # no run has finished yet
            for key, rec in json.loads(store.get(self.prefix + "/ledger.json")).items():
                self.records[key] = LedgerRecord.model_validate(rec)
        for key in self._segments:
            raw = json.loads(store.get(key))
            self.records[raw["action"]] = LedgerRecord.model_validate(raw["record"])
        self._next = len(self._segments)
        self._lock = threading.Lock()  # writers run in worker threads

    def write(self, action_id: str, record: LedgerRecord) -> None:
        """Durable before it returns: one object per record."""
        payload = json.dumps({"action": action_id, "record": record.model_dump()}).encode()
        with self._lock:
            key = f"{self.prefix}/segments/{self._next:09d}.json"
            self._next += 1
            self.store.put(key, payload)
            self._segments.append(key)
            self.records[action_id] = record

    def compact(self) -> None:
        """Fold the segments into ledger.json (written first, so a crash loses nothing)."""
        if not self._segments:
            return
        # one JSON object, encoded record by record: no second copy of every record
        entries = (
            json.dumps(k).encode() + b": " + v.model_dump_json().encode()
            for k, v in sorted(self.records.items())
        )
        self.store.put(self.prefix + "/ledger.json", b"{\n" + b",\n".join(entries) + b"\n}")
        for key in self._segments:
            self.store.delete(key)
        self._segments = []
        self._next = 0
