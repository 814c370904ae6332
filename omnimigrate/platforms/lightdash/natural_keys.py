"""Lightdash objects as restore and verify compare them: natural keys only (emails, group
names, space paths, slugs), never uuids, so the same project on two instances compares
equal. Both sides, the snapshot (`SnapshotView`) and the target (`TargetState`), are read
into these shapes; `TargetInventory` is the target's part a plan keeps."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.content import ContentCapture
from omnimigrate.engine.plan import Inventory
from omnimigrate.snapshot.blobs import canonical_json
from omnimigrate.snapshot.manifest import ObjectEntry

# what a download adds that is not content (and changes on every download or instance)
VOLATILE = ("updatedAt", "downloadedAt", "version", "spaceSlug", "dashboardSlug", "slug")
SCHEDULER_VOLATILE = (
    "schedulerUuid", "createdBy", "createdAt", "updatedAt", "savedChartUuid", "dashboardUuid",
    "savedSqlUuid",
    "targets", "slug",  # 1.219's slug: kept apart (Scheduler.slug), sent on a create
    # 1.219's read-only names and derived fields (what the scheduler is on says them)
    "savedChartName", "dashboardName", "savedSqlName", "createdByName", "latestRun",
    "projectName", "projectUuid", "projectSchedulerTimezone",
)  # fmt: skip


def digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()[:16]


def space_key(project: str, path: tuple[str, ...] | list[str]) -> str:
    return f"{project}:{'/'.join(path)}"


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


def without(body: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """`body` less `fields` (dotted ones inside their object)."""
    out = {k: v for k, v in body.items() if k not in fields}
    for f in fields:
        head, _, tail = f.partition(".")
        if tail and isinstance(out.get(head), dict):
            out[head] = {k: v for k, v in out[head].items() if k != tail}
    return out


def space_grants(users: dict[str, str], groups: dict[str, str]) -> dict[str, dict[str, str]]:
    return {"users": users, "groups": groups}


def space_path(uuid: str, spaces: Mapping[str, Any]) -> list[str]:
    """A space's path of names, from the listed spaces' parents (cycles and unlisted parents
    end it)."""
    chain: list[str] = []
    seen: set[str] = set()
    while uuid in spaces and uuid not in seen:
        seen.add(uuid)
        chain.insert(0, spaces[uuid].name)
        uuid = spaces[uuid].parent or ""
    return chain


def project_of(entry: ObjectEntry) -> str:
    """The project an entry lives in, as its `refs` name it (a project's name may hold the
    `:` its key joins with)."""
    return (entry.refs or {}).get("project") or ""


class Space(BaseModel):
    path: list[str]
    private: bool  # 0.1471's isPrivate; 1.219's not inheritParentPermissions
    model: str = (
        "isPrivate"  # the permission model it was read in (isPrivate or inheritParentPermissions)
    )
    member_role: str | None = None  # 1.219's projectMemberAccessRole (0.1471 has none)
    users: dict[str, str] = Field(default_factory=dict)  # email -> space role (direct access)
    groups: dict[str, str] = Field(default_factory=dict)  # group name -> space role


def space_digest(private: bool, member_role: str | None) -> str:
    """What a space's create or update writes, besides its access: a role for every project
    member is 1.219's alone (a space without one digests as before it was kept)."""
    return digest(private) if member_role is None else digest([private, member_role])


class Shares(BaseModel):
    """A space's direct shares on the target: user email -> role, group name -> role."""

    users: dict[str, str] = Field(default_factory=dict)
    groups: dict[str, str] = Field(default_factory=dict)


class Chart(BaseModel):
    slug: str
    space: list[str]  # the space's path
    dashboard: str | None = None  # the slug of the dashboard it is saved in
    body: dict[str, Any]  # the content as code, less what VOLATILE names

    def compared(self) -> dict[str, Any]:
        return {**self.body, "space": self.space, "dashboard": self.dashboard}


class SqlChart(BaseModel):
    """1.219's SQL chart: its code (`sql`, `config`, `chartKind`, `limit`…) in its space."""

    slug: str
    space: list[str]
    body: dict[str, Any]

    def compared(self) -> dict[str, Any]:
        return {**self.body, "space": self.space}


