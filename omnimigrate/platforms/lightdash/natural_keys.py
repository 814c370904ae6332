"""Lightdash objects as restore and verify compare them: natural keys only (emails, group
names, space paths, slugs), never uuids, so the same project on two instances compares
equal. What every type shares is here: the bases of the composed models and the helpers
more than one type uses. Each type's own fields are its handler's parts
(`handlers/*.py`), which the registry composes onto these bases (`registry.py`):

- `ProjectBase`: one project, as both sides are read (a handler's `project` part);
- `ViewBase`: the snapshot (a handler's `view` part: the organization's objects);
- `IdsBase`: target uuids by natural key, what the applier writes with (`uuids`);
- `StateBase`: the target, read as the snapshot is (`state`; its projects are `Project`s);
- `InventoryBase`: the target as a plan keeps it, digests by natural key (`target`).

A handler reads its part of one of them with `engine.parts.part(model, Part)`; the plan's
and the applier's contexts are typed by the parts a handler reads (`planning.py`,
`applying.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from omnimigrate.engine.content import ContentCapture
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Inventory
from omnimigrate.snapshot.blobs import canonical_json
from omnimigrate.snapshot.manifest import ObjectEntry

PartT = TypeVar("PartT", bound=BaseModel)

# what a download adds that is not content (and changes on every download or instance)
VOLATILE = ("updatedAt", "downloadedAt", "version", "spaceSlug", "dashboardSlug", "slug")


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()[:16]


def content_of(code: Mapping[str, Any]) -> dict[str, Any]:
    """A content-as-code download, less what is not content (VOLATILE) and unset fields."""
    return {k: v for k, v in code.items() if k not in VOLATILE and v is not None}


def set_in(body: dict[str, Any], fields: tuple[str, ...]) -> list[str]:
    """Which of `fields` (dotted: `options.asAttachment`) `body` sets to something non-empty."""
    found = []
    for f in fields:
        head, _, tail = f.partition(".")
        value = body.get(head)
        if tail:
            value = value.get(tail) if isinstance(value, dict) else None
        if value not in (None, False, "", [], {}):
            found.append(f)
    return found


def unheld(fields: list[str]) -> str:
    """The warning on an action whose 1.219 `fields` a 0.1471 target cannot hold."""
    has, them = ("has", "it") if len(fields) == 1 else ("have", "them")
    return (f"{', '.join(fields)} (1.219's) {has} no equivalent in the target's 0.1471: "
            f"restored without {them}")  # fmt: skip


def unheld_note(
    project: str, kind: str, field: str, n: int, why: str = "which has no equivalent"
) -> str:
    """Verify's note on a 1.219 field of `n` objects a 0.1471 target cannot hold."""
    return (
        f"{project}: the {field} of {n} {kind}(s) is not compared: the target serves 0.1471, {why}"
    )


def without(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """`body` less `fields` (dotted ones inside their object)."""
    out = {k: v for k, v in body.items() if k not in fields}
    for f in fields:
        head, _, tail = f.partition(".")
        if tail and isinstance(out.get(head), dict):
            out[head] = {k: v for k, v in out[head].items() if k != tail}
    return out


def project_of(entry: ObjectEntry) -> str:
    """The project an entry lives in, as its `refs` name it (a project's name may hold the
    `:` its key joins with)."""
    return (entry.refs or {}).get("project") or ""


# ---------------------------------------------------------------------- the composed models' bases


class ProjectBase(BaseModel):
    """One project, on either side; every type's `project` part is composed onto it."""

    name: str
    uuid: str = ""  # the snapshot's (a restore into it is a restore into its own source)


class ViewBase(BaseModel):
    """The snapshot, as restore and verify read it; every type's `view` part is composed
    onto it, and its projects are the composed `Project`."""

    snapshot_id: str
    instance: str
    # the source server's release and space permission model (snapshots before they were
    # recorded are 0.1471's)
    source_version: str = "0.1471.0"
    space_model: str = "isPrivate"
    projects: dict[str, ProjectBase] = Field(default_factory=dict)  # by name
    blobs: dict[str, str] = Field(default_factory=dict)  # "<entry type>:<project>:<slug>" -> ref
    content: dict[str, ContentCapture] = Field(default_factory=dict)  # project -> validator's
    content_warnings: list[str] = Field(default_factory=list)  # source checks not readable


class IdsBase(BaseModel):
    """Target uuids by natural key: what the applier writes with (every type's `uuids`)."""

    projects: dict[str, str] = Field(default_factory=dict)  # snapshot project name -> uuid


class StateBase(BaseModel):
    """Everything restore compares on the target, for the projects the snapshot maps to:
    every type's `state` part, its `ids` the composed `TargetIds`, its projects `Project`s."""

    url: str
    ids: IdsBase = Field(default_factory=IdsBase)
    space_model: str = "isPrivate"  # the target's permission model: its generation
    projects: dict[str, ProjectBase] = Field(default_factory=dict)  # by snapshot project name


class InventoryBase(Inventory):
    """The target as a plan saw it: per natural key, a digest of what restore compares
    (every type's `target` part), and the uuids it writes with (`ids`, `TargetIds`)."""

    ids: IdsBase
    space_model: str = "isPrivate"  # isPrivate (0.1471) or inheritParentPermissions (1.219)

    def ledger_scope(self) -> str:
        """The target projects: a restore into prod never reads one into another project."""
        return digest(sorted(self.ids.projects.values()))[:12]


def projects(side: ViewBase | StateBase, of: type[PartT]) -> dict[str, PartT]:
    """Each project of one side, as its part `of`, by name."""
    return {name: part(p, of) for name, p in side.projects.items()}
