"""Strict responses: the fake serves only what a document declares.

Every JSON body the fake answers with is pruned to the properties its operation's response
schema declares in openapi.json; a field the spec does not declare (a folder's `scope` in
`GET /folders`, say) never reaches the client, so no client code can come to rely on it.
Where the spec leaves a shape open (an untyped `metadata`, an object with no properties),
the value passes as the handler built it, and the handlers build those from the documents:

- `seed` (the default): where the spec is open or the older spec documents more, the older
  spec's shape. Its response schemas for those operations are written out below and are
  what such a response is pruned to and checked against.
- `official`: the official spec's shape wherever the two differ; nothing of the older one.

The README lists every shape the fake chooses where neither document says.
"""

from __future__ import annotations

from typing import Any, Literal

from omnimigrate.fakes.pruning import Pruner

Shape = Literal["seed", "official"]

_SEED_RECIPIENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "email": {"type": "string"},
        "name": {"type": "string"},
        "emailOnly": {"type": "boolean"},
        "recipientType": {"enum": ["channel", "users"]},
        "slackId": {"type": "string"},
    },
}
_SEED_GROUP_RECIPIENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "recipients": {"type": "array", "items": _SEED_RECIPIENT},
    },
}
# The older spec's response shapes, for the operations where it documents fields the
# official one does not (DIGEST §4 rows 22, 36, 39).
SEED_RESPONSES: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/api/v1/schedules/{scheduleId}/recipients"): {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"enum": ["email", "sftp", "slack", "webhook", "s3", "google_sheets"]},
            "recipients": {"type": "array", "items": _SEED_RECIPIENT},
            "userGroupRecipients": {"type": "array", "items": _SEED_GROUP_RECIPIENT},
            "url": {"type": "string"},
            "address": {"type": "string"},
            "port": {"type": "integer"},
            "username": {"type": "string"},
        },
    },
}
# Fields the older spec adds to an operation's records that the official spec also serves.
SEED_RECORD_FIELDS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/api/v1/folders"): {
        "scope": {"enum": ["organization", "restricted"]},
        "owner": {"type": "object", "properties": {"id": {"type": "string"}}},
        "createdAt": {"type": "string"},
    },
}


def omni_pruner(spec: dict[str, Any], shape: Shape) -> Pruner:
    """The fake Omni's pruner: the older spec's shapes where `shape` is "seed"."""
    if shape == "official":
        return Pruner(spec)
    return Pruner(spec, SEED_RESPONSES, SEED_RECORD_FIELDS)
