"""Issue 26 on Lightdash: someone deleted a space. Over real HTTP to the strict fake (both API
generations): the space, with its access, a child space, charts (one saved in the
dashboard), a dashboard and schedulers, is deleted by Lightdash's `DELETE
…/spaces/{spaceUuid}` (which takes its content with it), then `--include 'SPACE/**'` brings
it all back, writing only that, and a re-run writes nothing; the same through the CLI. A
slug other content took after the deletion is left to it: the chart or dashboard comes back
under a new slug, named in the plan and the report, and the tiles, the link and the
schedulers follow it. Into another project, a slug held there stays a conflict."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import aiohttp
import pytest

from omnimigrate.engine.plan import Action, RestoreOptions
from omnimigrate.engine.restore import OpenSnapshot, apply_plan, open_snapshot, plan_restore
from omnimigrate.platforms.lightdash.fake import scenario as sc
from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.server import FakeLightdash, LightdashSettings
from omnimigrate.platforms.lightdash.platform import client_pool
from omnimigrate.snapshot.store import LocalStore
from tests.test_cli import run
from tests.test_lightdash import VERSIONS, backup, serve

SMALL = sc.ScenarioSpec(users=8, groups=3, spaces=5, charts=12, dashboards=2, schedulers=2)
NAME = "Comptabilité supprimée"
INCLUDE = RestoreOptions(include=[f"{NAME}/**"])


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return request.param


def doomed_space(scenario: sc.Scenario) -> st.Space:
    """A space with user and group access, a child space (with a chart), 2 charts, a
    dashboard of both with a chart saved in it, and a scheduler on each of the dashboard
    and a chart."""
    state, project = scenario.state, scenario.staging
    users = list(state.users.values())
    build = sc.Builder(state, project, random.Random(3), users, list(state.groups.values()), SMALL)
    space = st.Space(st.new_uuid(), NAME, st.slugify(NAME), is_private=True)
    space.users = {users[1].uuid: "editor", users[2].uuid: "viewer"}
    space.groups = {next(iter(state.groups)): "viewer"}
    project.spaces[space.uuid] = space
    child = st.Space(st.new_uuid(), "Archives", "archives-supprimees", False, parent=space.uuid)
    project.spaces[child.uuid] = child
    charts = [build.chart(100, space), build.chart(101, space)]
    build.chart(102, child)
    board = build.dashboard(1, space, charts)
    saved = build.chart(103, space)  # saved in the dashboard, a tile of it
    saved.dashboard = board.uuid
    board.content["tiles"].append(build.chart_tile(saved, 5, []))
    build.scheduler(1, dashboard=board)
    build.scheduler(2, chart=charts[0])
    return space


async def delete(fake: FakeLightdash, token: str, project: st.Project, space: st.Space) -> None:
    """As an admin would: Lightdash's documented DELETE, over HTTP."""
    url = f"{fake.url}/api/v1/projects/{project.uuid}/spaces/{space.uuid}"
    headers = {"Authorization": f"ApiKey {token}"}
    async with aiohttp.ClientSession() as http, http.delete(url, headers=headers) as reply:
        # the real 1.219 answered 200 {"status": "ok"}; 0.1471's spec says 204
        assert reply.status == (200 if fake.modern else 204), await reply.text()


def held(project: st.Project, space: st.Space) -> dict[str, int]:
    """What a space holds on the fake, its children's included."""
    spaces = {space.uuid} | {s.uuid for s in project.spaces.values() if s.parent == space.uuid}
    charts = {c.uuid for c in project.charts.values() if c.space in spaces}
    boards = {d.uuid for d in project.dashboards.values() if d.space in spaces}
    on = charts | boards
    schedulers = [
        s
        for s in project.schedulers.values()
        if {s.fields.get("savedChartUuid"), s.fields.get("dashboardUuid")} & on
    ]
    return {"spaces": len(spaces & set(project.spaces)), "charts": len(charts),
            "dashboards": len(boards), "schedulers": len(schedulers)}  # fmt: skip


