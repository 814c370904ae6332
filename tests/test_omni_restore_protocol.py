"""The restore protocol (`engine/protocol.py`) on Omni, over real HTTP to the strict fake: a
restore killed in-process at each boundary of a multi-step create (a folder created, then its
path forced; a document imported, then its description, owner and permits; a schedule
created, then its group recipients and pause) finishes on a re-run: each object equals the
snapshot, none is made twice, no conflict is reported, and a third run writes nothing. And
permits are a diff: only those that differ from the target's are written."""

from __future__ import annotations

import shutil
from collections import Counter
from typing import Any

import pytest

from omnimigrate.engine.restore import OpenSnapshot, apply_plan, open_snapshot, plan_restore
from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeOmni
from omnimigrate.platforms.omni.options import OmniRestoreOptions
from omnimigrate.platforms.omni.phases import verify
from omnimigrate.snapshot.store import LocalStore
from tests.backup_helpers import backup
from tests.conftest import client_for
from tests.kills import Boundary, Killed, kill_after
from tests.test_restore import no_duplicates

DOC = "/api/v1/documents/{identifier}"
# The scenario's top-level siblings renamed since they were made: each one's name slugs to
# the other's path, so a create lands at a path that must then be forced.
RENAMED = ("Q4-Reviews-1", "Q4 Reviews")


def renamed(body: Any) -> bool:
    return body.get("name") in RENAMED and not body.get("parentFolderId")


BOUNDARIES: dict[str, Boundary] = {
    "folder created, path not yet forced": lambda m, r, body: (
        m == "POST" and r == "/api/v1/folders" and renamed(body)
    ),
    "document imported": lambda m, r, _: m == "POST" and r == "/api/unstable/documents/import",
    "description written": lambda m, r, body: m == "PATCH" and r == DOC and "description" in body,
    "owner transferred": lambda m, r, _: m == "PUT" and r == DOC + "/transfer-ownership",
    "permits written": lambda m, r, _: m == "POST" and r == DOC + "/permissions",
    # (of a schedule with group recipients or paused: what its create does not carry)
    "schedule created": lambda m, r, body: m == "POST" and r == "/api/v1/schedules",
}


def unfinished(plan: Any, boundary: Boundary) -> Boundary:
    """`boundary`; for a schedule's create, only one with steps after it."""
    names = {
        a.params["name"] for a in plan.actions
        if a.kind == "schedule.create" and (a.params["groups"] or a.params["paused"])
    }  # fmt: skip
    assert names, "the scenario has schedules with group recipients or paused"
    return lambda m, r, body: (
        boundary(m, r, body) and (r != "/api/v1/schedules" or body.get("name") in names)
    )


@pytest.fixture
async def pair(start_fake, tmp_path):
    """(snapshot, the standby's scenario, its fake): a backup of a small organization, and a
    standby with the same users under other ids, holding none of its content."""
    scenario = generate(ScenarioSpec(documents=24, schedules=6, seed=29))
    source = await start_fake(scenario.state)
    store = LocalStore(tmp_path / "store")
    await backup(source, store, tmp_path / "cache", [scenario.org_token])
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    return open_snapshot(store, "latest"), spare, target


def same_objects(snap: OpenSnapshot, state: st.OrgState) -> None:
    """As many live documents and folders as the snapshot restores (none made twice, none at
    a stray path), each once."""
    no_duplicates(state)
    restorable = {i for i, d in snap.source.documents.items() if not d.deleted and d.export_blob}
    live = Counter(d.name for d in state.documents.values() if not d.deleted)
    assert sum(live.values()) == len(restorable), live
    assert sorted(f.path for f in state.folders.values()) == sorted(snap.source.folders)


async def faithful(snap: OpenSnapshot, fake: FakeOmni, token: str) -> None:
    async with client_for(fake, token) as c:
        report = await verify(snap.source, [c])
    for kind in ("folders", "documents", "schedules"):
        t = report.types[kind]
        assert t.checked > 0 and t.matching == t.checked, (kind, t.differences[:5])


