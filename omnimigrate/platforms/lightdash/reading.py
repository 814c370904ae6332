"""Both sides of a restore in one shape (`model.py`): the snapshot, read from its manifest
and blobs with every source uuid turned into a natural key, and the target, read over the
API for the projects the snapshot maps to."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from omnimigrate.engine.apply import RestoreError
from omnimigrate.platforms.lightdash.client import LightdashClient
from omnimigrate.platforms.lightdash.model import (
    SCHEDULER_VOLATILE,
    VOLATILE,
    Chart,
    Dashboard,
    Project,
    Scheduler,
    SnapshotView,
    Space,
    TargetState,
    space_key,
)
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest


def targets_of(raw: list[dict[str, Any]]) -> list[str]:
    """A scheduler's targets, either shape: Slack channels and email recipients."""
    out = []
    for t in raw:
        if t.get("channel"):
            out.append(f"slack:{t['channel']}")
        elif t.get("recipient"):
            out.append(f"email:{t['recipient'].lower()}")
        else:
            raise ValueError(f"a scheduler target with neither `channel` nor `recipient`: {t}")
    return sorted(out)


def scheduler_of(
    raw: dict[str, Any], charts: dict[str, str], boards: dict[str, str]
) -> Scheduler | None:
    """`charts`/`boards`: uuid -> slug. None when what it is on is not known."""
    if raw.get("savedChartUuid"):
        on, slug = "chart", charts.get(raw["savedChartUuid"])
    elif raw.get("dashboardUuid"):
        on, slug = "dashboard", boards.get(raw["dashboardUuid"])
    else:
        raise ValueError(
            f"scheduler {raw.get('name')!r} names neither savedChartUuid nor dashboardUuid"
        )
    if slug is None:
        return None
    body = {k: v for k, v in raw.items() if k not in SCHEDULER_VOLATILE and v is not None}
    return Scheduler(on=on, resource=slug, name=raw["name"], body=body,
                     targets=targets_of(raw.get("targets") or []))  # fmt: skip


def content(code: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in code.items() if k not in VOLATILE and v is not None}


def chart_of(code: dict[str, Any], spaces_by_slug: dict[str, list[str]]) -> Chart:
    return Chart(slug=code["slug"], space=spaces_by_slug.get(code["spaceSlug"], [code["spaceSlug"]]),
                 dashboard=code.get("dashboardSlug"), body=content(code))  # fmt: skip


def dashboard_of(code: dict[str, Any], spaces_by_slug: dict[str, list[str]]) -> Dashboard:
    return Dashboard(slug=code["slug"], space=spaces_by_slug.get(code["spaceSlug"], [code["spaceSlug"]]),
                     body=content(code))  # fmt: skip


# ---------------------------------------------------------------------- the snapshot


def load_view(manifest: Manifest, blobs: BlobStore) -> SnapshotView:
    view = SnapshotView(snapshot_id=manifest.snapshot_id, instance=manifest.instance)
    users = {o.source_id: o.key for o in manifest.of_type("ld_user") if o.source_id}
    groups = {o.source_id: o.key for o in manifest.of_type("ld_group") if o.source_id}
    view.users = sorted(users.values())
    for o in manifest.of_type("ld_group"):
        view.groups[o.key] = (blobs.get(o.blob) or {}).get("members", []) if o.blob else []
    for o in manifest.of_type("ld_project"):
        view.projects[o.key] = Project(name=o.key)
    for o in manifest.of_type("ld_access"):
        body = blobs.get(o.blob)
        project = view.projects[o.key]
        project.users = dict(body["users"])
        project.groups = {groups[g]: r for g, r in body["groups"].items() if g in groups}
    slugs: dict[str, dict[str, list[str]]] = {}  # project -> space slug -> path
    for o in manifest.of_type("ld_space"):
        name, _, _ = o.key.partition(":")
        body = blobs.get(o.blob)
        space = Space(path=body["path"], private=body["private"], users=body["users"],
                      groups={groups[g]: r for g, r in body["groups"].items() if g in groups})  # fmt: skip
        view.projects[name].spaces["/".join(space.path)] = space
        slugs.setdefault(name, {})[body["slug"]] = space.path
    uuids: dict[str, dict[str, dict[str, str]]] = {}  # project -> kind -> uuid -> slug
    for kind, of in (("ld_chart", chart_of), ("ld_dashboard", dashboard_of)):
        for o in manifest.of_type(kind):
            name, _, _ = o.key.partition(":")
            item = of(blobs.get(o.blob), slugs.get(name, {}))
            bucket = (
                view.projects[name].charts if kind == "ld_chart" else view.projects[name].dashboards
            )
            bucket[item.slug] = item  # type: ignore[assignment]
            view.blobs[f"{kind}:{name}:{item.slug}"] = o.blob or ""
            uuids.setdefault(name, {}).setdefault(kind, {})[o.source_id or ""] = item.slug
    for o in manifest.of_type("ld_scheduler"):
        name, _, _ = o.key.partition(":")
        known = uuids.get(name, {})
        found = scheduler_of(
            blobs.get(o.blob), known.get("ld_chart", {}), known.get("ld_dashboard", {})
        )
        if found:
            view.projects[name].schedulers[found.key] = found
    return view


