"""A dashboard's queries by name: how a schedule's query key crosses an import.

Alerts (`conditionQueryMapKey`) and single-tile deliveries (`queryIdentifierMapKey`) name a
query of their dashboard by key. An import may give the document's queries new keys (DIGEST
key table, G11), and neither document says whether a key is a position or an id, so a key
is carried by the NAME of its query: backup stores `GET /documents/{identifier}/queries`
(name and key, in listing order) of each document such a schedule watches, restore reads
the same route on the target after import, and verify compares names. Names need not be
unique within a document, so a query is its name and its rank among queries of that name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

# the delivery fields that hold a query key
QUERY_KEY_FIELDS = ("conditionQueryMapKey", "queryIdentifierMapKey")
QUERIES_ENTRY = "document_queries"  # snapshot entry type, keyed by document identifier


class QueryName(BaseModel):
    name: str
    nth: int = 0  # its rank among the document's queries of that name

    def __str__(self) -> str:
        return repr(self.name) if self.nth == 0 else f"{self.name!r} (#{self.nth + 1})"


class DocumentQueries(BaseModel):
    """A document's queries as (name, key), in the order the route lists them."""

    queries: list[tuple[str, str]] = Field(default_factory=list)

    @classmethod
    def read(cls, body: Any) -> DocumentQueries:
        """The route's answer, read defensively: `{queries: [{name, queryIdentifierMapKey}]}`
        (official spec); a bare list is read too, a key given as a number as its text, and
        an item without a name or a key is left out (it cannot be matched)."""
        items = body.get("queries") if isinstance(body, dict) else body
        out = []
        for q in items if isinstance(items, list) else []:
            if not isinstance(q, dict):
                continue
            name, key = q.get("name"), q.get("queryIdentifierMapKey")
            if isinstance(name, str) and isinstance(key, str | int) and not isinstance(key, bool):
                out.append((name, str(key)))
        return cls(queries=out)

    def dump(self) -> dict[str, Any]:
        """What a snapshot stores: the route's own field names."""
        return {"queries": [{"name": n, "queryIdentifierMapKey": k} for n, k in self.queries]}

    def name_of(self, key: str) -> QueryName | None:
        seen: dict[str, int] = {}
        for name, k in self.queries:
            nth = seen.get(name, 0)
            seen[name] = nth + 1
            if k == key:
                return QueryName(name=name, nth=nth)
        return None

    def key_of(self, query: QueryName) -> str | None:
        keys = [k for name, k in self.queries if name == query.name]
        return keys[query.nth] if query.nth < len(keys) else None


def key_map(import_dashboard: Any) -> dict[str, str]:
    """The older spec's import answer `dashboard.miniUuidMap` (an untyped object, old key to
    new, as its name says), as far as it is a map of strings; {} when not served."""
    raw = import_dashboard.get("miniUuidMap") if isinstance(import_dashboard, dict) else None
    if not isinstance(raw, dict):
        return {}
    return {str(k): str(v) for k, v in raw.items() if isinstance(v, str | int)}


class QueryReads:
    """Each document's queries read once per run, however many schedules ask; a failed read
    fails every schedule that asked, with the same error."""

    def __init__(self) -> None:
        self._reads: dict[str, asyncio.Future[DocumentQueries]] = {}

    async def get(
        self, identifier: str, read: Callable[[str], Awaitable[DocumentQueries]]
    ) -> DocumentQueries:
        future = self._reads.get(identifier)
        if future is None:
            future = self._reads[identifier] = asyncio.ensure_future(read(identifier))
        return await asyncio.shield(future)

    def forget(self, identifier: str) -> None:
        """The document was imported again: its keys may have changed."""
        self._reads.pop(identifier, None)