@pytest.mark.parametrize("boundary", list(BOUNDARIES))
async def test_a_restore_killed_at_each_boundary_finishes_on_a_rerun(pair, boundary) -> None:
    snap, spare, target = pair
    token = spare.org_token
    async with client_for(target, token) as c:
        plan = await plan_restore(snap, [c], OmniRestoreOptions())
        killed = kill_after([c], unfinished(plan, BOUNDARIES[boundary]))
        with pytest.raises(Killed):
            await apply_plan(snap, plan, [c])
    assert killed, f"the restore never reached: {boundary}"
    async with client_for(target, token) as c:
        plan = await plan_restore(snap, [c], OmniRestoreOptions())
        assert [a.id for a in plan.actions if a.op == "conflict"] == []
        if boundary in ("folder created, path not yet forced", "document imported",
                        "schedule created"):  # fmt: skip
            assert [a.id for a in plan.actions if a.adopt], "the killed run's create is adopted"
        result = await apply_plan(snap, plan, [c])
    assert result.by_status("failed") == [], {
        k: result.outcomes[k].detail for k in result.by_status("failed")
    }
    same_objects(snap, target.state)
    await faithful(snap, target, token)
    writes = len(target.log.writes())
    async with client_for(target, token) as c:
        await apply_plan(snap, await plan_restore(snap, [c], OmniRestoreOptions()), [c])
    assert target.log.writes()[writes:] == []


PERMITS = (DOC + "/permissions", "/api/v1/folders/{folderId}/permissions")


def other_role(role: str) -> str:
    return "EDITOR" if role == "VIEWER" else "VIEWER"


def two_permits(objects: Any) -> Any:
    """The first (by natural key) live object with two direct permits, to two principals."""
    return next(
        o for o in objects
        if not getattr(o, "deleted", False) and not getattr(o, "settings", None)
        and len({p.principal for p in o.permits}) >= 2
    )  # fmt: skip


async def restore(snap: OpenSnapshot, fake: FakeOmni, token: str, **options: Any) -> list[Any]:
    """Plan and apply; the write requests it made."""
    before = len(fake.log.writes())
    async with client_for(fake, token) as c:
        result = await apply_plan(
            snap, await plan_restore(snap, [c], OmniRestoreOptions(**options)), [c]
        )
    assert result.by_status("failed") == []
    return fake.log.writes()[before:]


async def test_permits_are_a_diff_a_changed_snapshot_writes_only_what_differs(
    start_fake, tmp_path
) -> None:
    """A snapshot taken after a folder and a document each lost a permit and changed another's
    role, and another folder lost all of its: the restore over the first one's writes just
    that (a revoke and a role update each, PATCH as the spec updates a permit, and a revoke),
    and verify finds them as the new snapshot has them."""
    scenario = generate(ScenarioSpec(documents=24, schedules=6, seed=29))
    source = await start_fake(scenario.state)
    store = LocalStore(tmp_path / "store")
    await backup(source, store, tmp_path / "cache", [scenario.org_token])
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    await restore(open_snapshot(store, "latest"), target, spare.org_token)

    state = scenario.state
    folders = sorted(state.folders.values(), key=lambda f: f.path)
    folder = two_permits(folders)
    doc = two_permits(sorted(state.documents.values(), key=lambda d: d.identifier))
    for o in (folder, doc):
        del o.permits[0]
        o.permits[0] = o.permits[0].model_copy(update={"role": other_role(o.permits[0].role)})
    next(f for f in folders if f.permits and f is not folder).permits = []  # all of them go
    await backup(source, store, tmp_path / "cache", [scenario.org_token])
    snap = open_snapshot(store, "latest")

    written = await restore(snap, target, spare.org_token)
    assert sorted((w.method, w.route) for w in written) == sorted(
        [("PATCH", r) for r in PERMITS] + [("DELETE", r) for r in (*PERMITS, PERMITS[1])]
    ), [(w.method, w.path) for w in written]
    await faithful(snap, target, spare.org_token)
    assert await restore(snap, target, spare.org_token) == []


async def test_a_faithful_target_restored_without_a_ledger_gets_no_permit_write(pair) -> None:
    """A target that holds the snapshot's folders with their permits (here: restored once,
    then restored again from another store, which has no ledger of it) is left as it is:
    the permits are compared, none sent again."""
    snap, spare, target = pair
    await restore(snap, target, spare.org_token)
    assert isinstance(snap.store, LocalStore)
    elsewhere = snap.store.root.parent / "elsewhere"
    shutil.copytree(snap.store.root, elsewhere, ignore=shutil.ignore_patterns("restores"))
    again = open_snapshot(LocalStore(elsewhere), "latest")
    written = await restore(again, target, spare.org_token)
    assert [w.path for w in written if w.route in PERMITS] == []
    await faithful(again, target, spare.org_token)
