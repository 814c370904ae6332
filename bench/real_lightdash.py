"""The disaster drill against a real Lightdash (1.219, built by ../shared/real-lightdash/).

    ../shared/real-lightdash/start.sh DIR
    LIGHTDASH_API_KEY=<the seeded admin's token> python bench/real_lightdash.py \
        [--url http://localhost:8080] [--project "Jaffle shop"]

1. Set up (or find, on a re-run) a restricted root space "Drill restricted", shared directly
   with one user (editor) and another (viewer), and with a group holding the second one as
   well (so the space's effective list shows that user once); in it 3 charts copied from the
   demo project, a dashboard of them, a SQL chart (`POST …/sqlRunner/saved`) and 3 schedulers
   (one on a chart, one on the dashboard, one on the SQL chart). The creator's automatic admin
   share is removed, so the direct shares are exactly those two. And two project tags made
   in the app under one name (the server keeps namesakes), beside the seeded ones of the dbt
   project's YAML.
2. Back the project up (omnimigrate's engine, real HTTP).
3. Delete the space (Lightdash deletes its content and schedulers with it), the two drill
   tags and one YAML tag.
4. Restore, verify, restore again.

Printed: each step's requests (writes apart) and time, verify per type, and the end state:
the space restricted with its exact direct shares, its content and schedulers back, verify
at 100 %, the second restore 0 writes. Exit 1 when any of these does not hold.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from omnimigrate.engine.backup import BackupOptions, run_backup
from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore
from omnimigrate.http.client import pool_of
from omnimigrate.logging import configure_logging
from omnimigrate.platforms.lightdash.client import LightdashClient, select_project
from omnimigrate.platforms.lightdash.handlers.spaces import space_key
from omnimigrate.snapshot.store import LocalStore

SPACE = "Drill restricted"
GROUP = "Drill responders"
EDITOR, VIEWER = "demo2@lightdash.com", "demo3@lightdash.com"
CHARTS = 3
SQL_SLUG = "drill-sql-orders"
SQL_CHART = {"name": "Drill SQL orders", "description": None, "limit": 500, "slug": SQL_SLUG,
             "sql": "select status, count(*) as orders from jaffle.orders group by 1",
             "config": {"type": "table", "metadata": {"version": 1}, "columns": {}}}  # fmt: skip
UNLIMITED = 1_000_000
TAG, TAG_COLORS = "Drill tag", ("#d62728", "#17becf")  # two of one name
YAML_TAG = "sales"  # the yamlReference of a seeded tag, deleted and put back


class Counting(LightdashClient):
    """The client, counting the requests it makes by method (one per call, retries aside)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: Counter[str] = Counter()

    async def _call(self, method: str, route: str, **call: Any) -> Any:
        self.sent[method] += 1
        return await super()._call(method, route, **call)


def totals(clients: list[Counting]) -> tuple[int, int]:
    """(requests, writes) so far."""
    sent = sum((c.sent for c in clients), Counter())
    return sum(sent.values()), sum(n for m, n in sent.items() if m != "GET")