@pytest.fixture
async def deleted(tmp_path: Path, version: str):
    """The backup was taken with the space; then the space was deleted."""
    scenario = sc.generate(SMALL)
    space = doomed_space(scenario)
    fake = await serve(scenario.state, version)
    store = LocalStore(tmp_path / "store", create=True)
    await backup(fake, scenario.token, store, tmp_path / "cache")
    before = held(scenario.staging, space)
    assert before == {"spaces": 2, "charts": 4, "dashboards": 1, "schedulers": 2}
    await delete(fake, scenario.token, scenario.staging, space)
    assert held(scenario.staging, space) == {"spaces": 0, "charts": 0, "dashboards": 0,
                                             "schedulers": 0}  # fmt: skip
    yield scenario, fake, open_snapshot(store, "latest"), before
    await fake.stop()
    assert [str(v) for v in fake.violations] == []


async def restore(
    snap: OpenSnapshot, fake: FakeLightdash, token: str, options: RestoreOptions
) -> tuple[list[Action], int, dict[str, str]]:
    """Plan and apply into the source's own Staging: the plan, the writes it made and the
    report's warnings."""
    async with client_pool(fake.url, [token], rate_limit=100_000, project="Staging") as cs:
        before = len(fake.log.writes())
        plan = await plan_restore(snap, cs, options)
        result = await apply_plan(snap, plan, cs)
        assert not result.by_status("failed"), {
            k: result.outcomes[k].detail for k in result.by_status("failed")
        }
        return plan.actions, len(fake.log.writes()) - before, result.warnings()


async def verify(snap: OpenSnapshot, fake: FakeLightdash, token: str) -> dict[str, list[str]]:
    """Every type's differences from the snapshot (none: 100 %)."""
    async with client_pool(fake.url, [token], rate_limit=100_000, project="Staging") as cs:
        report = await snap.platform.verify(snap.source, cs)
    assert all(rows.checked for rows in report.types.values())
    return {title: rows.differences for title, rows in report.types.items() if rows.differences}


async def test_a_deleted_space_comes_back_with_all_it_held_and_nothing_else_is_written(
    deleted,
) -> None:
    scenario, fake, snap, before = deleted
    other = next(c for c in scenario.staging.charts.values())
    original = other.content
    other.content = {**original, "name": "Edited since the backup"}
    actions, writes, warnings = await restore(snap, fake, scenario.token, INCLUDE)
    written = [a for a in actions if a.writes]
    assert {a.kind for a in written} >= {"ld.space", "ld.space.access", "ld.chart",
                                         "ld.dashboard", "ld.scheduler"}  # fmt: skip
    assert writes == sum(a.requests for a in written)
    assert warnings == {}
    # 2 spaces, their shares (3, then the creator's removed from each), 4 charts, 1
    # dashboard, the saved chart's link to it, 2 schedulers
    assert writes == 2 + 3 + 2 + 4 + 1 + 1 + 2
    space = next(s for s in scenario.staging.spaces.values() if s.name == NAME)
    assert held(scenario.staging, space) == before
    assert other.content["name"] == "Edited since the backup"  # not selected, left as it is
    other.content = original  # so that verify compares the selection alone
    assert await verify(snap, fake, scenario.token) == {}
    again, rewrites, _ = await restore(snap, fake, scenario.token, INCLUDE)
    assert (rewrites, [a.id for a in again if a.writes]) == (0, [])


