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


class Pruner:
    """Prunes response bodies to their declared schema (see the module docstring)."""

    def __init__(self, spec: dict[str, Any], shape: Shape) -> None:
        self.spec = spec
        self.shape = shape
        self._flat: dict[int, list[dict[str, Any]]] = {}  # schema id -> its branches

    def seed_schema(self, method: str, route: str) -> dict[str, Any] | None:
        """The older spec's schema that replaces the official one here, in the seed shape."""
        return SEED_RESPONSES.get((method, route)) if self.shape == "seed" else None

    def prune(self, method: str, route: str, status: int, body: Any) -> Any:
        schema = self.seed_schema(method, route) or self._official(method, route, status)
        if schema is None:
            return body
        pruned = self._value(schema, body)
        extra = SEED_RECORD_FIELDS.get((method, route)) if self.shape == "seed" else None
        if extra and isinstance(body, dict) and isinstance(pruned, dict):
            pruned["records"] = [
                {**p, **{k: raw[k] for k in extra if k in raw}}
                for p, raw in zip(pruned.get("records", []), body.get("records", []), strict=True)
            ]
        return pruned

    def _official(self, method: str, route: str, status: int) -> dict[str, Any] | None:
        op = self.spec["paths"].get(route, {}).get(method, {})
        response = op.get("responses", {}).get(str(status), {})
        return response.get("content", {}).get("application/json", {}).get("schema")

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def _branches(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        """The schema and every allOf/oneOf/anyOf branch under it, resolved (cached: the
        spec's schemas live as long as the pruner)."""
        cached = self._flat.get(id(schema))
        if cached is None:
            resolved = self._resolve(schema)
            cached = [resolved]
            for key in ("allOf", "oneOf", "anyOf"):
                for branch in resolved.get(key, []):
                    cached += self._branches(branch)
            self._flat[id(schema)] = cached
        return cached

    def _value(self, schema: dict[str, Any], value: Any) -> Any:
        branches = self._branches(schema)
        if isinstance(value, dict):
            declared: dict[str, dict[str, Any]] = {}
            for b in branches:
                if isinstance(b.get("additionalProperties"), dict | bool) and b.get(
                    "additionalProperties"
                ):
                    return value  # a map, or an object open by declaration
                for name, sub in b.get("properties", {}).items():
                    # a name several branches declare keeps what any of them declares
                    seen = declared.get(name)
                    declared[name] = sub if seen is None else {"anyOf": [seen, sub]}
            if not declared:
                return value  # the spec leaves this object's shape open
            return {k: self._value(declared[k], v) for k, v in value.items() if k in declared}
        if isinstance(value, list):
            items = next((b["items"] for b in branches if isinstance(b.get("items"), dict)), None)
            return [self._value(items, v) for v in value] if items else value
        return value
