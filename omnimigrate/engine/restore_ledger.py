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
from dataclasses import field
from typing import Literal

from pydantic import TypeAdapter
from pydantic.dataclasses import dataclass

from omnimigrate.snapshot.store import KeyNotFound, Store

# A slotted dataclass, validated as a model is: a restore holds one per action it wrote
# (tens of thousands at scale), at a quarter of a BaseModel's memory.
Status = Literal["started", "done"]


@dataclass(slots=True)
class LedgerRecord:
    status: Status
    digest: str
    target: str | None = None  # the id (or identifier) the action produced
    key: str | None = None  # an intent's natural key (`engine/protocol.py`)
    parent: str | None = None  # and its parent's
    detail: dict[str, str] = field(default_factory=dict)  # what a later plan compares with


RECORD = TypeAdapter(LedgerRecord)


class RestoreLedger:
    def __init__(self, store: Store, target_instance: str) -> None:
        self.store = store
        self.prefix = f"restores/{target_instance}"
        self.records: dict[str, LedgerRecord] = {}
        # a killed run's segments; this run's are numbered on from them (`_segment`)
        self._found = sorted(store.list(self.prefix + "/segments/"))
        with contextlib.suppress(KeyNotFound):  # no run has finished yet
            for key, rec in json.loads(store.get(self.prefix + "/ledger.json")).items():
                self.records[key] = RECORD.validate_python(rec)
        for key in self._found:
            raw = json.loads(store.get(key))
            self.records[raw["action"]] = RECORD.validate_python(raw["record"])
        self._first = self._next = len(self._found)
        self._lock = threading.Lock()  # writers run in worker threads

    def _segment(self, n: int) -> str:
        return f"{self.prefix}/segments/{n:09d}.json"

    def write(self, action_id: str, record: LedgerRecord) -> None:
        """Durable before it returns: one object per record."""
        payload = b'{"action": %s, "record": %s}' % (
            json.dumps(action_id).encode(),
            RECORD.dump_json(record),
        )
        with self._lock:
            key = self._segment(self._next)
            self._next += 1
            self.store.put(key, payload)
            self.records[action_id] = record

    def compact(self) -> None:
        """Fold the segments into ledger.json (written first, so a crash loses nothing)."""
        if not self._found and self._next == self._first:
            return
        # one JSON object, encoded record by record: no second copy of every record
        entries = (
            json.dumps(k).encode() + b": " + RECORD.dump_json(v)
            for k, v in sorted(self.records.items())
        )
        self.store.put(self.prefix + "/ledger.json", b"{\n" + b",\n".join(entries) + b"\n}")
        for key in [*self._found, *map(self._segment, range(self._first, self._next))]:
            self.store.delete(key)
        self._found = []
        self._first = self._next = 0
