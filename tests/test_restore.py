"""Restore end to end: a snapshot of one fake replayed into another over real HTTP."""

from __future__ import annotations

from collections import Counter

import pytest

from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore
from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeSettings
from omnimigrate.platforms.omni.options import OmniRestoreOptions, OmniVerifyOptions
from omnimigrate.platforms.omni.phases import verify
from omnimigrate.snapshot.store import LocalStore
from tests.backup_helpers import backup
from tests.conftest import SCALE_DOCUMENTS, client_for


async def restore(snap, fake, token, **options):
    async with client_for(fake, token) as client:
        plan = await plan_restore(snap, [client], OmniRestoreOptions(**options))
        result = await apply_plan(snap, plan, [client])
    return plan, result


async def report_of(snap, fake, token, **kw):
    async with client_for(fake, token) as client:
        return await verify(snap.source, [client], OmniVerifyOptions(**kw))


def no_duplicates(state) -> None:
    live = [d.identifier for d in state.documents.values() if not d.deleted]
    assert [k for k, n in Counter(live).items() if n > 1] == []
    assert len({f.path for f in state.folders.values()}) == len(state.folders)
    keys = [(s.identifier, s.name) for s in state.schedules.values()]
    assert [k for k, n in Counter(keys).items() if n > 1] == []


@pytest.fixture
async def snapshot_of(start_fake, tmp_path):
    """`await snapshot_of(scenario)` -> (OpenSnapshot, source fake): a backup in a local store."""

    async def make(scenario):
        source = await start_fake(scenario.state)
        store = LocalStore(tmp_path / "store")
        await backup(source, store, tmp_path / "cache", [scenario.org_token])
        return open_snapshot(store, "latest"), source

    return make


@pytest.mark.slow
async def test_restore_at_scale_into_other_ids_verifies_100_percent_and_reruns_write_nothing(
    start_fake, make_s3_store, tmp_path
):
    scenario = generate(ScenarioSpec(documents=SCALE_DOCUMENTS, seed=13))
    source = await start_fake(scenario.state)
    store = make_s3_store("moto")
    await backup(source, store, tmp_path, [scenario.org_token])
    snap = open_snapshot(store, "latest")
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    assert not set(spare.state.users) & set(scenario.state.users)  # other ids, same emails

    _, result = await restore(snap, target, spare.org_token, models=True)
    assert result.by_status("failed") == []
    blocked = {k for k in result.by_status("blocked")}
    refused = [
        d.identifier for d in scenario.state.documents.values() if d.settings.get("exportRefusal")
    ]
    assert all(
        k.split(":")[1] in refused or "dbt Core" in k for k in blocked
    )  # only the unrestorable

    report = await report_of(snap, target, spare.org_token, models=True)
    for kind in ("labels", "folders", "documents", "schedules", "model YAML", "model roles"):
        t = report.types[kind]
        assert t.checked > 0 and t.matching == t.checked, (kind, t.differences[:5])
    assert report.types["documents"].checked == len(
        [d for d in scenario.state.documents.values() if not d.deleted and not d.settings]
    )
    no_duplicates(target.state)

    writes = len(target.log.writes())
    _, again = await restore(snap, target, spare.org_token, models=True)
    assert len(target.log.writes()) == writes  # zero write requests
    assert again.by_status("done") == []


@pytest.mark.slow
async def test_one_deleted_dashboard_comes_back_alone(start_fake, snapshot_of):
    scenario = generate(ScenarioSpec(documents=80, seed=17))
    snap, _ = await snapshot_of(scenario)
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    await restore(snap, target, spare.org_token)

    # an admin deletes one scheduled, labelled, shared dashboard on the target, for good
    sched = next(
        s
        for s in scenario.state.schedules.values()
        if (d := scenario.state.document(s.identifier)).labels and d.permits and d.folder_id
    )
    doc = target.state.document(sched.identifier)
    del target.state.documents[doc.id]
    for sid in [k for k, s in target.state.schedules.items() if s.identifier == doc.identifier]:
        del target.state.schedules[sid]
    writes = len(target.log.writes())

    _, result = await restore(snap, target, spare.org_token, include=[f"document:{doc.identifier}"])
    assert result.by_status("failed") == [] and result.by_status("blocked") == []
    touched = [r.path for r in target.log.writes()[writes:]]
    assert touched and all(
        doc.identifier in p
        or p.startswith("/api/v1/schedules")
        or p == "/api/unstable/documents/import"
        for p in touched
    ), touched
    report = await report_of(snap, target, spare.org_token, documents=[doc.identifier])
    assert report.ok, {k: t.differences for k, t in report.types.items()}
    back = target.state.document(doc.identifier)
    assert back and sorted(back.labels) == sorted(doc.labels)
    assert target.state.folders[back.folder_id].path == target.state.folders[doc.folder_id].path
    assert len(
        [s for s in target.state.schedules.values() if s.identifier == doc.identifier]
    ) == len([s for s in scenario.state.schedules.values() if s.identifier == doc.identifier])
    no_duplicates(target.state)


