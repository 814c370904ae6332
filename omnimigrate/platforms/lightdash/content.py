"""Content checks on Lightdash: the project validator (`POST /api/v1/projects/{p}/validate`,
its job's status, then `GET …/validate`; the same in 0.1471.0 and 1.219.0).

Backup asks it once per project and keeps its rows as an optional capture (a refusal is a
warning on the entry, never a failure); the snapshot view names them by slug. After a
restore the target's validator is asked for each project the snapshot maps to, and the two
are compared per `chart:<project>:<slug>` and `dashboard:<project>:<slug>`
(`engine/content.py`).

A row names its chart or dashboard by uuid, and uuids differ between instances: the source's
are the snapshot's (charts from the list, dashboards paired with theirs), the target's
charts from its chart list and its dashboards from 1.219's `dashboardSlug`. A chart saved in
a dashboard has a uuid no list gives, and a 0.1471 dashboard row no slug: those are found by
name among the snapshot's content of the project, when the name is unique. A row found
neither way (Lightdash hides private content from a token that is not an admin's) is named
among the report's warnings. Both specs require `name` and `error`; a row without them
fails, naming the field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omnimigrate.engine.content import (
    CONTENT_TYPE,
    ContentCapture,
    ContentReport,
    ContentShapeError,
    compare,
    merge,
)
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.errors import ApiStatusError
from omnimigrate.http.retry import permanent
from omnimigrate.platforms.lightdash.client import LightdashClient, ValidationUnfinished
from omnimigrate.platforms.lightdash.handler import Args
from omnimigrate.platforms.lightdash.handlers import charts, dashboards
from omnimigrate.platforms.lightdash.natural_keys import ProjectBase, ViewBase
from omnimigrate.platforms.lightdash.options import LightdashRestoreOptions
from omnimigrate.platforms.lightdash.reading import SnapshotReader, project_map
from omnimigrate.snapshot.manifest import ObjectEntry

if TYPE_CHECKING:
    from omnimigrate.platforms.lightdash.backup import Context

VALIDATION_JOB = "ld_validation"


class ValidationRow(BaseModel):
    """One row of `ValidationResponse` (chart, dashboard, table or 1.219's data app)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str
    error: str
    source: str | None = None  # optional in both specs
    chart_uuid: str | None = Field(None, alias="chartUuid")
    chart_name: str | None = Field(None, alias="chartName")
    dashboard_uuid: str | None = Field(None, alias="dashboardUuid")
    dashboard_slug: str | None = Field(None, alias="dashboardSlug")  # 1.219's

    @property
    def kind(self) -> str | None:
        """chart or dashboard; None for what no restore writes (tables, data apps)."""
        if self.source:
            return self.source if self.source in ("chart", "dashboard") else None
        return "chart" if self.chart_uuid else "dashboard" if self.dashboard_uuid else None


def read_rows(results: list[Any], scope: str) -> list[ValidationRow]:
    rows = []
    for item in results:
        try:
            rows.append(ValidationRow.model_validate(item))
        except ValidationError as err:
            where = ".".join(map(str, err.errors()[0]["loc"])) or "the row"
            keys = sorted(item) if isinstance(item, dict) else type(item).__name__
            raise ContentShapeError(
                f"project validator of {scope}: a result without a valid `{where}` (keys: {keys})"
            ) from None
    return rows


@dataclass
class Names:
    """How one side names a project's content: slugs by uuid where a list gives them, and
    the snapshot's slugs by name for the rest."""

    charts: dict[str, str] = field(default_factory=dict)  # uuid -> slug
    dashboards: dict[str, str] = field(default_factory=dict)
    chart_names: dict[str, list[str]] = field(default_factory=dict)  # name -> slugs
    dashboard_names: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, project: ProjectBase, chart_slugs: dict[str, str], board_slugs: dict[str, str]
    ) -> Names:
        names = cls(
            {u: s for u, s in chart_slugs.items() if u}, {u: s for u, s in board_slugs.items() if u}
        )
        for slug, chart in sorted(part(project, charts.Charts).charts.items()):
            names.chart_names.setdefault(str(chart.body.get("name", "")), []).append(slug)
        for slug, board in sorted(part(project, dashboards.Dashboards).dashboards.items()):
            names.dashboard_names.setdefault(str(board.body.get("name", "")), []).append(slug)
        return names

    def slug(self, row: ValidationRow, kind: str) -> str | None:
        """By uuid (or 1.219's `dashboardSlug`), else by a name no other item has."""
        if kind == "chart":
            known = self.charts.get(row.chart_uuid or "")
            named = self.chart_names.get(row.chart_name or row.name, [])
        else:
            known = row.dashboard_slug or self.dashboards.get(row.dashboard_uuid or "")
            named = self.dashboard_names.get(row.name, [])
        return known or (named[0] if len(named) == 1 else None)


