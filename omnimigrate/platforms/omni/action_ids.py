"""Action ids: the one place they are built and read back.

An id is stable across runs (the restore ledger is keyed by it), made of the object's kind,
its natural key, and the step of that object it writes: `folder:sales/q1`,
`document:board-q1:owner`, `schedule:board-q1/weekly`.
"""

from __future__ import annotations

from typing import Literal

ObjectKind = Literal[
    "user", "group", "email_only", "label", "folder", "model", "document", "favorite",
    "schedule", "role",
]  # fmt: skip


def action_id(kind: ObjectKind, key: str, *step: str) -> str:
    return ":".join((kind, key, *step))


def step_of(parent: str, *step: str) -> str:
    """An id under another action's: a blocked grant of a permissions action, say."""
    return ":".join((parent, *step))


def document_of(action: str, step: str) -> str | None:
    """The identifier of a document whose `step` this action id is, else None (identifiers
    hold no colon, so the middle part is the whole identifier)."""
    kind, _, rest = action.partition(":")
    identifier, _, found = rest.rpartition(":")
    return identifier if kind == "document" and found == step and identifier else None