async def test_unmapped_model_user_and_group_block_only_what_needs_them(start_fake, snapshot_of):
    scenario = generate(ScenarioSpec(documents=60, seed=19))
    snap, _ = await snapshot_of(scenario)
    spare = standby(scenario.state, skip_users=2)
    missing_group = next(iter(spare.state.groups))
    del spare.state.groups[missing_group]
    model = next(m for m in spare.state.models.values() if m.kind == "SHARED" and m.name == "Sales")
    del spare.state.models[model.id]
    target = await start_fake(spare.state)
    async with client_for(target, spare.org_token) as client:
        plan = await plan_restore(snap, [client], OmniRestoreOptions())
    reasons = " | ".join(a.reason for a in plan.blocked())
    assert "model warehouse/SHARED/Sales is not on the target (--model-map)" in reasons
    assert "is not on the target (create it there, or use --create-missing-users)" in reasons
    assert "--create-missing-groups" in reasons
    assert any(a.op == "create" for a in plan.actions)

    _, result = await restore(snap, target, spare.org_token)
    assert result.by_status("blocked") and result.by_status("done") and not result.complete
    assert result.by_status("failed") == []

    _, fixed = await restore(
        snap, target, spare.org_token, create_missing_users=True, create_missing_groups=True
    )
    stuck = [k for k in fixed.by_status("blocked") if "create it there" in fixed.outcomes[k].detail]
    assert not stuck, [fixed.outcomes[k].detail for k in stuck[:3]]
    assert any("Sales is not on the target" in o.detail for o in fixed.outcomes.values())


@pytest.mark.slow
async def test_conflicts_skip_overwrite_rename(start_fake, snapshot_of):
    scenario = generate(ScenarioSpec(documents=30, seed=23))
    snap, _ = await snapshot_of(scenario)
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    ident = next(
        d.identifier
        for d in scenario.state.documents.values()
        if not d.deleted and not d.settings and d.folder_id is None
    )
    base = next(m for m in spare.state.models.values() if m.kind == "SHARED")
    async with client_for(target, spare.org_token) as c:  # someone made a document with that id
        await c.import_document({"baseModelId": base.id, "identifier": ident, "exportVersion": "0.1",
                                 "queryModels": {}, "document": {"name": "Theirs"}})  # fmt: skip
    plan, _ = await restore(snap, target, spare.org_token)
    actions = {a.id: a for a in plan.actions}
    assert actions[f"document:{ident}:import"].op == "conflict"
    assert target.state.document(ident).name == "Theirs"  # left alone, and its dependents too
    assert all(
        a.op in ("skip", "blocked")
        for k, a in actions.items()
        if k.startswith(f"document:{ident}:") and not k.endswith(":import")
    )

    plan, result = await restore(snap, target, spare.org_token, on_conflict="rename")
    renamed = result.outcomes[f"document:{ident}:import"]
    assert renamed.status == "done"
    names = [d.name for d in target.state.documents.values() if not d.deleted]
    assert names.count(scenario.state.document(ident).name) == 1 and "Theirs" in names

    target2 = await start_fake(standby(scenario.state).state)
    token2 = next(iter(target2.state.tokens))
    async with client_for(target2, token2) as c:
        other = next(m for m in target2.state.models.values() if m.kind == "SHARED")
        await c.import_document({"baseModelId": other.id, "identifier": ident, "exportVersion": "0.1",
                                 "queryModels": {}, "document": {"name": "Theirs"}})  # fmt: skip
    await restore(snap, target2, token2, on_conflict="overwrite")
    assert target2.state.document(ident).name == scenario.state.document(ident).name