async def setup(c: LightdashClient, project: str) -> dict[str, Any]:
    """The drill's space, found or made, with its shares, content and schedulers."""
    users = {u.email: u.uuid for u in await c.users()}
    me = (await c.me()).email or ""
    group = next((g.uuid for g in await c.groups() if g.name == GROUP), None)
    if group is None:
        group = await c.create_group(GROUP, [users[VIEWER]])
    space = next((s for s in await c.spaces(project) if s.name == SPACE and not s.parent), None)
    if space is None:
        space = await c.create_space(project, SPACE, True, None)
    await c.share_space(project, space.uuid, users[EDITOR], "editor")
    await c.share_space(project, space.uuid, users[VIEWER], "viewer")
    await c.share_space_group(project, space.uuid, group, "viewer")
    if me in users and any(a.user == users[me] for a in await c.space_users(project, space.uuid)):
        await c.unshare_space(project, space.uuid, users[me])  # the creator's automatic share
    demo = [x for x in await c.charts_code(project) if not x["slug"].startswith("drill-")]
    slugs = []
    for code in sorted(demo, key=lambda x: x["slug"])[:CHARTS]:
        slug = f"drill-{code['slug']}"[:60]
        body = {k: v for k, v in code.items() if k not in ("dashboardSlug", "downloadedAt")}
        await c.upsert_chart(project, slug, {**body, "slug": slug, "spaceSlug": space.code_slug,
                                             "skipSpaceCreate": True})  # fmt: skip
        slugs.append(slug)
    tiles = [
        {"type": "saved_chart", "x": 0, "y": 6 * n, "h": 6, "w": 12, "tabUuid": None,
         "properties": {"title": s, "chartSlug": s}}
        for n, s in enumerate(slugs)
    ]  # fmt: skip
    board = {"name": "Drill dashboard", "slug": "drill-dashboard", "spaceSlug": space.code_slug,
             "tiles": tiles, "tabs": [], "version": 1, "skipSpaceCreate": True,
             "filters": {"dimensions": [], "metrics": [], "tableCalculations": []}}  # fmt: skip
    made = await c.upsert_dashboard(project, "drill-dashboard", board)
    chart_uuids = {r.slug: r.uuid for r in await c.chart_list(project)}
    have = {s["name"] for s in await c.schedulers(project)}
    delivery = {"format": "csv", "cron": "0 9 * * 1", "timezone": "UTC", "enabled": True,
                "includeLinks": True, "options": {"formatted": True, "limit": "table"},
                "targets": [{"recipient": "ops@example.com"}]}  # fmt: skip
    if "Drill chart delivery" not in have:
        await c.create_scheduler(project, ("chart", chart_uuids[slugs[0]]),
                                 {**delivery, "name": "Drill chart delivery"})  # fmt: skip
    if "Drill dashboard delivery" not in have and made.uuid:
        await c.create_scheduler(project, ("dashboard", made.uuid),
                                 {**delivery, "format": "image", "options": {},
                                  "name": "Drill dashboard delivery"})  # fmt: skip
    sql = await c.sql_chart_uuid(project, SQL_SLUG)
    if sql is None:  # through the SQL runner's own create, as its UI saves one
        made_sql = await c._results("POST", "/api/v1/projects/{projectUuid}/sqlRunner/saved",
                                    path={"projectUuid": project},
                                    json={**SQL_CHART, "spaceUuid": space.uuid})  # fmt: skip
        sql = str(made_sql["savedSqlUuid"])
    if "Drill SQL delivery" not in have:
        await c.create_scheduler(project, ("sqlchart", sql),
                                 {**delivery, "name": "Drill SQL delivery"})  # fmt: skip
    have_tags = [t.color for t in await c.tags(project) if t.name == TAG]
    for color in TAG_COLORS:
        if color not in have_tags:
            await c.create_tag(project, TAG, color)
    return {"space": space.uuid, "charts": slugs, "users": users}


async def tag_state(c: LightdashClient, project: str) -> list[tuple[str, str, str | None]]:
    return sorted((t.name, t.color, t.yaml_reference) for t in await c.tags(project))


async def delete_tags(c: LightdashClient, project: str) -> None:
    """The drill's two tags and the seeded YAML one."""
    for t in await c.tags(project):
        if t.name == TAG or t.yaml_reference == YAML_TAG:
            await c._results("DELETE", "/api/v1/projects/{projectUuid}/tags/{tagUuid}",
                             path={"projectUuid": project, "tagUuid": t.uuid})  # fmt: skip


async def delete_space(c: LightdashClient, project: str, space: str) -> None:
    await c._results("DELETE", "/api/v1/projects/{projectUuid}/spaces/{spaceUuid}",
                     path={"projectUuid": project, "spaceUuid": space})  # fmt: skip


async def space_state(c: LightdashClient, project: str) -> dict[str, Any] | None:
    """The drill space as the server has it: flag, direct shares, groups, content."""
    space = next((s for s in await c.spaces(project) if s.name == SPACE and not s.parent), None)
    if space is None:
        return None
    detail = await c.space(project, space.uuid)
    shares = await c.space_users(project, space.uuid)
    charts = sorted(x["slug"] for x in await c.charts_code(project)
                    if x["spaceSlug"] == space.code_slug)  # fmt: skip
    boards = sorted(x["slug"] for x in await c.dashboards_code(project)
                    if x["spaceSlug"] == space.code_slug)  # fmt: skip
    sql = {x["slug"]: {k: x[k] for k in ("name", "sql", "limit", "config")}
           for x in await c.sql_charts_code(project) if x["spaceSlug"] == space.code_slug}  # fmt: skip
    return {
        "inheritParentPermissions": detail.inherit,
        "restricted": detail.restricted,
        "direct users": sorted((a.email, a.role) for a in shares),
        "groups": sorted((g.name, g.role) for g in detail.groups),
        "charts": charts,
        "dashboards": boards,
        "sql charts": sql,
    }