def capture_of(
    project: str, rows: list[ValidationRow], names: Names, side: str, warnings: list[str]
) -> ContentCapture:
    """The rows of one project's validation, by content key; `side` names it in a warning."""
    out = ContentCapture(scope=project)
    for row in rows:
        kind = row.kind
        if kind is None:
            continue
        slug = names.slug(row, kind)
        if slug is None:
            warnings.append(f"{side} content check of {project}: an issue on {row.name!r} names "
                            f"no {kind} of the snapshot (by uuid or unique name): {row.error}")  # fmt: skip
            continue
        key = f"{kind}:{project}:{slug}"
        out.issues.setdefault(key, []).append(row.error)
        out.names[key] = row.name
    return out


# ---------------------------------------------------------------------- backup


async def read_validation(ctx: Context, client: LightdashClient, args: Args) -> JobResult:
    """The source's validation of one project; a refusal (403, 501) or a job that did not
    finish is a warning on the entry."""
    name, uuid = args["name"], args["project"]
    try:
        rows = read_rows(await client.validate_project(uuid), name)
    except ApiStatusError as err:
        if not permanent(err):
            raise
        warning = f"not readable ({err.status}): {err.detail}"
    except ValidationUnfinished as err:
        warning = f"not readable: {err.message}"
    else:
        body = {"rows": [r.model_dump(by_alias=True, exclude_none=True) for r in rows]}
        entry = await ctx.entry(CONTENT_TYPE, name, body, source_id=uuid, refs={"project": name})
        return JobResult(entries=[entry])
    return JobResult(entries=[ObjectEntry(type=CONTENT_TYPE, key=name, source_id=uuid,
                                          warnings=[warning], refs={"project": name})])  # fmt: skip


JOBS = {VALIDATION_JOB: read_validation}


# ---------------------------------------------------------------------- snapshot view


def load(r: SnapshotReader, view: ViewBase) -> None:
    """After the content: the source's rows named by the snapshot's slugs."""
    for o in r.entries(CONTENT_TYPE):
        if not o.blob:
            view.content_warnings += [f"source content check of {o.key}: {w}" for w in o.warnings]
            continue
        rows = [ValidationRow.model_validate(x) for x in r.blob(o)["rows"]]
        names = Names.of(view.projects[o.key], r.resolved(charts.SLUGS, o.key),
                         r.resolved(dashboards.SLUGS, o.key))  # fmt: skip
        view.content[o.key] = capture_of(o.key, rows, names, "source", view.content_warnings)


# ---------------------------------------------------------------------- after restore


async def check(
    view: ViewBase, clients: Sequence[LightdashClient], options: LightdashRestoreOptions
) -> ContentReport:
    """The target's validator for each project the snapshot maps to."""
    mapped = await project_map(clients[0], view)
    target_names = {p.uuid: p.name for p in await clients[0].projects()}
    warnings = list(view.content_warnings)
    if not view.content:
        warnings.append("the snapshot holds no source content check: every issue counts as new")

    async def one(name: str, uuid: str, c: LightdashClient) -> ContentCapture | None:
        label = target_names.get(uuid, uuid)
        try:
            rows = read_rows(await c.validate_project(uuid), label)
            listed = {r.uuid: r.slug for r in await c.chart_list(uuid) if r.slug}
        except ApiStatusError as err:
            if not permanent(err):
                raise
            warnings.append(f"target content check of {label} ({err.status}): {err.detail}")
            return None
        except ValidationUnfinished as err:
            warnings.append(f"target content check of {label}: {err.message}")
            return None
        return capture_of(name, rows, Names.of(view.projects[name], listed, {}), "target", warnings)

    answers = await asyncio.gather(
        *(one(n, u, clients[i % len(clients)]) for i, (n, u) in enumerate(sorted(mapped.items())))
    )
    restored = {
        f"{kind}:{name}:{slug}": str(item.body.get("name", ""))
        for name in mapped
        for kind, items in (("chart", part(view.projects[name], charts.Charts).charts),
                            ("dashboard", part(view.projects[name], dashboards.Dashboards).dashboards))
        for slug, item in items.items()
    }  # fmt: skip
    source = merge([view.content[n] for n in sorted(mapped) if n in view.content])
    target = merge([a for a in answers if a])
    scopes = [target_names.get(u, u) for u in mapped.values()]
    return compare(source, target, restored, scopes=scopes, warnings=warnings)
