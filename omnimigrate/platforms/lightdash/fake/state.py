"""The fake Lightdash's data: an organization with users, groups and projects, each project
with its access, spaces, charts, dashboards, schedulers and tags. Plain dataclasses; the routes
(one module per resource, composed in `api.py`) turn them into the documented JSON shapes."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


def new_uuid() -> str:
    return str(uuid.uuid4())


def slugify(text: str) -> str:
    """Lightdash's slug of a name: ASCII, lower case, words joined by '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "untitled"


@dataclass
class User:
    uuid: str
    email: str
    first_name: str
    last_name: str
    role: str = "member"  # organization role


@dataclass
class Group:
    uuid: str
    name: str
    members: list[str] = field(default_factory=list)  # user uuids
    created_at: str = ""


@dataclass
class Space:
    uuid: str
    name: str
    slug: str
    is_private: bool
    parent: str | None = None  # space uuid (served only with `nested_spaces`)
    users: dict[str, str] = field(default_factory=dict)  # user uuid -> space role
    groups: dict[str, str] = field(default_factory=dict)  # group uuid -> space role
    member_role: str | None = None  # 1.219's projectMemberAccessRole: every member's role


@dataclass
class Chart:
    uuid: str
    slug: str
    space: str
    dashboard: str | None
    content: dict[str, Any]  # name, description, tableName, metricQuery, chartConfig, tableConfig
    updated_at: str


@dataclass
class SqlChart:
    """1.219's: a saved SQL query and its visualisation (served by the 1.219 variant only)."""

    uuid: str
    slug: str
    space: str
    content: dict[str, Any]  # name, description, sql, limit, config, chartKind
    updated_at: str
    created_by: str | None = None  # user uuid


@dataclass
class Dashboard:
    uuid: str
    slug: str
    space: str
    # name, description, tabs, filters; tiles keep `savedChartUuid`, shown as a chartSlug
    content: dict[str, Any]
    updated_at: str


@dataclass
class Scheduler:
    uuid: str
    fields: dict[str, Any]  # SchedulerBase's fields and the chart or dashboard uuid
    targets: list[dict[str, str]]  # {"channel": ...} or {"recipient": ...}
    slug: str = ""  # 1.219's: the name's slug, `-1`, `-2`… when taken in the project


@dataclass
class Tag:
    uuid: str
    name: str  # two tags of a project may share one, as on a real 1.219
    color: str
    created_by: str  # user uuid
    yaml_reference: str | None = None  # a spotlight category of the dbt project's YAML
    created_at: str = "2025-01-01T00:00:00Z"


@dataclass
class Attribute:
    uuid: str
    name: str
    description: str | None = None
    defaults: list[str] = field(default_factory=list)
    users: dict[str, list[str]] = field(default_factory=dict)  # user uuid -> values
    groups: dict[str, list[str]] = field(default_factory=dict)  # group uuid -> values
    created_at: str = "2025-01-01T00:00:00Z"


@dataclass
class Explore:
    """A compiled explore as the validator reads it: the field ids (`table_field`) of its
    tables' dimensions and metrics, joined tables' included."""

    dimensions: set[str] = field(default_factory=set)
    metrics: set[str] = field(default_factory=set)


@dataclass
class Project:
    uuid: str
    name: str
    upstream: str | None = None
    scheduler_timezone: str = "UTC"
    access: dict[str, str] = field(default_factory=dict)  # user uuid -> project role
    group_access: dict[str, str] = field(default_factory=dict)  # group uuid -> project role
    spaces: dict[str, Space] = field(default_factory=dict)
    charts: dict[str, Chart] = field(default_factory=dict)
    dashboards: dict[str, Dashboard] = field(default_factory=dict)
    schedulers: dict[str, Scheduler] = field(default_factory=dict)
    sql_charts: dict[str, SqlChart] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)  # by uuid
    explores: dict[str, Explore] = field(default_factory=dict)  # by name (the dbt model's)
    validation: list[dict[str, Any]] = field(default_factory=list)  # the latest results

    def unique_slug(self, wanted: str, taken: set[str]) -> str:
        slug, n = wanted, 1
        while slug in taken:
            n += 1
            slug = f"{wanted}-{n}"
        return slug

    def scheduler_slug(self, name: str) -> str:
        """1.219's scheduler slugs auto-increment: `x`, then `x-1`, `x-2`…"""
        base, taken = slugify(name), {s.slug for s in self.schedulers.values()}
        slug, n = base, 0
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        return slug

    def delete_space(self, space_uuid: str) -> None:
        """As Lightdash's SpaceService deletes a space: its charts, its dashboards (with the
        charts saved in them), its child spaces the same way, then the space; a scheduler
        goes with the chart or dashboard it is on. Lightdash's soft delete (a trash that
        `/api/v2/content/{p}/restore` empties) is not modelled: what goes is gone, and its
        slugs are free (the README's guesses)."""
        for child in [s.uuid for s in self.spaces.values() if s.parent == space_uuid]:
            self.delete_space(child)
        boards = {d.uuid for d in self.dashboards.values() if d.space == space_uuid}
        charts = {
            c.uuid for c in self.charts.values() if c.space == space_uuid or c.dashboard in boards
        }
        sqls = {c.uuid for c in self.sql_charts.values() if c.space == space_uuid}
        self.schedulers = {
            k: s
            for k, s in self.schedulers.items()
            if s.fields.get("savedChartUuid") not in charts
            and s.fields.get("dashboardUuid") not in boards
            and s.fields.get("savedSqlUuid") not in sqls
        }
        self.sql_charts = {k: c for k, c in self.sql_charts.items() if k not in sqls}
        self.charts = {k: c for k, c in self.charts.items() if k not in charts}
        self.dashboards = {k: d for k, d in self.dashboards.items() if k not in boards}
        del self.spaces[space_uuid]

    def sql_chart_by_slug(self, slug: str) -> SqlChart | None:
        return next((c for c in self.sql_charts.values() if c.slug == slug), None)

    def chart_by_slug(self, slug: str) -> Chart | None:
        return next((c for c in self.charts.values() if c.slug == slug), None)

    def dashboard_by_slug(self, slug: str) -> Dashboard | None:
        return next((d for d in self.dashboards.values() if d.slug == slug), None)


@dataclass
class LightdashState:
    org_uuid: str = field(default_factory=new_uuid)
    org_name: str = "Acme"
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    attributes: dict[str, Attribute] = field(default_factory=dict)  # user attributes by uuid
    tokens: dict[str, str] = field(default_factory=dict)  # personal access token -> user uuid
    # validation job id -> the status reads it still answers `started` to
    jobs: dict[str, int] = field(default_factory=dict)
    validations: int = 0  # validation rows made: the next one's `validationId`
    _tick: int = 0

    def now(self) -> str:
        """A strictly increasing timestamp: an update is always later than what it changes."""
        self._tick += 1
        stamp = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self._tick)
        return stamp.isoformat().replace("+00:00", "Z")

    def user_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)

    def add_user(self, email: str, first: str, last: str, role: str = "member") -> User:
        user = User(new_uuid(), email, first, last, role)
        self.users[user.uuid] = user
        return user

    def add_group(self, name: str, members: list[str]) -> Group:
        group = Group(new_uuid(), name, list(members), self.now())
        self.groups[group.uuid] = group
        return group

    def add_project(self, name: str, upstream: str | None = None) -> Project:
        project = Project(new_uuid(), name, upstream)
        self.projects[project.uuid] = project
        return project