class Dashboard(BaseModel):
    slug: str
    space: list[str]
    body: dict[str, Any]

    def compared(self) -> dict[str, Any]:
        """Less the filters' ids: each server makes its own (1.219's code leaves them out)."""
        filters = {
            k: [{x: y for x, y in f.items() if x != "id"} for f in v] if isinstance(v, list) else v
            for k, v in (self.body.get("filters") or {}).items()
        }
        return {**self.body, "filters": filters, "space": self.space}

    def chart_slugs(self) -> list[str]:
        return [
            t["properties"]["chartSlug"]
            for t in self.body.get("tiles", [])
            if t.get("type") == "saved_chart" and t.get("properties", {}).get("chartSlug")
        ]


class Scheduler(BaseModel):
    """Keyed by 1.219's slug where the source serves it (unique in a project), else by its
    `natural` identity: what it is on (`chart`, `dashboard` or `sqlchart`, by slug), its name
    and, when more than one there has that name, its ordinal among them by creation (`#2`,
    `#3`): (resource, name) alone is not unique. Both are kept: a restore between two 1.219
    servers pairs by slug (sent on a create, so the copy keeps it), one across generations by
    the natural identity, which both hold, so either converges."""

    on: str
    resource: str  # slug
    name: str
    ordinal: int = 1
    slug: str | None = None  # 1.219's
    body: dict[str, Any]  # SchedulerBase's fields, less SCHEDULER_VOLATILE
    targets: list[str]  # "slack:<channel>" or "email:<address>", sorted

    @property
    def natural(self) -> str:
        tail = f"#{self.ordinal}" if self.ordinal > 1 else ""
        return f"{self.on}:{self.resource}:{self.name}{tail}"

    @property
    def key(self) -> str:
        return self.slug or self.natural

    def compared(self) -> dict[str, Any]:
        return {**self.body, "targets": self.targets}


class Attribute(BaseModel):
    """A user attribute, values as lists (1.219's; 0.1471's single value is a list of one)."""

    name: str
    description: str = ""
    defaults: list[str] = Field(default_factory=list)
    users: dict[str, list[str]] = Field(default_factory=dict)  # email -> values
    groups: dict[str, list[str]] = Field(default_factory=dict)  # group name -> values


class Project(BaseModel):
    name: str
    uuid: str = ""  # the snapshot's (a restore into it is a restore into its own source)
    users: dict[str, str] = Field(default_factory=dict)  # email -> project role
    groups: dict[str, str] = Field(default_factory=dict)  # group name -> project role
    scheduler_timezone: str | None = None  # the project's default (None: not kept)
    spaces: dict[str, Space] = Field(default_factory=dict)  # "/".join(path) -> space
    charts: dict[str, Chart] = Field(default_factory=dict)  # slug -> chart
    dashboards: dict[str, Dashboard] = Field(default_factory=dict)
    sql_charts: dict[str, SqlChart] = Field(default_factory=dict)  # slug -> it (1.219's)
    schedulers: dict[str, Scheduler] = Field(default_factory=dict)  # Scheduler.key -> it


class SnapshotView(BaseModel):
    snapshot_id: str
    instance: str
    # the source server's release and space permission model (snapshots before they were
    # recorded are 0.1471's)
    source_version: str = "0.1471.0"
    space_model: str = "isPrivate"
    users: list[str] = Field(default_factory=list)  # emails, lower case
    groups: dict[str, list[str]] = Field(default_factory=dict)  # name -> member emails
    attributes: dict[str, Attribute] = Field(default_factory=dict)  # by name
    projects: dict[str, Project] = Field(default_factory=dict)  # by name
    blobs: dict[str, str] = Field(default_factory=dict)  # "chart:<project>:<slug>" -> blob ref
    content: dict[str, ContentCapture] = Field(default_factory=dict)  # project -> validator's
    content_warnings: list[str] = Field(default_factory=list)  # source checks not readable


class TargetIds(BaseModel):
    """Target uuids by natural key: what the applier writes with."""

    users: dict[str, str] = Field(default_factory=dict)  # email -> uuid
    groups: dict[str, str] = Field(default_factory=dict)  # name -> uuid
    attributes: dict[str, str] = Field(default_factory=dict)  # name -> uuid
    projects: dict[str, str] = Field(default_factory=dict)  # snapshot project name -> uuid
    spaces: dict[str, tuple[str, str]] = Field(default_factory=dict)  # space_key -> (uuid, slug)
    charts: dict[str, str] = Field(default_factory=dict)  # "<project>:<slug>" -> uuid
    dashboards: dict[str, str] = Field(default_factory=dict)
    sql_charts: dict[str, str] = Field(default_factory=dict)  # "<project>:<slug>" -> uuid
    schedulers: dict[str, str] = Field(default_factory=dict)  # "<project>:<key>" -> uuid


