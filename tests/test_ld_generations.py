"""Lightdash across API generations, over real HTTP to the strict fake: a 1.219 snapshot into a
0.1471 target and the reverse (isPrivate <-> inheritParentPermissions mapped, what has no
equivalent named in the plan, verify at 100 % of what the target can hold, a re-run writing
nothing), and nested spaces into a flat server (each child space and its content blocked,
naming the server's generation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore
from omnimigrate.platforms.lightdash.fake import scenario as sc
from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.server import FakeLightdash, LightdashSettings
from omnimigrate.platforms.lightdash.handlers.spaces import FLAT
from omnimigrate.platforms.lightdash.platform import client_pool
from omnimigrate.snapshot.store import LocalStore
from tests.conftest import FAST_RETRY
from tests.test_lightdash import backed_up, restore, serve

NEW, OLD = "1.219.0", "0.1471.0"


def paths(project: st.Project) -> dict[str, bool]:
    """Each space's path of names -> restricted."""

    def path(s: st.Space) -> str:
        parent = project.spaces.get(s.parent or "")
        return f"{path(parent)}/{s.name}" if parent else s.name

    return {path(s): s.is_private for s in project.spaces.values()}


@pytest.mark.parametrize(("source_version", "target_version"), [(NEW, OLD), (OLD, NEW)])
async def test_a_snapshot_restores_into_the_other_generation_mapping_each_flag(
    tmp_path: Path, source_version: str, target_version: str
) -> None:
    scenario = sc.generate(sc.ScenarioSpec(spaces=6, charts=20, dashboards=4, schedulers=4))
    want = paths(scenario.staging)
    assert set(want.values()) == {True, False}, "restricted and open spaces both"
    plain = next(iter(scenario.staging.schedulers.values()))
    plain.fields["plainTextEmail"] = True  # 1.219's; a 0.1471 server does not serve it
    store, _ = await backed_up(scenario.state, scenario.token, source_version, tmp_path)
    snap = open_snapshot(store, "latest")
    assert snap.source.source_version == source_version
    spare = sc.standby(scenario.state)
    target = await serve(spare.state, target_version)
    try:
        async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
            plan = await plan_restore(snap, cs, RestoreOptions())
        blocked = [a.id for a in plan.actions if a.op == "blocked"]
        warned = {a.id: a.warning for a in plan.actions if a.warning}
        several = [n for n, a in snap.source.attributes.items()
                   if any(len(v) > 1 for v in [a.defaults, *a.users.values(), *a.groups.values()])]  # fmt: skip
        on_plain = [k for k, s in snap.source.projects["Staging"].schedulers.items()
                    if s.body.get("plainTextEmail")]  # fmt: skip
        if source_version == NEW:  # 1.219's value lists have no 0.1471 equivalent: named
            assert several
            for name in several:
                assert "the first of each is restored" in warned[f"ld.attribute:{name}"]
            # nor has its plain-text email: named, and sent without it
            assert len(on_plain) == 1
            sent = next(a for a in plan.actions if a.id == f"ld.scheduler:Staging:{on_plain[0]}")
            assert "plainTextEmail" in sent.warning and "HTML" in sent.warning
            assert "plainTextEmail" not in sent.params["body"]
            assert [a.id for a in plan.actions if "plainTextEmail" in a.warning] == [sent.id]
        else:
            assert on_plain == []
            assert warned == {}
        assert blocked == []
        _, report = await restore(snap, target, spare.token, RestoreOptions())
        assert report.ok, {t: r.differences[:3] for t, r in report.types.items() if r.differences}
        assert report.types["spaces"].checked == len(want)
        assert paths(spare.staging) == want  # isPrivate <-> not inheritParentPermissions
        assert bool(report.notes) == (source_version == NEW)
        if on_plain:
            assert any("plainTextEmail of 1 scheduler" in n for n in report.notes)
        if several:
            held = {a.name: a for a in spare.state.attributes.values()}
            assert all(len(v) == 1 for v in held[several[0]].users.values())
        rerun, _ = await restore(snap, target, spare.token, RestoreOptions())
        assert rerun == 0
    finally:
        await target.stop()
    assert target.violations == []