async def test_a_failed_import_blocks_only_its_dependents(start_fake, snapshot_of):
    scenario = generate(ScenarioSpec(documents=40, seed=29))
    snap, _ = await snapshot_of(scenario)
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    schema = next(m for m in spare.state.models.values() if m.kind == "SCHEMA")
    victim_model = next(k for k, m in snap.source.models.items() if m.kind == "SHARED" and m.files)
    victim_id = snap.source.models[victim_model].source_id
    _, result = await restore(snap, target, spare.org_token, model_map={victim_id: schema.id})
    failed = result.by_status("failed")
    assert failed and all(k.endswith(":import") or victim_model in k for k in failed)
    for k in failed:
        ident = k.split(":")[1]
        for dep in (f"document:{ident}:owner", f"document:{ident}:labels"):
            if dep in result.outcomes:
                assert result.outcomes[dep].status == "blocked"
                assert f"blocked by {k}" in result.outcomes[dep].detail
    assert len(result.by_status("done")) > 100  # everything else proceeded


def restored_fields(state: st.OrgState, identifier: str) -> tuple:
    """What restore writes of a document besides its import: description, labels, owner,
    direct permits and favorites."""
    doc = state.document(identifier)
    permits = sorted((p.user_id or "", p.group_id or "", p.role) for p in doc.permits)
    return doc.description, sorted(doc.labels), doc.owner_id, permits, sorted(doc.favorited_by)


@pytest.mark.parametrize("routes", ["both", "official"])
@pytest.mark.slow
async def test_a_changed_model_mapping_repoints_documents(start_fake, snapshot_of, routes):
    scenario = generate(ScenarioSpec(documents=30, seed=47))
    snap, _ = await snapshot_of(scenario)
    spare = standby(scenario.state)
    target = await start_fake(spare.state, FakeSettings(rate_limit=None, routes=routes))
    await restore(snap, target, spare.org_token)
    source_key, src = next(
        (k, m) for k, m in snap.source.models.items() if m.kind == "SHARED" and not m.git_follower
        and any(d.model == k and d.export_blob and not d.deleted for d in snap.source.documents.values())
    )  # fmt: skip
    moved = [
        i
        for i, d in snap.source.documents.items()
        if d.model == source_key and d.export_blob and not d.deleted
    ]
    old = next(
        m
        for m in target.state.models.values()
        if (m.name, m.kind) == (source_key.split("/")[2], "SHARED")
    )
    other = next(m for m in target.state.models.values() if m.kind == "SHARED" and m.id != old.id
                 and target.state.connections[m.connection_id].dialect == target.state.connections[old.connection_id].dialect)  # fmt: skip
    writes = len(target.log.writes())
    before = {i: restored_fields(target.state, i) for i in moved}
    plan, result = await restore(snap, target, spare.org_token, model_map={src.source_id: other.id})
    # a re-import (no update-model route) writes again what an import resets
    assert {i: restored_fields(target.state, i) for i in moved} == before
    kinds = {a.kind for a in plan.actions if a.writes}
    assert "document.update_model" in kinds and kinds <= {"document.update_model", "role.assign"}
    # roles follow the model too: written where the target lacks them, skipped where it has them
    on_old = {
        (r.principal_type, r.role_name) for r in target.state.model_roles if r.model_id == old.id
    }
    on_new = {
        (r.principal_type, r.role_name) for r in target.state.model_roles if r.model_id == other.id
    }
    assert on_old and on_old <= on_new
    assert result.by_status("failed") == []
    assert {target.state.document(i).model_id for i in moved} == {other.id}
    routes_used = {r.route for r in target.log.writes()[writes:] if "model-roles" not in r.route}
    if routes == "both":
        assert routes_used == {"/api/unstable/documents/{identifier}/update-model"}
    else:  # no update-model on a current instance: re-imported on the new model
        assert "/api/unstable/documents/import" in routes_used
    no_duplicates(target.state)
    again = len(target.log.writes())
    await restore(snap, target, spare.org_token, model_map={src.source_id: other.id})
    assert len(target.log.writes()) == again


@pytest.mark.slow
async def test_three_target_keys_share_a_restore_and_its_verify(start_fake, snapshot_of):
    """Restore and verify spread their requests over every target key, each within its own
    limit: three keys, three budgets."""
    scenario = generate(ScenarioSpec(documents=40, seed=19))
    snap, _ = await snapshot_of(scenario)
    spare = standby(scenario.state)
    admin = spare.state.tokens[spare.org_token].user_id
    tokens = [spare.org_token, "omni_org_second_key", "omni_org_third_key"]
    for extra in tokens[1:]:
        spare.state.tokens[extra] = st.Token(token=extra, kind="org", user_id=admin)
    limit = 40
    target = await start_fake(spare.state, FakeSettings(rate_limit=limit, period=1.0))
    clients = [client_for(target, t, rate=limit, period=1.0) for t in tokens]
    try:
        plan = await plan_restore(snap, clients, OmniRestoreOptions())
        result = await apply_plan(snap, plan, clients)
        assert result.by_status("failed") == []
        per_key = [s.requests for s in result.keys.values()]
        assert len(per_key) == 3 and min(per_key) > 0.25 * sum(per_key), per_key
        before = Counter(r.key for r in target.log.records)
        report = await verify(snap.source, clients)
        assert report.ok, {k: t.differences[:3] for k, t in report.types.items()}
        verified = Counter(r.key for r in target.log.records) - before
        assert len(verified) == 3 and min(verified.values()) > 0.2 * sum(verified.values())
    finally:
        for c in clients:
            await c.close()
    assert [r for r in target.log.records if r.status == 429] == []
    assert all(target.log.max_in_window(1.0, k) <= limit for k in before)


