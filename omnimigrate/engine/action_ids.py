"""Action ids: the one place they are built and read back, for every platform.

An id is stable across runs (the restore ledger is keyed by it), made of the object's kind
(a handler's `ids`), its natural key, and the step of that object it writes:
`folder:sales/q1`, `document:board-q1:owner`, `ld.space:analytics:Finance`.
"""

from __future__ import annotations


def action_id(kind: str, key: str, *step: str) -> str:
    return ":".join((kind, key, *step))


def step_of(parent: str, *step: str) -> str:
    """An id under another action's: a blocked grant of a permissions action, say."""
    return ":".join((parent, *step))


def key_of(action: str, kind: str, step: str) -> str | None:
    """The natural key of the `kind` object whose `step` this action id is, else None (for
    keys that hold no colon, so the middle part is the whole key)."""
    found_kind, _, rest = action.partition(":")
    key, _, found = rest.rpartition(":")
    return key if found_kind == kind and found == step and key else None