# ---------------------------------------------------------------------- the target


async def project_map(client: LightdashClient, view: SnapshotView) -> dict[str, str]:
    """Which target project each snapshot project restores into: the client's `project`
    (then the snapshot must hold one project), else the project of the same name."""
    found = await client.projects()
    if client.project:
        chosen = [p for p in found if client.project in (p.uuid, p.name)]
        if not chosen:
            raise RestoreError(f"project {client.project!r} is not on {client.base_url}")
        if len(view.projects) != 1:
            raise RestoreError(
                f"the snapshot holds {len(view.projects)} projects ({', '.join(view.projects)}) "
                "and --project names one target: back up one project with --project, or leave "
                "--project out to restore each into the target project of the same name"
            )
        return {next(iter(view.projects)): chosen[0].uuid}
    by_name = {p.name: p.uuid for p in found}
    return {name: by_name[name] for name in view.projects if name in by_name}


async def read_target(clients: Sequence[LightdashClient], view: SnapshotView) -> TargetState:
    client = clients[0]
    state = TargetState(url=client.base_url)
    users, groups, mapping = await asyncio.gather(
        client.users(), client.groups(), project_map(client, view)
    )
    state.ids.users = {u.email.lower(): u.uuid for u in users}
    state.ids.groups = {g.name: g.uuid for g in groups}
    state.ids.projects = mapping
    wanted = [g for g in groups if g.name in view.groups]
    members = await asyncio.gather(
        *(clients[i % len(clients)].group_members(g.uuid) for i, g in enumerate(wanted))
    )
    state.members = {
        g.name: sorted(m.email.lower() for m in ms) for g, ms in zip(wanted, members, strict=True)
    }
    for name, uuid in mapping.items():
        state.projects[name] = await _read_project(clients, state, name, uuid)
    return state


async def _read_project(
    clients: Sequence[LightdashClient], state: TargetState, name: str, uuid: str
) -> Project:
    client = clients[0]
    group_names = {v: k for k, v in state.ids.groups.items()}
    access, group_access, listed, charts, boards, scheds, board_list = await asyncio.gather(
        client.project_access(uuid), client.group_accesses(uuid), client.spaces(uuid),
        client.charts_code(uuid), client.dashboards_code(uuid), client.schedulers(uuid),
        client.dashboard_list(uuid),
    )  # fmt: skip
    project = Project(name=name)
    project.users = {m.email.lower(): m.role for m in access}
    project.groups = {group_names.get(a.group, a.group): a.role for a in group_access}
    by_uuid = {s.uuid: s for s in listed}
    details = await asyncio.gather(
        *(clients[i % len(clients)].space(uuid, s.uuid) for i, s in enumerate(listed))
    )
    slugs = {}
    for detail in details:
        path = _path(detail.uuid, by_uuid)
        project.spaces["/".join(path)] = Space(
            path=path, private=detail.is_private,
            users={a.email.lower(): a.role for a in detail.access if a.direct},
            groups={g.name: g.role for g in detail.groups},
        )  # fmt: skip
        state.ids.spaces[space_key(name, path)] = (detail.uuid, detail.slug)
        slugs[detail.slug] = path
    chart_refs = await client.chart_list(uuid)
    chart_uuids = {r.slug: r.uuid for r in chart_refs if r.slug}
    for code in charts:
        chart = chart_of(code, slugs)
        project.charts[chart.slug] = chart
        if chart.slug in chart_uuids:
            state.ids.charts[f"{name}:{chart.slug}"] = chart_uuids[chart.slug]
    board_uuids = {(r.name, r.updated_at): r.uuid for r in board_list}
    for code in boards:
        board = dashboard_of(code, slugs)
        project.dashboards[board.slug] = board
        if (found := board_uuids.get((code.get("name"), code.get("updatedAt")))) is not None:
            state.ids.dashboards[f"{name}:{board.slug}"] = found
    by_chart = {
        v: k.partition(":")[2] for k, v in state.ids.charts.items() if k.startswith(name + ":")
    }
    by_board = {
        v: k.partition(":")[2] for k, v in state.ids.dashboards.items() if k.startswith(name + ":")
    }
    for raw in scheds:
        found_s = scheduler_of(raw, by_chart, by_board)
        if found_s:
            project.schedulers[found_s.key] = found_s
            state.ids.schedulers[f"{name}:{found_s.key}"] = raw["schedulerUuid"]
    return project


def _path(uuid: str, spaces: dict[str, Any]) -> list[str]:
    chain, seen = [], set()
    while uuid in spaces and uuid not in seen:
        seen.add(uuid)
        chain.insert(0, spaces[uuid].name)
        uuid = spaces[uuid].parent or ""
    return chain