def scheduled(listed: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    """Each scheduler by what it is on (a SQL chart's name the /logs answer gives), its name
    and its targets."""
    on = ("savedChartName", "dashboardName", "savedSqlName")
    return sorted(
        (next((str(x[k]) for k in on if x.get(k)), "?"), x["name"],
         sorted(t.get("recipient") or t.get("channel") or "" for t in x.get("targets") or []))
        for x in listed
    )  # fmt: skip


async def main(url: str, token: str, project_name: str) -> int:
    ok = True
    async with pool_of(Counting, url, [token], rate_limit=UNLIMITED,
                       project=project_name) as cs:  # fmt: skip
        c = cs[0]
        print(
            f"server {url}: Lightdash {await c.version()} (API generation {await c.generation()})"
        )
        project = select_project(await c.projects(), project_name, url).uuid
        start = time.monotonic()
        drill = await setup(c, project)
        before = await space_state(c, project)
        schedulers_before = scheduled(await c.schedulers(project))
        tags_before = await tag_state(c, project)
        print(f"setup: {time.monotonic() - start:.1f} s; the space: {before}")
        with tempfile.TemporaryDirectory() as folder:
            store = LocalStore(Path(folder) / "store", create=True)
            sent, start = totals(cs), time.monotonic()
            outcome = await run_backup(cs, store, BackupOptions(), cache_dir=Path(folder) / "c")
            after = totals(cs)
            print(f"backup: {outcome.manifest.status}, {len(outcome.manifest.objects)} objects, "
                  f"{after[0] - sent[0]} requests, {time.monotonic() - start:.1f} s; counts "
                  f"{dict(outcome.manifest.counts)}")  # fmt: skip
            await delete_space(c, project, drill["space"])
            print(f"deleted the space; the server now has it: {await space_state(c, project)}")
            await delete_tags(c, project)
            print(
                f"deleted the drill's tags and the YAML tag {YAML_TAG}: {await tag_state(c, project)}"
            )
            snap = open_snapshot(store, "latest")
            for label in ("restore", "second restore"):
                sent, start = totals(cs), time.monotonic()
                plan = await plan_restore(snap, cs, RestoreOptions())
                planned = totals(cs)
                result = await apply_plan(snap, plan, cs)
                done = totals(cs)
                ops = Counter(a.op for a in plan.actions)
                print(f"{label}: plan {planned[0] - sent[0]} reads, {dict(ops)}; apply "
                      f"{done[0] - planned[0]} requests, {done[1] - planned[1]} writes, "
                      f"{time.monotonic() - start:.1f} s")  # fmt: skip
                for a in plan.actions:
                    if a.op == "blocked" and SPACE in a.object:
                        print(f"  blocked {a.id}: {a.reason}")
                failed = {k: result.outcomes[k].detail for k in result.by_status("failed")}
                if failed:
                    ok = False
                    print(f"  failed: {failed}")
                if label == "second restore" and done[1] - planned[1]:
                    ok = False
                sent, start = totals(cs), time.monotonic()
                report = await snap.platform.verify(snap.source, cs)
                for title, rows in report.types.items():
                    shown = f" differences {rows.differences[:3]}" if rows.differences else ""
                    print(f"  verify {title}: {rows.matching}/{rows.checked}{shown}")
                    ok = ok and rows.matching == rows.checked
                print(
                    f"  verify: {totals(cs)[0] - sent[0]} requests, {time.monotonic() - start:.1f} s"
                )
            final = await space_state(c, project)
            schedulers_after = scheduled(await c.schedulers(project))
            print(f"end: the space {final}")
            print(f"end: schedulers back: {schedulers_after == schedulers_before} "
                  f"({len(schedulers_after)}, on SQL charts: "
                  f"{[x for x in schedulers_after if x[1] == 'Drill SQL delivery']})")  # fmt: skip
            key = space_key(project_name, [SPACE])
            print(f"snapshot's space {key}: {snap.source.projects[project_name].spaces[SPACE]}")
            same = final is not None and before is not None and final == before
            print(f"end: the space as it was before the deletion: {same}")
            on_sql = any(x[1] == "Drill SQL delivery" for x in schedulers_after)
            has_sql = final is not None and SQL_SLUG in final["sql charts"]
            print(f"end: the SQL chart back: {has_sql}, its scheduler back: {on_sql}")
            tags_after = await tag_state(c, project)
            print(f"end: the tags as they were before: {tags_after == tags_before} ({tags_after})")
            ok = ok and same and schedulers_after == schedulers_before and on_sql and has_sql
            ok = ok and tags_after == tags_before
    print("DRILL OK" if ok else "DRILL FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("LIGHTDASH_URL", "http://localhost:8080"))
    parser.add_argument("--project", default="Jaffle shop")
    parser.add_argument("--token-env", default="LIGHTDASH_API_KEY")
    args = parser.parse_args()
    if not os.environ.get(args.token_env):
        sys.exit(f"set ${args.token_env} to the Lightdash token of an organization admin")
    configure_logging(level="warning", fmt="json")
    sys.exit(asyncio.run(main(args.url, os.environ[args.token_env], args.project)))