def tree(scenario: sc.Scenario) -> st.Chart:
    """Finance (restricted) > Close > Monthly, a chart in the leaf."""
    p = scenario.staging
    root = st.Space(st.new_uuid(), "Finance", "finance", True)
    mid = st.Space(st.new_uuid(), "Close", "close", False, root.uuid)
    leaf = st.Space(st.new_uuid(), "Monthly", "monthly", False, mid.uuid)
    p.spaces |= {s.uuid: s for s in (root, mid, leaf)}
    shown = {t["properties"].get("savedChartUuid") for d in p.dashboards.values()
             for t in d.content["tiles"]}  # fmt: skip
    chart = next(c for c in p.charts.values() if c.dashboard is None and c.uuid not in shown)
    chart.space = leaf.uuid
    return chart


async def flat_target(
    tmp_path: Path, spaces: int
) -> tuple[sc.Scenario, st.Chart, FakeLightdash, sc.Scenario]:
    scenario = sc.generate(sc.ScenarioSpec(charts=4, dashboards=1, spaces=2, schedulers=0))
    chart = tree(scenario)
    await backed_up(scenario.state, scenario.token, OLD, tmp_path)  # a 0.1471 build that nests
    spare = sc.standby(scenario.state)
    for n in range(spaces):
        s = st.Space(st.new_uuid(), f"Shared {n}", f"shared-{n}", False)
        spare.staging.spaces[s.uuid] = s
    target = FakeLightdash(spare.state, LightdashSettings(version=OLD, nested_spaces=False))
    await target.start()
    return scenario, chart, target, spare


async def test_nested_spaces_into_a_flat_server_block_each_child_and_its_content(
    tmp_path: Path,
) -> None:
    _, chart, target, spare = await flat_target(tmp_path, spaces=1)
    snap = open_snapshot(LocalStore(tmp_path / "store"), "latest")
    try:
        async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
            plan = await plan_restore(snap, cs, RestoreOptions())
        blocked = {a.id: a.reason for a in plan.actions if a.op == "blocked"}
        assert blocked["ld.space:Staging:Finance/Close"] == FLAT
        assert blocked["ld.space:Staging:Finance/Close/Monthly"] == FLAT
        assert "0.1471" in FLAT and "nested" in FLAT
        assert blocked[f"ld.chart:Staging:{chart.slug}"] == (
            "blocked by ld.space:Staging:Finance/Close/Monthly"
        )
        assert {a.op for a in plan.actions if a.id == "ld.space:Staging:Finance"} == {"create"}
        _, report = await restore(snap, target, spare.token, RestoreOptions())
        names = {s.name: s for s in spare.staging.spaces.values()}
        assert "Finance" in names and names["Finance"].is_private
        assert not {"Close", "Monthly"} & set(names), "no child made at the root"
        assert spare.staging.chart_by_slug(chart.slug) is None
        assert report.ok, {t: r.differences[:3] for t, r in report.types.items() if r.differences}
        assert any("2 child spaces" in n for n in report.notes)
        rerun, _ = await restore(snap, target, spare.token, RestoreOptions())
        assert rerun == 0
    finally:
        await target.stop()
    assert target.violations == []


