"""Strict responses: a fake serves only what a document declares. Every JSON body is pruned
to the properties its operation's response schema declares, so a field the spec does not
declare never reaches a client; where the spec leaves a shape open (an untyped object, an
object with no properties) the value passes as the fake built it."""

from __future__ import annotations

from typing import Any

Route = tuple[str, str]  # (method, route template)


class Pruner:
    """Prunes response bodies to their declared schema. `replaced`: schemas that replace the
    spec's for some operations; `record_fields`: fields some operations' `records` keep."""

    def __init__(
        self,
        spec: dict[str, Any],
        replaced: dict[Route, dict[str, Any]] | None = None,
        record_fields: dict[Route, dict[str, Any]] | None = None,
    ) -> None:
        self.spec = spec
        self.replaced = replaced or {}
        self.record_fields = record_fields or {}
        self._flat: dict[int, list[dict[str, Any]]] = {}  # schema id -> its branches

    def seed_schema(self, method: str, route: str) -> dict[str, Any] | None:
        """The schema that replaces the spec's for this operation, if any."""
        return self.replaced.get((method, route))

    def prune(self, method: str, route: str, status: int, body: Any) -> Any:
        schema = self.seed_schema(method, route) or self._official(method, route, status)
        if schema is None:
            return body
        pruned = self._value(schema, body)
        extra = self.record_fields.get((method, route))
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
