"""Content checks on Omni: the model content validator
(`GET /api/v1/models/{modelId}/content-validator?content_filter_mode=WITH_ISSUES`).

Backup asks it once per shared model and keeps the answer as an optional capture (a refusal
is a warning on the entry, never a failure); after a restore the target's validator is asked
for each model the snapshot's documents went to (by `--model-map`, else by model key), and
the two are compared per document identifier (`engine/content.py`).

The official spec leaves the answer's items untyped; the older spec declares `identifier`,
`name`, `queries_and_issues[{query_name, issues[]}]` and `dashboard_filter_issues[]`. Only
`identifier` is required here: an item without it fails, naming the field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from omnimigrate.engine.content import (
    CONTENT_TYPE,
    ContentCapture,
    ContentReport,
    ContentShapeError,
    compare,
    merge,
)
from omnimigrate.engine.handler import JobTemplate
from omnimigrate.engine.jobs import JobResult
from omnimigrate.errors import ApiStatusError
from omnimigrate.http.retry import permanent
from omnimigrate.platforms.omni.options import OmniRestoreOptions

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader

VALIDATOR_JOB = JobTemplate("content_validator")
VALIDATED_KINDS = ("SHARED", "SHARED_EXTENSION")  # the models documents are built on


def read_answer(body: Any, scope: str) -> ContentCapture:
    """The documents with issues in one validator answer, by identifier."""
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, list):
        raise ContentShapeError(f"content-validator of {scope}: the answer has no `content` list")
    capture = ContentCapture(scope=scope)
    for item in content:
        identifier = item.get("identifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str):
            raise ContentShapeError(
                f"content-validator of {scope}: a content item without `identifier` "
                f"(keys: {sorted(item) if isinstance(item, dict) else type(item).__name__})"
            )
        messages = [
            f"{q.get('query_name') or q.get('query_id_map_key') or 'query'}: {issue}"
            for q in item.get("queries_and_issues") or []
            for issue in q.get("issues") or []
        ] + [f"dashboard filter: {issue}" for issue in item.get("dashboard_filter_issues") or []]
        if messages:
            capture.issues[identifier] = messages
            capture.names[identifier] = str(item.get("name") or "")
    return capture


# ---------------------------------------------------------------------- backup


async def read_validator(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    async def answer() -> dict[str, Any]:
        body = await client.content_validator(args["id"])
        return read_answer(body, args["key"]).model_dump()

    return await ctx.refusable(CONTENT_TYPE, args, answer)


JOBS = {"content_validator": read_validator}


# ---------------------------------------------------------------------- snapshot view


class Captures(Protocol):
    """What the content check reads of the snapshot view (the models handler's part)."""

    content: dict[str, ContentCapture]
    content_warnings: list[str]


class SourceModelId(Protocol):
    source_id: str | None


def model_key(connection: str | None, kind: str | None, name: str | None) -> str:
    """A shared model's natural key: its connection's name, its kind and its name."""
    return f"{connection}/{kind}/{name}"


def load(r: SnapshotReader, view: Captures) -> None:
    """The source's answers by model key; a refused one is named among the warnings."""
    for o in r.entries(CONTENT_TYPE):
        if o.blob:
            view.content[o.key] = ContentCapture.model_validate(r.blob(o))
        else:
            view.content_warnings += [f"source content check of {o.key}: {w}" for w in o.warnings]


# ---------------------------------------------------------------------- after restore


async def check(
    view: Captures,
    models: Mapping[str, SourceModelId],
    restored: Mapping[str, tuple[str, str | None]],
    clients: Sequence[OmniClient],
    options: OmniRestoreOptions,
) -> ContentReport:
    """The target's validator for each model the `restored` documents (identifier -> name
    and model key) went to: the snapshot's `models` by key, mapped by `--model-map`."""
    by_key = await _target_models(clients[0])
    names = {v: k for k, v in by_key.items()}
    targets: dict[str, str] = {}  # target model id -> its model key on the target
    for _name, key in restored.values():
        src = models.get(key or "")
        mapped = options.model_map.get(src.source_id or "") if src else None
        target_id = mapped or by_key.get(key or "")
        if target_id:
            targets[target_id] = names.get(target_id, target_id)
    warnings = list(view.content_warnings)
    if not view.content:
        warnings.append("the snapshot holds no source content check: every issue counts as new")

    async def one(target_id: str, key: str, c: OmniClient) -> ContentCapture | None:
        try:
            return read_answer(await c.content_validator(target_id), key)
        except ApiStatusError as err:
            if not permanent(err):
                raise
            warnings.append(f"target content check of {key} ({err.status}): {err.detail}")
            return None

    answers = await asyncio.gather(
        *(one(tid, key, clients[n % len(clients)]) for n, (tid, key) in enumerate(targets.items()))
    )
    target = merge([a for a in answers if a])
    source = merge(list(view.content.values()))
    names_of = {i: name for i, (name, _key) in restored.items()}
    return compare(source, target, names_of, scopes=list(targets.values()), warnings=warnings)


async def _target_models(client: OmniClient) -> dict[str, str]:
    """The target's shared model ids by model key (connection name/kind/name)."""
    names = {c.id: c.name for c in await client.list_connections()}
    return {
        model_key(names.get(m.connection_id or "", m.connection_id), m.model_kind, m.name): m.id
        async for m in client.list_models()
        if m.model_kind in VALIDATED_KINDS
    }