def test_a_space_glob_selects_the_space_itself_and_what_hangs_on_its_content() -> None:
    from omnimigrate.platforms.lightdash.planning import matches as matches_with
    from omnimigrate.platforms.lightdash.registry import REGISTRY

    def matches(action: Action, pattern: str) -> bool:
        return matches_with(action, pattern, REGISTRY.selectors)

    def action(kind: str, obj: str, **params: object) -> Action:
        return Action(id=f"{kind}:{obj}", kind=kind, object=obj, op="create", params=params)

    assert matches(action("ld.space", f"Staging:{NAME}", path=[NAME]), f"{NAME}/**")
    assert matches(action("ld.space.access", f"Staging:{NAME}", path=[NAME]), f"{NAME}/**")
    assert matches(action("ld.space", f"Staging:{NAME}/Archives"), f"{NAME}/**")
    assert not matches(action("ld.space", f"Staging:{NAME} 2"), f"{NAME}/**")
    assert matches(action("ld.chart", "Staging:c", space=[NAME, "Archives"]), f"{NAME}/**")


async def test_a_slug_taken_since_comes_back_as_a_new_one_named_and_the_holder_is_left_alone(
    deleted,
) -> None:
    """After the deletion, other content took the slugs of a deleted chart and of the
    dashboard: both come back under `SLUG-restored`, named in the plan; the dashboard's
    tile and the schedulers follow the new slugs; the holders are not touched."""
    scenario, fake, snap, before = deleted
    staging, source = scenario.staging, snap.source.projects["Staging"]
    board_slug = next(s for s in source.dashboards if NAME in source.dashboards[s].space)
    chart_slug = next(c for c in source.dashboards[board_slug].chart_slugs())
    saved_slug = next(s for s, c in source.charts.items() if c.dashboard == board_slug)
    elsewhere = next(iter(staging.spaces.values()))
    taker = st.Chart(st.new_uuid(), chart_slug, elsewhere.uuid, None,
                     {**source.charts[chart_slug].body, "name": "A new chart"}, "2026-02-01T00:00:00Z")  # fmt: skip
    staging.charts[taker.uuid] = taker
    holder = st.Dashboard(st.new_uuid(), board_slug, elsewhere.uuid,
                          {"name": "A new dashboard", "tabs": [], "tiles": [],
                           "filters": {"dimensions": [], "metrics": [], "tableCalculations": []}},
                          "2026-02-01T00:00:00Z")  # fmt: skip
    staging.dashboards[holder.uuid] = holder
    kept = [(x.uuid, dict(x.content), x.space) for x in (taker, holder)]
    async with client_pool(fake.url, [scenario.token], rate_limit=100_000, project="Staging") as cs:
        elsewhere_only = await plan_restore(snap, cs, RestoreOptions(include=["Finance 1/**"]))
    assert not [a.id for a in elsewhere_only.actions if a.warning]  # not selected: no warning
    actions, writes, warnings = await restore(snap, fake, scenario.token, INCLUDE)
    by_id = {a.id: a for a in actions}
    for kind, slug in (("ld.chart", chart_slug), ("ld.dashboard", board_slug)):
        a = by_id[f"{kind}:Staging:{slug}"]
        assert (a.op, a.params["slug"]) == ("create", f"{slug}-restored")
        assert f"its slug {slug} is taken there by another {kind[3:]}" in a.reason
        assert f"comes back as {slug}-restored" in a.reason
        assert a.warning == f"links to {slug} now open the other {kind[3:]}"
        assert warnings[a.id].startswith(f"came back as {slug}-restored: {slug} is another's")
    assert writes == 2 + 3 + 2 + 4 + 1 + 1 + 2  # the same writes, under other slugs
    assert len(warnings) == 2
    assert [(x.uuid, dict(x.content), x.space) for x in (taker, holder)] == kept
    chart = staging.chart_by_slug(f"{chart_slug}-restored")
    board = staging.dashboard_by_slug(f"{board_slug}-restored")
    assert chart is not None and board is not None
    assert chart.content == {
        k: v for k, v in source.charts[chart_slug].body.items() if k in chart.content
    }
    assert chart.space == board.space and staging.spaces[chart.space].name == NAME
    tiles = {t["properties"].get("savedChartUuid") for t in board.content["tiles"]}
    assert chart.uuid in tiles and taker.uuid not in tiles
    saved = staging.chart_by_slug(saved_slug)  # saved in the dashboard's copy, not the holder
    assert saved is not None and saved.dashboard == board.uuid and saved.uuid in tiles
    on = {
        s.fields["savedChartUuid"] or s.fields["dashboardUuid"] for s in staging.schedulers.values()
    }
    assert {chart.uuid, board.uuid} <= on and not {taker.uuid, holder.uuid} & on
    space = next(s for s in staging.spaces.values() if s.name == NAME)
    assert held(staging, space) == before
    # verify compares by the snapshot's slugs: only the two moved objects (and what is
    # on them) differ there; everything else restored is 100 %
    moved = (f"Staging:{chart_slug}", f"Staging:{board_slug}", f"Staging:chart:{chart_slug}:",
             f"Staging:dashboard:{board_slug}:", f"Staging:{saved_slug}: dashboard")  # fmt: skip
    differences = await verify(snap, fake, scenario.token)
    assert differences and all(d.startswith(moved) for rows in differences.values() for d in rows)
    again, rewrites, _ = await restore(snap, fake, scenario.token, INCLUDE)
    assert (rewrites, [a.id for a in again if a.writes]) == (0, [])
    assert {a.params["slug"] for a in again if a.id.endswith((chart_slug, board_slug))} == {
        f"{chart_slug}-restored", f"{board_slug}-restored"}  # fmt: skip


