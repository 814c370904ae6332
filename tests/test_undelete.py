"""Issue 26, Omni: someone deleted a dashboard (or a folder) on the instance the snapshot was
taken of, and one `--include` brings it back with what hung on it, over real HTTP to the
strict fake. Omni's trash keeps a deleted document's identifier by the fake's default
(`FakeSettings.trash_keeps_identifier`), and keeps its schedules, pointing at it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore, resume_saved
from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.platforms.omni.options import OmniRestoreOptions, OmniVerifyOptions
from omnimigrate.platforms.omni.phases import verify
from omnimigrate.snapshot.store import LocalStore
from tests.backup_helpers import backup
from tests.conftest import client_for
from tests.kills import Killed, kill_after
from tests.test_cli import run
from tests.test_restore import no_duplicates


def kill_after_import(clients: Sequence[Any]) -> None:
    """The run dies once an import is accepted, before the ledger hears of it."""
    kill_after(clients, lambda m, route, _: m == "POST" and route.endswith("/documents/import"))


def dashboard_with_everything(state: st.OrgState) -> st.Document:
    """A foldered dashboard with labels, permits, two schedules and a favorite (the
    scenario's first with labels, permits and an email schedule, given exactly two)."""
    sched = next(
        s for s in sorted(state.schedules.values(), key=lambda s: s.identifier)
        if (d := state.document(s.identifier)) and d.labels and d.permits and d.folder_id
        and not d.settings and s.destination_type == "email"
    )  # fmt: skip
    doc = state.document(sched.identifier)
    assert doc is not None
    for extra in schedules_on(state, doc.identifier)[2:]:
        del state.schedules[extra.id]
    if len(schedules_on(state, doc.identifier)) < 2:
        second = sched.model_copy(update={"id": st.new_uuid(), "name": sched.name + " (copy)"})
        state.schedules[second.id] = second
    fan = next(u for u in state.users.values() if u.id != doc.owner_id)
    doc.favorited_by.append(fan.id)
    doc.permits.append(st.Permit(user_id=fan.id, role="VIEWER"))  # who favorites must see it
    return doc


def schedules_on(state: st.OrgState, identifier: str) -> list[st.Schedule]:
    return [s for s in state.schedules.values() if s.identifier == identifier]


@pytest.fixture
async def deleted(start_fake, tmp_path, request):
    """(fake, snapshot, token, the deleted document as backed up, another one renamed after
    the backup): one instance, backed up, then a dashboard deleted through the API."""
    keeps = getattr(request, "param", True)
    scenario = generate(ScenarioSpec(documents=40, seed=31))
    doc = dashboard_with_everything(scenario.state)
    fake = await start_fake(
        scenario.state, FakeSettings(rate_limit=None, trash_keeps_identifier=keeps)
    )
    store = LocalStore(tmp_path / "store")
    await backup(fake, store, tmp_path / "cache", [scenario.org_token])
    gone = doc.model_copy(deep=True)
    other = next(
        d
        for d in scenario.state.documents.values()
        if not d.deleted and d.identifier != doc.identifier
    )
    async with client_for(fake, scenario.org_token) as c:
        await c.update_document(other.identifier, name="Renamed after the backup")
        await c.delete_document(doc.identifier)
    return fake, open_snapshot(store, "latest"), scenario.org_token, gone, other


async def undelete(fake: FakeOmni, snap, token: str, **options: Any):
    async with client_for(fake, token) as c:
        plan = await plan_restore(snap, [c], OmniRestoreOptions(**options))
        before = len(fake.log.writes())
        result = await apply_plan(snap, plan, [c])
    return plan, result, fake.log.writes()[before:]


async def verified(fake: FakeOmni, snap, token: str, documents: list[str]) -> list[str]:
    """Verify of the selection, reading the restore ledger: 100 %, and its notes."""
    async with client_for(fake, token) as c:
        report = await verify(
            snap.source, [c], OmniVerifyOptions(documents=documents), store=snap.store
        )
    assert report.types["documents"].checked == len(documents)
    for title, t in report.types.items():
        assert t.matching == t.checked, (title, t.differences)
    return report.notes


async def test_a_deleted_dashboard_comes_back_under_a_new_identifier_with_all_that_hung_on_it(
    deleted,
):
    fake, snap, token, doc, other = deleted
    old = doc.identifier
    on_trash = {s.id for s in schedules_on(fake.state, old)}
    plan, result, writes = await undelete(fake, snap, token, include=[f"document:{old}"])

    new = f"{old}-restored"
    imp = next(a for a in plan.actions if a.id == f"document:{old}:import")
    assert "in the target's trash" in imp.reason and new in imp.reason, imp.reason
    assert f"links that use {old} break" in imp.warning
    moved = [a for a in plan.actions if a.kind == "schedule.create"]
    assert len(moved) == 2 and all(a.op == "update" for a in moved)
    assert all("still on the trashed dashboard" in a.reason for a in moved)
    assert result.complete, {k: v.detail for k, v in result.outcomes.items() if v.status != "done"}
    assert f"restored as {new}" in result.outcomes[imp.id].warning

    back = fake.state.document(new)
    assert back is not None and not back.deleted and back.name == doc.name
    assert sorted(back.labels) == sorted(doc.labels)
    assert back.folder_id == doc.folder_id and back.owner_id == doc.owner_id
    assert {p.principal for p in back.permits} == {p.principal for p in doc.permits}
    assert back.favorited_by == doc.favorited_by
    assert len(schedules_on(fake.state, new)) == 2 and schedules_on(fake.state, old) == []
    trashed = fake.state.document(old)
    assert trashed is not None and trashed.deleted  # still in the trash, untouched

    # nothing else is written: only the restored document, its schedules and the import
    ours = on_trash | {s.id for s in schedules_on(fake.state, new)}
    for w in writes:
        assert (
            w.path in ("/api/unstable/documents/import", "/api/v1/schedules")
            or w.path.startswith(f"/api/v1/documents/{new}")
            or w.path.split("/")[4] in ours
        ), w.path
    routes = Counter((w.method, w.route, w.status < 400) for w in writes)
    assert routes[("POST", "/api/unstable/documents/import", False)] == 1  # the old identifier
    assert routes[("POST", "/api/unstable/documents/import", True)] == 1
    assert routes[("DELETE", "/api/v1/schedules/{scheduleId}", True)] == 2  # the trash's
    assert routes[("POST", "/api/v1/schedules", True)] == 2
    assert len(writes) <= plan.estimated_requests() + 1  # + the refused import
    assert fake.state.document(other.identifier).name == "Renamed after the backup"
    no_duplicates(fake.state)

    notes = await verified(fake, snap, token, [old])
    assert notes == [
        f"document {old} is {new} on the target (restored under a new identifier: "
        f"links that use {old} break)"
    ]
    again, _, rewrites = await undelete(fake, snap, token, include=[f"document:{old}"])
    assert rewrites == [] and not [a for a in again.actions if a.writes]


@pytest.mark.parametrize("deleted", [False], indirect=True, ids=["trash gives it up"])
async def test_where_omni_accepts_the_old_identifier_the_dashboard_comes_back_under_it(deleted):
    fake, snap, token, doc, other = deleted
    old = doc.identifier
    plan, result, writes = await undelete(fake, snap, token, include=[f"document:{old}"])
    assert result.complete and not result.outcomes[f"document:{old}:import"].warning
    back = fake.state.document(old)
    assert back is not None and not back.deleted and back.name == doc.name
    assert fake.state.document(f"{old}-restored") is None
    assert len(schedules_on(fake.state, old)) == 2
    assert len(writes) <= plan.estimated_requests()
    assert fake.state.document(other.identifier).name == "Renamed after the backup"
    no_duplicates(fake.state)
    assert await verified(fake, snap, token, [old]) == []


async def test_trashed_fail_blocks_and_trashed_same_fails_where_omni_keeps_it(deleted):
    fake, snap, token, doc, _ = deleted
    old = doc.identifier
    async with client_for(fake, token) as c:
        plan = await plan_restore(
            snap, [c], OmniRestoreOptions(include=[f"document:{old}"], trashed="fail")
        )
    imp = next(a for a in plan.actions if a.id == f"document:{old}:import")
    assert imp.op == "blocked" and "--trashed same or --trashed new" in imp.reason
    assert {
        a.op for a in plan.actions if a.kind != "label.create" and a.kind != "folder.create"
    } == {"blocked"}
    _, result, _ = await undelete(fake, snap, token, include=[f"document:{old}"], trashed="same")
    assert "already in use" in result.outcomes[f"document:{old}:import"].detail
    assert fake.state.document(f"{old}-restored") is None


@pytest.mark.parametrize("mode", ["new", "same-else-new"])
async def test_an_undelete_killed_after_the_import_adopts_it_on_resume(deleted, mode):
    fake, snap, token, doc, _ = deleted
    old, new = doc.identifier, f"{doc.identifier}-restored"
    options = OmniRestoreOptions(include=[f"document:{old}"], trashed=mode)
    async with client_for(fake, token) as c:
        plan = await plan_restore(snap, [c], options)
        kill_after_import([c])
        with pytest.raises(Killed):
            await apply_plan(snap, plan, [c])
    assert fake.state.document(new) is not None
    async with client_for(fake, token) as c:
        plan = await plan_restore(snap, [c], options)
        imp = next(a for a in plan.actions if a.id == f"document:{old}:import")
        assert imp.adopt and new in imp.reason, imp.reason
        result = await apply_plan(snap, plan, [c])
    assert result.complete
    assert fake.state.document(f"{new}-2") is None
    live = [d for d in fake.state.documents.values() if not d.deleted and d.name == doc.name]
    assert [d.identifier for d in live] == [new]
    assert len(schedules_on(fake.state, new)) == 2
    await verified(fake, snap, token, [old])


async def test_a_killed_restore_of_a_saved_undelete_plan_resumes_with_the_same_plan(deleted):
    """`restore --plan`: the target changed where the saved plan imported under a new
    identifier, which its ledger's intent names, so resuming it is no drift."""
    fake, snap, token, doc, _ = deleted
    old, new = doc.identifier, f"{doc.identifier}-restored"
    async with client_for(fake, token) as c:
        saved = await plan_restore(snap, [c], OmniRestoreOptions(include=[f"document:{old}"]))
        kill_after_import([c])
        with pytest.raises(Killed):
            await apply_plan(snap, saved, [c])
    async with client_for(fake, token) as c:
        resumed = await resume_saved(snap, saved, [c])
        result = await apply_plan(snap, resumed, [c])
    assert result.complete
    assert [d.identifier for d in fake.state.documents.values() if d.name == doc.name
            and not d.deleted] == [new]  # fmt: skip
    await verified(fake, snap, token, [old])


def folder_of_three(state: st.OrgState) -> st.Folder:
    """An organization folder with direct permits, no subfolder, and three live documents
    in it (the scenario's, or others moved in)."""
    folder = next(
        f for f in sorted(state.folders.values(), key=lambda f: f.path)
        if f.permits and f.scope == "organization"
        and not any(c.parent_id == f.id for c in state.folders.values())
    )  # fmt: skip
    live = [d for d in state.documents.values() if d.folder_id == folder.id and not d.deleted]
    for d in live[3:]:
        d.deleted = True  # in the source's trash: not restored
    others = [
        d for d in state.documents.values()
        if not d.deleted and not d.settings and d.folder_id != folder.id
        and d.scope == "organization"
    ]  # fmt: skip
    for d in others[: max(0, 3 - len(live))]:
        d.folder_id = folder.id
    return folder


@pytest.mark.parametrize("by", ["folder/**", "document:"])
async def test_a_deleted_folder_comes_back_with_its_documents(start_fake, tmp_path, by):
    """`--include 'path/**'` brings back the folder and its three documents; `--include
    document:X` of one of them, the folder and that one."""
    scenario = generate(ScenarioSpec(documents=40, seed=37))
    state = scenario.state
    folder = folder_of_three(state)
    docs = sorted(
        d.identifier for d in state.documents.values() if d.folder_id == folder.id and not d.deleted
    )
    assert len(docs) == 3
    fake = await start_fake(state)
    store = LocalStore(tmp_path / "store")
    await backup(fake, store, tmp_path / "cache", [scenario.org_token])
    snap = open_snapshot(store, "latest")
    permits = {p.principal: p.role for p in folder.permits}
    async with client_for(fake, scenario.org_token) as c:
        await c._call(
            "DELETE", "/api/v1/folders/{folderId}", path={"folderId": folder.id},
            params={"force": "true"},
        )  # fmt: skip
    assert state.folder_by_path(folder.path) is None

    token = scenario.org_token
    if by == "document:":
        docs = docs[:1]
    include = [f"{folder.path}/**"] if by == "folder/**" else [f"document:{docs[0]}"]
    plan, result, writes = await undelete(fake, snap, token, include=include)
    assert result.complete, {k: v.detail for k, v in result.outcomes.items() if v.status != "done"}
    back = state.folder_by_path(folder.path)
    assert back is not None and back.scope == folder.scope and back.owner_id == folder.owner_id
    assert {p.principal: p.role for p in back.permits} == permits
    restored = sorted(
        d.identifier for d in state.documents.values() if d.folder_id == back.id and not d.deleted
    )
    assert restored == sorted(f"{i}-restored" for i in docs)
    assert len(writes) <= plan.estimated_requests()
    no_duplicates(state)
    notes = await verified(fake, snap, token, docs)
    assert len(notes) == len(docs)


def test_plan_restore_and_verify_say_where_a_trashed_dashboard_went(tmp_path):
    """As a user runs them: `--trashed new` in the plan and the restore, the new identifier
    and the one line on links in each, and verify reading the ledger from the store."""
    scenario = generate(ScenarioSpec(documents=30, seed=41))
    doc = dashboard_with_everything(scenario.state)
    fake = FakeOmni(scenario.state, FakeSettings(rate_limit=None))
    fake.start_in_thread()
    try:
        env = {
            "OMNI_SOURCE_TOKEN": scenario.org_token,
            "OMNIMIGRATE_CACHE_DIR": str(tmp_path / "cache"),
            "OMNIMIGRATE_STORE": str(tmp_path / "store"),
            "OMNIMIGRATE_RETRY_BASE_DELAY": "0.01",
        }
        fast = ("--rate-limit", "100000")
        assert run("backup", "--source", fake.url, *fast, env=env).returncode == 0
        doc.deleted = True  # what DELETE /documents/{identifier} does in the fake
        old, new = doc.identifier, f"{doc.identifier}-restored"
        target = ("--target", fake.url, "--target-token-env", "OMNI_SOURCE_TOKEN", *fast)
        chosen = ("--include", f"document:{old}", "--trashed", "new")
        plan = run("plan", *target, *chosen, env=env)
        assert plan.returncode == 0, plan.stderr[-2000:]
        assert f"imported under the new identifier {new}" in plan.stdout
        assert f"links that use {old} break" in plan.stdout
        restore = run("restore", *target, *chosen, env=env)
        assert restore.returncode == 0, restore.stdout[-2000:]
        assert f"restored as {new}" in restore.stdout
        verify = run("verify", *target, "--document", old, env=env)
        assert verify.returncode == 0, verify.stdout[-2000:]
        assert f"note: document {old} is {new} on the target" in verify.stdout
        assert "documents" in verify.stdout and "100.0 %" in verify.stdout
    finally:
        fake.stop_thread()
    assert [str(v) for v in fake.violations] == []


@pytest.mark.slow
async def test_a_folder_deleted_on_a_standby_comes_back_with_its_permits(start_fake, tmp_path):
    """The ledger of the standby's first restore has the folder's permits done: made again,
    the folder gets them again (and its documents, theirs)."""
    scenario = generate(ScenarioSpec(documents=40, seed=37))
    folder = folder_of_three(scenario.state)
    source = await start_fake(scenario.state)
    store = LocalStore(tmp_path / "store")
    await backup(source, store, tmp_path / "cache", [scenario.org_token])
    snap = open_snapshot(store, "latest")
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    _, first, _ = await undelete(target, snap, spare.org_token)
    assert first.complete or first.by_status("failed") == []
    made = spare.state.folder_by_path(folder.path)
    assert made is not None and made.permits
    async with client_for(target, spare.org_token) as c:
        await c._call(
            "DELETE", "/api/v1/folders/{folderId}", path={"folderId": made.id},
            params={"force": "true"},
        )  # fmt: skip

    include = [f"{folder.path}/**"]
    _, result, _ = await undelete(target, snap, spare.org_token, include=include)
    assert result.complete, {k: v.detail for k, v in result.outcomes.items() if v.status != "done"}
    back = spare.state.folder_by_path(folder.path)
    assert back is not None and back.id != made.id
    assert {p.principal for p in back.permits} == {p.principal for p in made.permits}
    docs = sorted(
        d.identifier
        for d in scenario.state.documents.values()
        if d.folder_id == folder.id and not d.deleted
    )
    await verified(target, snap, spare.org_token, docs)
    no_duplicates(spare.state)
