"""The restore protocol (`engine/protocol.py`) on Lightdash, over real HTTP to the strict fake
with the creator share on: a restore killed in-process at each step of a space's create
finishes on a re-run with no duplicate and no conflict, the share Lightdash gives a space's
creator is gone unless the snapshot has it (after a migrate, a same-instance promote and a
restore under 5 % faults), and a second restore writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore
from omnimigrate.fakes.policies import FaultPlan
from omnimigrate.platforms.lightdash.fake import scenario as sc
from omnimigrate.platforms.lightdash.platform import client_pool
from omnimigrate.snapshot.store import LocalStore
from tests import kills
from tests.conftest import FAST_RETRY
from tests.kills import Killed
from tests.test_lightdash import VERSIONS, backup, duplicates, restore, serve

SMALL = sc.ScenarioSpec(users=8, groups=3, spaces=8, charts=24, dashboards=4, schedulers=3)


def kill_after(clients: Sequence[Any], method: str, route_part: str) -> None:
    """The run dies once the first `method` request to a route holding `route_part` is
    answered."""
    kills.kill_after(clients, lambda m, route, _: m == method and route_part in route)


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def pair(tmp_path: Path, version: str):
    scenario = sc.generate(SMALL)
    source = await serve(scenario.state, version)
    store = LocalStore(tmp_path / "store", create=True)
    await backup(source, scenario.token, store, tmp_path / "cache")
    spare = sc.standby(scenario.state)
    target = await serve(spare.state, version)
    yield open_snapshot(store, "latest"), spare, target
    await source.stop()
    await target.stop()
    assert [str(v) for v in (*source.violations, *target.violations)] == []


def creator_shares(snap, spare: sc.Scenario, into: str = "Staging") -> list[str]:
    """Spaces of project `into` where the restoring user has a direct share the snapshot
    does not give them."""
    admin = spare.state.tokens[spare.token]
    email = spare.state.users[admin].email
    wanted = snap.source.projects["Staging"].spaces
    project = next(p for p in spare.state.projects.values() if p.name == into)
    paths = {u: s for u, s in project.spaces.items()}
    out = []
    for space in paths.values():
        path = [space.name]
        parent = space.parent
        while parent:
            path.insert(0, paths[parent].name)
            parent = paths[parent].parent
        snapshot = wanted.get("/".join(path))
        if admin in space.users and (snapshot is None or email not in snapshot.users):
            out.append("/".join(path))
    return out


def faithful(report) -> None:
    for title, rows in report.types.items():
        assert rows.differences == [], (title, rows.differences[:5])


async def test_a_migrate_removes_the_creator_share_and_a_rerun_writes_nothing(pair) -> None:
    snap, spare, target = pair
    writes, report = await restore(snap, target, spare.token, RestoreOptions())
    assert writes > 20
    faithful(report)
    assert creator_shares(snap, spare) == []
    again, _ = await restore(snap, target, spare.token, RestoreOptions())
    assert again == 0


@pytest.mark.parametrize(
    "boundary",
    [("POST", "/spaces"), ("POST", "/share"), ("POST", "/code")],
    ids=["space created", "a share written", "content uploaded"],
)
async def test_a_restore_killed_at_each_step_finishes_on_a_rerun(pair, boundary) -> None:
    snap, spare, target = pair
    async with client_pool(target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        plan = await plan_restore(snap, cs, RestoreOptions())
        kill_after(cs, *boundary)
        with pytest.raises(Killed):
            await apply_plan(snap, plan, cs)
    async with client_pool(target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        plan = await plan_restore(snap, cs, RestoreOptions())
        assert [a.id for a in plan.actions if a.op == "conflict"] == []
        if boundary == ("POST", "/spaces"):
            assert [a.id for a in plan.actions if a.adopt], "the killed run's space is adopted"
        result = await apply_plan(snap, plan, cs)
        assert result.by_status("failed") == []
        faithful(await snap.platform.verify(snap.source, cs))
    project = next(p for p in spare.state.projects.values() if p.name == "Staging")
    assert duplicates(project) == []
    assert creator_shares(snap, spare) == []
    again, _ = await restore(snap, target, spare.token, RestoreOptions())
    assert again == 0


async def test_a_refused_removal_is_a_named_warning(pair, version) -> None:
    snap, spare, target = pair
    target.settings.refuse["/api/v1/projects/{projectUuid}/spaces/{spaceUuid}/share/{userUuid}"] = (
        403, "ForbiddenError", "you cannot remove that share")  # fmt: skip
    async with client_pool(target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        plan = await plan_restore(snap, cs, RestoreOptions())
        result = await apply_plan(snap, plan, cs)
    warned = result.warnings()
    assert warned and all(k.endswith(":effects") for k in warned)
    assert all(
        "refused to remove the share it gave the space's creator" in w for w in warned.values()
    )


async def test_a_same_instance_promote_removes_the_creator_share_and_a_rerun_writes_nothing(
    tmp_path: Path, version: str
) -> None:
    """Staging promoted into Production on the one instance, by the token that made Staging:
    the spaces it makes there lose the share Lightdash gives their creator."""
    scenario = sc.generate(SMALL)
    fake = await serve(scenario.state, version)
    try:
        store = LocalStore(tmp_path / "store", create=True)
        await backup(fake, scenario.token, store, tmp_path / "cache")
        snap = open_snapshot(store, "latest")
        overwrite = RestoreOptions(on_conflict="overwrite")
        writes, report = await restore(snap, fake, scenario.token, overwrite, "Production")
        assert writes > 20
        faithful(report)
        assert creator_shares(snap, scenario, "Production") == []
        again, _ = await restore(snap, fake, scenario.token, overwrite, "Production")
        assert again == 0
        assert duplicates(scenario.prod) == []
    finally:
        await fake.stop()
    assert [str(v) for v in fake.violations] == []


async def test_a_restore_under_faults_removes_the_creator_share_and_a_rerun_writes_nothing(
    pair, version: str
) -> None:
    """5 % of requests fail (5xx or a dropped connection, half of them after the server did
    the write): the restore, run again where its retries ran out, ends faithful."""
    snap, spare, target = pair
    target.settings.faults = FaultPlan(
        seed=5, rate=0.05, kinds=("500", "502", "503", "drop"), after_share=0.5
    )
    async with client_pool(target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        for _ in range(3):  # a run whose retries ran out is finished by the next
            result = await apply_plan(snap, await plan_restore(snap, cs, RestoreOptions()), cs)
            if result.complete:
                break
    assert result.complete
    assert sum(1 for r in target.log.records if r.fault) > 3
    target.settings.faults = None
    again, report = await restore(snap, target, spare.token, RestoreOptions())
    assert again == 0
    faithful(report)
    project = next(p for p in spare.state.projects.values() if p.name == "Staging")
    assert duplicates(project) == []
    assert creator_shares(snap, spare) == []


async def test_verify_names_a_space_that_kept_the_creator_share(pair) -> None:
    """The defect the reconcile cures is one verify sees: a direct admin share for the
    restoring user on a space whose snapshot does not give them one."""
    snap, spare, target = pair
    _, report = await restore(snap, target, spare.token, RestoreOptions())
    faithful(report)
    admin = spare.state.tokens[spare.token]
    email = spare.state.users[admin].email
    project = next(p for p in spare.state.projects.values() if p.name == "Staging")
    wanted = snap.source.projects["Staging"].spaces
    space = next(
        s for s in sorted(project.spaces.values(), key=lambda s: s.name)
        if not s.parent and email not in wanted[s.name].users
    )  # fmt: skip
    space.users[admin] = "admin"
    async with client_pool(target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        report = await snap.platform.verify(snap.source, cs)
    differences = [d for rows in report.types.values() for d in rows.differences]
    assert len(differences) == 1 and space.name in differences[0], differences
