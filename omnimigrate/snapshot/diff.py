"""`snapshots diff A B`: what was added, removed and changed, per object type, and for a
changed object which fields changed (a permission granted, a dashboard moved, a schedule
paused)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest
from omnimigrate.snapshot.secrets import mask

IDENTITY_FIELDS = ("id", "userId", "userGroupId", "name", "email", "key")


@dataclass
class TypeDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # key -> changes


def diff(a: Manifest, b: Manifest, blobs: BlobStore) -> dict[str, TypeDiff]:
    before = {(o.type, o.key): o for o in a.objects}
    after = {(o.type, o.key): o for o in b.objects}
    out: dict[str, TypeDiff] = {}
    for type_, key in sorted(before.keys() | after.keys()):
        old, new = before.get((type_, key)), after.get((type_, key))
        if old and new and old.blob == new.blob:
            continue
        d = out.setdefault(type_, TypeDiff())
        if old is None:
            d.added.append(key)
        elif new is None:
            d.removed.append(key)
        else:
            old_obj = mask(blobs.get(old.blob)) if old.blob else None
            new_obj = mask(blobs.get(new.blob)) if new.blob else None
            d.changed[key] = changes(old_obj, new_obj)
    return out


def changes(old: Any, new: Any, path: str = "") -> list[str]:
    """Field-level differences: `path: old -> new`, `+item`/`-item` for lists."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for k in sorted(old.keys() | new.keys()):
            if old.get(k) != new.get(k):
                found += changes(old.get(k), new.get(k), f"{path}.{k}" if path else k)
        return found
    if isinstance(old, list) and isinstance(new, list):
        old_items = {_label(x): x for x in old}
        new_items = {_label(x): x for x in new}
        where = f"{path}: " if path else ""
        return (
            [f"{where}+{k}" for k in sorted(new_items.keys() - old_items.keys())]
            + [f"{where}-{k}" for k in sorted(old_items.keys() - new_items.keys())]
            + [
                f"{where}~{k}"
                for k in sorted(new_items.keys() & old_items.keys())
                if new_items[k] != old_items[k]
            ]
        )
    return [f"{path or 'value'}: {_short(old)} -> {_short(new)}"]


def _label(item: Any) -> str:
    if isinstance(item, dict):
        ident = next((str(item[f]) for f in IDENTITY_FIELDS if item.get(f)), None)
        role = f" {item['role']}" if item.get("role") else ""
        if ident:
            return ident + role
    return _short(item)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
