"""A new identifier for a document whose own one the target's trash may still hold.

Omni takes an import's `identifier` (2-48 characters, unique in the organization, DIGEST
§1.4), so the restore names the new one itself: the plan can show it before anything is
written, and the intent records it before the import is sent (a run killed after the import
finds its own document under it, never a second copy).
"""

from __future__ import annotations

from collections.abc import Container

MAX_LENGTH = 48
SUFFIX = "-restored"


def new_identifier(identifier: str, taken: Container[str], suffix: str = SUFFIX) -> str:
    """`X-restored`, else `X-restored-2`, `-3`…: the first that `taken` (live and trashed
    identifiers of the target) does not hold, cut to Omni's length limit."""
    n = 1
    while True:
        tail = suffix if n == 1 else f"{suffix}-{n}"
        candidate = identifier[: MAX_LENGTH - len(tail)] + tail
        if candidate not in taken:
            return candidate
        n += 1