class TargetState(BaseModel):
    """Everything restore compares on the target, for the projects the snapshot maps to."""

    url: str
    ids: TargetIds = Field(default_factory=TargetIds)
    space_model: str = "isPrivate"  # the target's permission model (its spaces' answers)
    flat: list[str] = Field(default_factory=list)  # projects whose server keeps no parents
    groups: dict[str, list[str]] = Field(default_factory=dict)  # name -> member emails
    attributes: dict[str, Attribute] = Field(default_factory=dict)  # by name
    projects: dict[str, Project] = Field(default_factory=dict)  # by snapshot project name


class TargetInventory(Inventory):
    """The target as a plan saw it: per natural key, a digest of what restore compares."""

    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {
        "groups": "ld.group",
        "attributes": "ld.attribute",
        "access": "ld.access",
        "settings": "ld.settings",
        "spaces": "ld.space",
        # a create gives its creator a share (then undone): the space's and its access's
        "space_access": ("ld.space", "ld.space.access"),
        "space_shares": ("ld.space", "ld.space.access"),
        "charts": "ld.chart",
        "dashboards": "ld.dashboard",
        "sql_charts": "ld.sqlchart",
        "schedulers": "ld.scheduler",
    }

    ids: TargetIds
    space_model: str = "isPrivate"  # isPrivate (0.1471) or inheritParentPermissions (1.219)
    flat: list[str] = Field(default_factory=list)  # projects whose server keeps no parents
    groups: dict[str, list[str]] = Field(default_factory=dict)  # name -> member emails
    attributes: dict[str, str] = Field(default_factory=dict)  # name -> digest of it
    access: dict[str, str] = Field(default_factory=dict)
    settings: dict[str, str] = Field(default_factory=dict)  # project -> scheduler time zone
    spaces: dict[str, str] = Field(default_factory=dict)  # its private flag
    space_access: dict[str, str] = Field(default_factory=dict)  # its user and group access
    space_shares: dict[str, Shares] = Field(default_factory=dict)  # the same, what a diff reads
    charts: dict[str, str] = Field(default_factory=dict)
    dashboards: dict[str, str] = Field(default_factory=dict)
    sql_charts: dict[str, str] = Field(default_factory=dict)
    schedulers: dict[str, str] = Field(default_factory=dict)

    def ledger_scope(self) -> str:
        """The target projects: a restore into prod never reads one into another project."""
        return digest(sorted(self.ids.projects.values()))[:12]

    @classmethod
    def of(cls, state: TargetState) -> TargetInventory:
        inv = cls(url=state.url, ids=state.ids, space_model=state.space_model, flat=state.flat)
        inv.groups = {n: sorted(m) for n, m in state.groups.items()}
        inv.attributes = {n: digest(a.model_dump()) for n, a in state.attributes.items()}
        for name, p in state.projects.items():
            if p.scheduler_timezone is not None:
                inv.settings[name] = p.scheduler_timezone
            inv.access |= {f"{name}:user:{e}": r for e, r in p.users.items()}
            inv.access |= {f"{name}:group:{g}": r for g, r in p.groups.items()}
            for s in p.spaces.values():
                inv.spaces[space_key(name, s.path)] = space_digest(s.private, s.member_role)
                inv.space_access[space_key(name, s.path)] = digest(space_grants(s.users, s.groups))
                inv.space_shares[space_key(name, s.path)] = Shares(users=s.users, groups=s.groups)
            inv.charts |= {f"{name}:{c.slug}": digest(c.compared()) for c in p.charts.values()}
            inv.dashboards |= {
                f"{name}:{d.slug}": digest(d.compared()) for d in p.dashboards.values()
            }
            inv.sql_charts |= {
                f"{name}:{c.slug}": digest(c.compared()) for c in p.sql_charts.values()
            }
            inv.schedulers |= {f"{name}:{k}": digest(s.compared()) for k, s in p.schedulers.items()}
        return inv