async def test_a_role_only_the_target_has_is_an_extra_in_plan_and_verify_alike(
    start_fake, snapshot_of
):
    scenario = generate(ScenarioSpec(documents=10, seed=61))
    snap, _ = await snapshot_of(scenario)
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    await restore(snap, target, spare.org_token)
    granted = {(r.principal_type, r.principal_id) for r in spare.state.model_roles}
    user_id = next(k for kind, k in granted if kind == "user")
    email = spare.state.users[user_id].email.lower()
    taken = {r.model_id for r in spare.state.model_roles if r.principal_id == user_id}
    other = next(m for m in spare.state.models.values() if m.kind == "SHARED" and m.id not in taken)
    spare.state.model_roles.append(
        st.ModelRole(principal_type="user", principal_id=user_id, model_id=other.id,
                     connection_id=other.connection_id, role_name="VIEWER")
    )  # fmt: skip

    plan, _ = await restore(snap, target, spare.org_token)
    extras = [a for a in plan.actions if a.op == "extra"]
    assert [a.object for a in extras] == [f"{email} VIEWER on {_key(spare.state, other)}"]
    assert "restore leaves it" in extras[0].reason
    report = await report_of(snap, target, spare.org_token)
    roles = report.types["model roles"]
    assert roles.matching == roles.checked and report.ok  # restore promised nothing about it
    assert roles.extras == [
        f"user {email}: VIEWER on {_key(spare.state, other)}: {extras[0].reason}"
    ]
    # a role the snapshot has and the target lost is still a difference
    spare.state.model_roles = [
        r for r in spare.state.model_roles if r.model_id != next(iter(taken))
    ]
    assert not (await report_of(snap, target, spare.org_token)).ok


def _key(state: st.OrgState, model: st.Model) -> str:
    return f"{state.connections[model.connection_id].name}/{model.kind}/{model.name}"


async def test_a_first_restore_reads_each_listing_once_its_trash_included_and_no_favorites(
    start_fake, snapshot_of
):
    """Into an empty standby every document is missing: the target's trash comes in the
    pages of its documents (one walk for the organization, one per user for restricted
    ones), not a second walk per owner; and no favorites are read, since no one has
    favorited a document the target lacks. A restricted document deleted on the target
    since is found in its owner's trash by the next plan, favorites read again."""
    scenario = generate(ScenarioSpec(documents=30, seed=21))
    snap, _ = await snapshot_of(scenario)
    assert snap.source.favorites  # there are favorites to restore
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    users = {u.email.lower() for u in spare.state.users.values() if not u.embed}  # SCIM's
    async with client_for(target, spare.org_token) as client:
        await plan_restore(snap, [client], OmniRestoreOptions())
    assert target.log.count("GET", "/api/v1/documents") == 1 + len(users)
    await restore(snap, target, spare.org_token)

    admin = next(t.user_id for t in spare.state.tokens.values() if t.kind == "org")
    doc = next(
        d
        for d in target.state.documents.values()
        if d.scope == "restricted" and d.owner_id != admin
    )
    doc.deleted = True  # deleted on the target by its owner: in their trash
    before = target.log.count("GET", "/api/v1/documents")
    async with client_for(target, spare.org_token) as client:
        plan = await plan_restore(snap, [client], OmniRestoreOptions())
    imp = next(a for a in plan.actions if a.id == f"document:{doc.identifier}:import")
    assert imp.writes and "in the target's trash" in imp.reason
    live = {d.identifier for d in target.state.documents.values() if not d.deleted}
    favorites = [e for e, f in snap.source.favorites.items() if e in users and live & set(f)]
    assert favorites and target.log.count("GET", "/api/v1/documents") - before == (
        1 + len(users) + len(favorites)  # of those with a favorite the target holds live
    )