async def test_into_another_project_a_slug_held_there_stays_a_conflict(deleted) -> None:
    """Promoting into prod, a chart of the same slug there is the same chart, promoted
    before: it is not given a new slug, the plan reports the conflict."""
    scenario, fake, snap, _ = deleted
    source = snap.source.projects["Staging"]
    slug = next(s for s, c in source.charts.items() if c.space == [NAME])
    prod = scenario.prod
    there = next(iter(prod.spaces.values()))
    chart = st.Chart(st.new_uuid(), slug, there.uuid, None,
                     {**source.charts[slug].body, "name": "Promoted, then edited"}, "2026-02-01T00:00:00Z")  # fmt: skip
    prod.charts[chart.uuid] = chart
    async with client_pool(
        fake.url, [scenario.token], rate_limit=100_000, project="Production"
    ) as cs:
        plan = await plan_restore(snap, cs, INCLUDE)
    action = next(a for a in plan.actions if a.id == f"ld.chart:Staging:{slug}")
    assert (action.op, action.params["slug"], action.warning) == ("conflict", slug, "")


def test_the_cli_brings_a_deleted_space_back_and_a_rerun_writes_nothing(tmp_path: Path) -> None:
    """As an operator types it: backup, the deletion, `restore --include 'SPACE/**'` twice,
    then `verify` at 100 % (exit 0)."""
    scenario = sc.generate(SMALL)
    space = doomed_space(scenario)
    fake = FakeLightdash(scenario.state, LightdashSettings(version="1.219.0"))
    fake.start_in_thread()
    try:
        env = {"LIGHTDASH_API_KEY": scenario.token}
        where = ("--platform", "lightdash", "--project", "Staging", "--store",
                 str(tmp_path / "store"), "--rate-limit", "100000")  # fmt: skip
        done = run("backup", "--source", fake.url, *where, env=env)
        assert done.returncode == 0, done.stderr
        asyncio.run(delete(fake, scenario.token, scenario.staging, space))
        restore_cli = ("restore", "--target", fake.url, *where, "--include", f"{NAME}/**")
        first, again = run(*restore_cli, env=env), run(*restore_cli, env=env)
        assert (first.returncode, again.returncode) == (0, 0), (first.stderr, again.stderr)
        # 2 spaces, 1 access, 2 creator shares undone, 4 charts, 1 dashboard, 1 link, 2
        # schedulers
        assert "restore: 13 done" in first.stdout
        assert "restore: 0 done" in again.stdout
        checked = run("verify", "--against", fake.url, *where, env=env)
        assert checked.returncode == 0, checked.stdout
    finally:
        fake.stop_thread()
    assert [str(v) for v in fake.violations] == []