async def test_a_flat_server_with_no_space_is_found_out_by_its_first_create(
    tmp_path: Path,
) -> None:
    """An empty 0.1471 target cannot tell at plan time; the root's create answer (without
    `parentSpaceUuid`) does, and each child is then blocked with the reason, its content
    blocked by it, before anything of theirs is made; a re-run's plan knows it from the
    target's spaces, blocks them itself and writes nothing."""
    _, chart, target, spare = await flat_target(tmp_path, spaces=0)
    snap = open_snapshot(LocalStore(tmp_path / "store"), "latest")
    try:
        async with client_pool(target.url, [spare.token], rate_limit=100_000,
                               retry=FAST_RETRY) as cs:  # fmt: skip
            plan = await plan_restore(snap, cs, RestoreOptions())
            assert {a.op for a in plan.actions if a.kind == "ld.space"} == {"create"}
            result = await apply_plan(snap, plan, cs)
        assert result.by_status("failed") == []
        blocked = {k: result.outcomes[k].detail for k in result.by_status("blocked")}
        assert blocked["ld.space:Staging:Finance/Close"] == FLAT
        assert blocked["ld.space:Staging:Finance/Close/Monthly"].startswith(
            "blocked by ld.space:Staging:Finance/Close"
        )
        assert blocked[f"ld.chart:Staging:{chart.slug}"].startswith("blocked by ld.space:")
        assert result.outcomes["ld.space:Staging:Finance"].status == "done"
        names = {s.name for s in spare.staging.spaces.values()}
        assert "Finance" in names and not {"Close", "Monthly"} & names
        assert spare.staging.chart_by_slug(chart.slug) is None
        rerun, report = await restore(snap, target, spare.token, RestoreOptions())
        assert rerun == 0
        assert report.ok, {t: r.differences[:3] for t, r in report.types.items() if r.differences}
        assert any("2 child spaces" in n for n in report.notes)
        async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
            again = await plan_restore(snap, cs, RestoreOptions())
        assert {a.id: a.reason for a in again.actions if a.op == "blocked"}[
            "ld.space:Staging:Finance/Close"
        ] == FLAT
    finally:
        await target.stop()
    assert target.violations == []


@pytest.mark.parametrize("target_version", [NEW, OLD])
async def test_a_spaces_role_for_every_member_restores_on_1_219_and_is_blocked_on_0_1471(
    tmp_path: Path, target_version: str
) -> None:
    """1.219's `projectMemberAccessRole`: into 1.219 it is set (its create takes none, its
    update does) and verified; into 0.1471, which has no equivalent, it is blocked naming
    why, the space itself restored, verify at 100 % with a note; a re-run writes nothing."""
    scenario = sc.generate(sc.ScenarioSpec(charts=4, dashboards=1, spaces=2, schedulers=0))
    space = next(s for s in scenario.staging.spaces.values() if s.parent is None)
    space.member_role = "editor"
    store, _ = await backed_up(scenario.state, scenario.token, NEW, tmp_path)
    snap = open_snapshot(store, "latest")
    assert snap.source.projects["Staging"].spaces[space.name].member_role == "editor"
    spare = sc.standby(scenario.state)
    target = await serve(spare.state, target_version)
    try:
        async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
            plan = await plan_restore(snap, cs, RestoreOptions())
        blocked = {a.id: a.reason for a in plan.actions if a.op == "blocked"}
        made_here = next(a for a in plan.actions if a.id == f"ld.space:Staging:{space.name}")
        assert made_here.op == "create"
        if target_version == OLD:
            reason = blocked.pop(f"ld.space.member_role:Staging:{space.name}")
            assert "projectMemberAccessRole 'editor'" in reason and "no equivalent" in reason
        else:
            assert made_here.requests == 2  # the create, then the update that sets the role
        assert blocked == {}
        _, report = await restore(snap, target, spare.token, RestoreOptions())
        assert report.ok, {t: r.differences[:3] for t, r in report.types.items() if r.differences}
        made = next(s for s in spare.staging.spaces.values() if s.name == space.name)
        assert made.member_role == ("editor" if target_version == NEW else None)
        assert any("1 projectMemberAccessRole" in n for n in report.notes) == (
            target_version == OLD
        )
        rerun, _ = await restore(snap, target, spare.token, RestoreOptions())
        assert rerun == 0
        if target_version == NEW:  # verify compares it
            made.member_role = "viewer"
            async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
                tampered = await snap.platform.verify(snap.source, cs)
            assert [d for d in tampered.types["spaces"].differences if "member_role" in str(d)]
    finally:
        await target.stop()
    assert target.violations == []
