"""Which snapshots a store holds: committed manifests only, newest last."""

from __future__ import annotations

from dataclasses import dataclass

from omnimigrate.hints import command_line
from omnimigrate.snapshot.manifest import Manifest, load_manifest, manifest_key
from omnimigrate.snapshot.store import Store


class SnapshotNotFound(Exception):
    """No committed snapshot matches; the message lists what the store does hold."""


@dataclass(frozen=True)
class SnapshotRef:
    instance: str
    snapshot_id: str

    @property
    def key(self) -> str:
        return manifest_key(self.instance, self.snapshot_id)


class Catalog:
    def __init__(self, store: Store) -> None:
        self.store = store

    def refs(self, instance: str | None = None) -> list[SnapshotRef]:
        """Committed snapshots, oldest first (ids sort by start time)."""
        prefix = f"snapshots/{instance}/" if instance else "snapshots/"
        found = []
        for key in self.store.list(prefix):
            parts = key.split("/")
            if len(parts) == 4 and parts[3] == "manifest.json":
                found.append(SnapshotRef(parts[1], parts[2]))
        return sorted(found, key=lambda r: (r.snapshot_id, r.instance))

    def load(self, ref: SnapshotRef) -> Manifest:
        return load_manifest(
            self.store.get(ref.key), f"{self.store.url}/{ref.key}", store_url=self.store.url
        )

    def resolve(self, snapshot: str, instance: str | None = None) -> SnapshotRef:
        """A snapshot id, or `latest` (of `instance` when given)."""
        refs = self.refs(instance)
        if snapshot == "latest":
            if refs:
                return refs[-1]
        else:
            for ref in refs:
                if ref.snapshot_id == snapshot:
                    return ref
        where = f" for instance {instance}" if instance else ""
        have = ", ".join(r.snapshot_id for r in refs[-5:]) or "none"
        raise SnapshotNotFound(
            f"no committed snapshot {snapshot!r}{where} in {self.store.url} (latest: {have}); "
            f"`{command_line('snapshots', 'list', store=self.store.url)}` shows them all"
        )

    def latest(self, instance: str) -> Manifest | None:
        refs = self.refs(instance)
        return self.load(refs[-1]) if refs else None
